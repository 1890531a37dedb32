"""Screenshots of "Compare with…": the bundled model answers, then a second real model (the
Qwen2.5-Coder-0.5B GGUF that `make install` puts in extra-models, or MODEL given as the first
argument) answers the same question beside it, under Xvfb:

    .venv/bin/python docs/make_compare_screenshots.py [MODEL.gguf]

Saves docs/screenshots/{1440x900,800x600}-light-compare.png. A throwaway data dir.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from shots import OUT, real_window, rerun_under_xvfb, settle, throwaway_data, wait_for

QUESTION = "In two sentences: why do leaves change colour in autumn?"


def second_model() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    return Path(sys.prefix) / "share" / "hearth" / "extra-models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def main() -> int:
    status = rerun_under_xvfb(__file__)
    if status is not None:
        return status
    other = second_model()
    if not other.is_file():
        print(f"No second model at {other}; give a GGUF path.", file=sys.stderr)
        return 1
    data = throwaway_data()

    _app, window = real_window(data, {"threads": 1, "temperature": 0.0, "max_answer_tokens": 90})
    window.show()
    wait_for(window.session.model_ready)
    window.banner.setVisible(False)  # a note about this machine's CPU is not what these show

    chat = window.chat
    chat.ask(QUESTION)
    wait_for(chat.answer_finished, 600)
    answer = chat.view.messages()[-1]
    chat.comparer.compare(answer, str(other))
    wait_for(chat.comparer.finished, 600)
    for width, height in ((1440, 900), (800, 600)):
        window.resize(width, height)
        settle(400)
        window.banner.setVisible(False)
        chat.view.scroll_to_bottom()
        settle(200)
        name = f"{width}x{height}-light-compare.png"
        window.grab().save(str(OUT / name))
        print(f"saved {name}", flush=True)
    stored = chat.store.messages(chat.chat_id)[-1]
    for e in stored.meta["compare"]:
        print(f"--- {e['model']}: {e['stats'].get('tokens_per_s')} tokens/s ---\n{e['text']}", flush=True)
    window.close()
    shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

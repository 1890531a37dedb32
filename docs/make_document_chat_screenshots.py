"""Screenshots of a dropped document's chat: its summary, then a question asked in that chat and
answered from the document's pages (the composer says where answers come from); and a chat whose
answer was cut off by a crash, reopened. The real window, model and embedder, under Xvfb:

    .venv/bin/python docs/make_document_chat_screenshots.py

Saves docs/screenshots/{1440x900,800x600}-light-document-chat.png and -interrupted.png.
A throwaway data dir; the PDF is generated (reportlab).
"""

from __future__ import annotations

import shutil
import sys

from shots import OUT, real_window, rerun_under_xvfb, settle, throwaway_data, wait_for

PAGES = [
    "Tenancy agreement for the flat at 14 Harbour Row. The tenancy starts on 1 March 2026 and runs "
    "for twelve months. The monthly rent is 1,150 euros, due on the first day of each month.",
    "Notice. Either party may end the tenancy after the first six months by giving two months' "
    "notice in writing. The deposit of 2,300 euros is returned within 30 days of the end of the "
    "tenancy, less the cost of any damage beyond normal wear.",
    "Pets are allowed with the landlord's written consent. The tenant keeps the garden tidy and "
    "reports any repair needed within seven days.",
]


def main() -> int:
    status = rerun_under_xvfb(__file__)
    if status is not None:
        return status
    data = throwaway_data()

    from tests.ui.conftest import write_pdf

    docs = data.parent / f"{data.name}-docs"
    docs.mkdir()
    lease = write_pdf(docs / "tenancy_agreement.pdf", PAGES)
    _app, window = real_window(data, {"max_answer_tokens": 160, "temperature": 0.0, "threads": 1})

    def shoot(kind: str) -> None:
        for width, height in ((1440, 900), (800, 600)):
            window.resize(width, height)
            settle(400)
            window.chat.view.scroll_to_bottom()
            settle(200)
            name = f"{width}x{height}-light-{kind}.png"
            window.grab().save(str(OUT / name))
            print(f"saved {name}", flush=True)

    window.show()
    wait_for(window.session.model_ready)
    window.banner.setVisible(False)  # a banner about this machine is not what these pictures show
    window.handle_drop([lease])
    wait_for(window.chat.answer_finished, 300)
    window.chat.ask("How much notice do I have to give?")
    wait_for(window.chat.answer_finished, 300)
    settle(500)
    print("answer:", window.chat.view.messages()[-1].text, flush=True)
    print("composer:", window.chat.view.source_label.text(), flush=True)
    shoot("document-chat")

    # An answer cut off by a crash, as the next start shows it: stored while it streamed, marked.
    store = window.session.chats
    chat = store.create_chat("Lighthouse story", model="SmolLM2-135M-Instruct.Q4_1")
    store.add_message(chat.id, "user", "Write a long story about a lighthouse keeper.")
    store.add_message(
        chat.id,
        "assistant",
        "Once upon a time, on a rocky island far out at sea, an old keeper named Elin tended the "
        "great lamp every night. When the winter storms came, she climbed the",
        {"interrupted": True},
    )
    window.chat.sidebar.refresh()
    window.chat.open_chat(chat.id)
    settle(500)
    shoot("interrupted")
    window.close()
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

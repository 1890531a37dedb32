"""The real window on the bundled model, killed with -9 mid-answer: the answer streamed so far is on
disk, marked "interrupted", and the window shows it so when the chat is opened again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.procs import communicate_within, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]

# The app's own window and session (the real model, planned as on a user's machine); a question is
# typed in once the model is ready, and what the window shows is printed as it streams.
ASK_SCRIPT = """
import json, sys, time
from desktop.services import privacy
privacy.install()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.ui.main_window import MainWindow
window = MainWindow()
window.dialogs_enabled = False
session = window.session
session.settings.set("max_answer_tokens", 2000)
started = []
def ask():
    window.chat.view._submit("Write a very long story about a ship, chapter by chapter.")
    started.append(time.monotonic())
def tick():
    widgets = window.chat.view.messages()
    if started and widgets and widgets[-1].role == "assistant":
        text = widgets[-1].text
        if len(text) >= 120 and time.monotonic() - started[0] > 1.0:
            print("SHOWN " + json.dumps(text), flush=True)
from PySide6.QtCore import QTimer
session.model_ready.connect(lambda *a: QTimer.singleShot(0, ask))
timer = QTimer()
timer.timeout.connect(tick)
timer.start(200)
window.show()
app.exec()
"""

REOPEN_SCRIPT = """
import json
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.ui.main_window import MainWindow
from desktop.ui.chat.sidebar import CHAT_ID
window = MainWindow()
window.dialogs_enabled = False
window.chat.load()
(item,) = window.chat.sidebar.chat_items()
window.chat.open_chat(item.data(CHAT_ID))
w = window.chat.view.messages()[-1]
print("RESULT " + json.dumps({"role": w.role, "text": w.text, "note": w.state.text()}), flush=True)
"""


def _env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HEARTH_DATA_DIR": str(data),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONUNBUFFERED": "1",
    }


def test_kill_9_mid_answer_in_the_window_keeps_what_was_shown_marked_interrupted(data_dir: Path) -> None:
    from desktop.services.selftest import CheckResult, save_results

    env = _env(data_dir)
    # The first-start self-test is not what this is about (it loads an embedder for seconds).
    save_results([CheckResult("stores", True, 0.0, "tests: pre-recorded")])
    proc = subprocess.Popen(
        [sys.executable, "-c", ASK_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        seen = read_until(proc, lambda s: b"SHOWN " in s, timeout=120)
        line = seen.split(b"SHOWN ", 1)[1].split(b"\n", 1)[0]
        shown = json.loads(line)
        time.sleep(0.8)  # more than one save interval after that
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        communicate_within(proc, timeout=10)

    from desktop.services.chats import ChatStore

    store = ChatStore(data_dir / "chats.sqlite")
    try:
        (chat,) = store.chats()
        user, answer = store.messages(chat.id)
        assert user.content.startswith("Write a very long story")
        assert answer.role == "assistant" and answer.meta.get("interrupted") is True
        assert answer.content.startswith(shown[:100]), (shown[:100], answer.content[:100])
    finally:
        store.close()

    # Opened again, the window shows the answer as far as it went, and says it was cut off.
    reopen = subprocess.run(
        [sys.executable, "-c", REOPEN_SCRIPT], capture_output=True, env=env, cwd=REPO, timeout=120
    )
    assert reopen.returncode == 0, reopen.stderr.decode()[-3000:]
    result = json.loads(reopen.stdout.split(b"RESULT ", 1)[1])
    assert result["role"] == "assistant" and result["text"].startswith(shown[:100])
    assert "interrupted" in result["note"]


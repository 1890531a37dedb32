"""Drive the real Hearth window on the real bundled model and save screenshots to docs/screenshots/.

Run under Xvfb (the script re-runs itself under `xvfb-run` when there is no display):

    .venv/bin/python docs/make_screenshots.py

Flows: empty start, a streaming chat, drop-to-summarize, the library with an error row, a cited
answer with the viewer open, settings, privacy. Everything runs in a throwaway data dir; the
documents are generated PDFs. Each picture is `QWidget.grab()` of the live window.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"

ENERGY = [
    "Solar panels on the community hall produced 42 megawatt hours in the first year. The village "
    "council paid for them with a grant from the regional energy fund, and the hall's bills fell by "
    "a third.",
    "Battery storage was added in the second year. It shifts midday solar power into the evening, "
    "when the hall hosts concerts and the weekly market. The battery holds 60 kilowatt hours.",
    "Maintenance costs stayed below two thousand euros a year. The council plans a second array on "
    "the school roof, pending a survey of the roof structure and a vote in the spring.",
]
ORCHARD = [
    "The orchard society planted forty apple trees along the river path in spring. Six varieties "
    "were chosen for their resistance to scab.",
    "Volunteers prune the trees every February and sell the cider at the autumn fair. The first "
    "harvest gave 300 litres.",
]


def write_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(path.stem.replace("_", " ").title())
    for n, text in enumerate(pages, 1):
        c.setFont("Helvetica-Bold", 14)
        c.drawString(60, 790, f"{path.stem.replace('_', ' ').title()} — page {n}")
        c.setFont("Helvetica", 11)
        y = 760
        for line in textwrap.wrap(text, 88):
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def main() -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("HEARTH_SCREENSHOTS_CHILD"):
        if shutil.which("xvfb-run") is None:
            print("Install Xvfb first: apt-get install -y xvfb", file=sys.stderr)
            return 2
        env = {**os.environ, "HEARTH_SCREENSHOTS_CHILD": "1"}
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__]
        return subprocess.call(cmd, env=env)

    data = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    os.environ["HEARTH_DATA_DIR"] = str(data)
    from desktop.services import privacy

    privacy.install()
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.core.settings import SettingsStore
    from desktop.ui.main_window import MainWindow
    from desktop.ui.session import Session
    from desktop.ui.theme import apply_theme

    OUT.mkdir(parents=True, exist_ok=True)
    docs = data.parent / f"{data.name}-docs"
    docs.mkdir()
    energy = write_pdf(docs / "village_energy.pdf", ENERGY)
    write_pdf(docs / "orchard_society.pdf", ORCHARD)
    sys.path.insert(0, str(REPO))
    from tests import pdfs

    pdfs.scanned(docs / "scanned_invoice.pdf")  # image-only pages: no text layer, needs OCR
    pdfs.truncated(docs / "half_downloaded_report.pdf")  # the first half of a PDF, as after a broken download
    # Screenshots on the machine's defaults, kept short so they are quick to make.
    SettingsStore(data / "settings.json").update({"max_answer_tokens": 160, "temperature": 0.2, "threads": 1})

    app = QApplication(sys.argv)
    app.setApplicationName("Hearth")
    apply_theme(app, "light")
    window = MainWindow(Session())
    window.dialogs_enabled = False
    window.resize(1280, 800)

    def wait_for(signal: object, timeout_s: float = 180) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)  # type: ignore[attr-defined]
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        signal.disconnect(loop.quit)  # type: ignore[attr-defined]

    def settle(ms: int = 300) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait_until(check: Callable[[], bool], timeout_s: float = 120) -> None:
        end = time.monotonic() + timeout_s
        while not check() and time.monotonic() < end:
            settle(50)

    def shot(name: str, widget: object = None) -> None:
        settle(250)
        (widget or window).grab().save(str(OUT / f"{name}.png"))  # type: ignore[attr-defined]
        print(f"saved {name}.png", flush=True)

    window.show()
    wait_for(window.session.model_ready)
    shot("01-empty-start")

    # a streaming chat: grab while tokens arrive
    window.chat.ask("Give me three tips for keeping houseplants alive, as a short list.")
    wait_until(lambda: len(window.chat.view.messages()[-1].text) > 120)
    shot("02-streaming-chat")
    if window.chat.answering:
        wait_for(window.chat.answer_finished)

    # drop a PDF: the summary streams into a new chat
    window.chat.new_chat()
    window.handle_drop([energy])
    wait_until(lambda: len(window.chat.view.messages()[-1].text) > 60 or not window.chat.answering, 300)
    shot("03-drop-to-summarize")
    if window.chat.answering:
        wait_for(window.chat.answer_finished, 300)
    shot("03b-summary-done")

    # the library: a folder with a damaged file
    window.handle_drop([docs])
    shot("04a-library-offer")
    window.library.accept_offer()
    wait_for(window.library.indexing_finished, 300)
    window.library.refresh()
    wait_for(window.library.files_changed)
    window.resizeDocks([window.library_dock], [560], Qt.Orientation.Horizontal)
    window.library.select(["scanned_invoice.pdf"])  # its reason and hint in full, in the details pane
    shot("04-library-error-row")

    # a cited answer with the viewer open
    window.chat.new_chat()
    window.library.set_asked(("default",))
    window.chat.set_collections(("default",))
    window.chat.ask("How much energy did the solar panels produce in the first year?")
    wait_for(window.chat.answer_finished)
    answer = window.chat.view.messages()[-1]
    if answer.citations:
        answer.chips_layout.itemAt(0).widget().click()
    window.library_dock.hide()
    shot("05-cited-answer-viewer")

    from desktop.ui.privacy.panel import PrivacyDialog
    from desktop.ui.settings.dialog import SettingsDialog

    settings = SettingsDialog(window.session.settings, window)
    settings.show()
    shot("06-settings", settings)
    settings.close()
    privacy_dialog = PrivacyDialog(window.session, window)
    privacy_dialog.show()
    shot("07-privacy", privacy_dialog)
    privacy_dialog.close()

    apply_theme(app, "dark")
    window.chat.open_chat(window.chat.chat_id or 1)
    shot("08-dark-theme")

    window.close()
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

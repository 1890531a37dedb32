"""Drive the real Hearth window on the real bundled model and save screenshots to docs/screenshots/.

Run under Xvfb (the script re-runs itself under `xvfb-run` when there is no display):

    .venv/bin/python docs/make_screenshots.py

Two sets, each `QWidget.grab()` of the live window (or dialog):

- the README's pictures, 1440×900, light (dark for 08): 01-empty-start … 08-dark-theme;
- the matrix the window is checked against: {1440x900, 800x600} × {light, dark} × {chat,
  cited-answer, summary, library, settings}, named `<size>-<theme>-<scene>.png`.

Everything runs in a throwaway data dir; the documents are generated PDFs (one of them a quarterly
report with a table, so the cited answer shows its evidence row marked in the document pane).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

from shots import OUT, REPO, real_window, rerun_under_xvfb, settle, throwaway_data, wait_for, wait_until

SIZES = ((1440, 900), (800, 600))
THEMES = ("light", "dark")

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
QUESTION = "What were total net sales in the quarter ended July 1, 2023?"


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


def write_quarterly(path: Path) -> Path:
    """A short 10-Q-like report: prose, then a table whose total row answers QUESTION."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    c.setTitle("Orchard Cooperative Quarterly Report")
    c.setFont("Helvetica-Bold", 14)
    c.drawString(60, 740, "Orchard Cooperative — Quarterly Report (Form 10-Q)")
    c.setFont("Helvetica", 10.5)
    y = 712
    for line in textwrap.wrap(
        "The cooperative sells fresh fruit, cider and juice to shops in the region, and services its "
        "members' equipment. Demand for cider grew during the quarter while fresh fruit prices fell. "
        "The figures below are unaudited and in thousands of euros.",
        95,
    ):
        c.drawString(60, y, line)
        y -= 15
    c.showPage()
    c.setFont("Helvetica-Bold", 13)
    c.drawString(60, 740, "Condensed Statements of Operations (unaudited)")
    c.setFont("Helvetica", 10)
    c.drawString(60, 712, "Net sales for the quarters ended July 1, 2023 and June 25, 2022 were as follows:")
    c.setFont("Helvetica-Bold", 10)
    c.drawRightString(420, 688, "July 1, 2023")
    c.drawRightString(520, 688, "June 25, 2022")
    c.setFont("Helvetica", 10)
    y = 668
    for label, a, b in (
        ("Fresh fruit", "$ 60,584", "$ 63,355"),
        ("Cider and juice", "21,213", "19,604"),
        ("Total net sales", "$ 81,797", "$ 82,959"),
        ("Cost of sales", "45,384", "47,074"),
        ("Gross margin", "36,413", "35,885"),
    ):
        # one text object per row, as filings are typeset: text extraction gives the row as a line
        row = c.beginText(60, y)
        row.textOut(label)
        line_start = 60.0  # moveCursor is relative to the start of the current line
        for cell, right in ((a, 420), (b, 520)):
            start = right - c.stringWidth(cell, "Helvetica", 10)
            row.moveCursor(start - line_start, 0)
            line_start = start
            row.textOut(cell)
        c.drawText(row)
        y -= 18
    c.showPage()
    c.save()
    return path


def main() -> int:
    status = rerun_under_xvfb(__file__)
    if status is not None:
        return status
    data = throwaway_data()
    from PySide6.QtWidgets import QWidget

    from desktop.ui.theme import apply_theme

    OUT.mkdir(parents=True, exist_ok=True)
    docs = data.parent / f"{data.name}-docs"
    docs.mkdir()
    energy = write_pdf(docs / "village_energy.pdf", ENERGY)
    write_pdf(docs / "orchard_society.pdf", ORCHARD)
    write_quarterly(docs / "orchard_cooperative_10q.pdf")
    sys.path.insert(0, str(REPO))
    from tests import pdfs

    pdfs.scanned(docs / "scanned_invoice.pdf")  # image-only pages: no text layer, needs OCR
    pdfs.truncated(docs / "half_downloaded_report.pdf")  # the first half of a PDF, as after a broken download
    # Screenshots on the machine's defaults, kept short so they are quick to make.
    app, window = real_window(data, {"max_answer_tokens": 160, "temperature": 0.2, "threads": 1})

    def shot(name: str, widget: QWidget | None = None) -> None:
        settle(300)
        if window.viewer is not None and window.side.showing(window.viewer):
            wait_until(lambda: window.viewer.canvas.is_rendered(window.viewer.page() - 1), 10)
            settle(100)
        (widget or window).grab().save(str(OUT / f"{name}.png"))
        print(f"saved {name}.png", flush=True)

    def close_side() -> None:
        window.close_document()
        window.hide_library()

    window.show()
    wait_for(window.session.model_ready)
    settle(500)  # the messages of the model's start reach the window
    if "remembers this choice" in window.banner.text():
        # This machine's kernel fallback (a virtualized AMX Xeon crashes llama.cpp's fastest
        # kernels), told once, on the first start of a data folder: the picture is of every start
        # after it, as on other CPUs.
        window.banner.setVisible(False)
    shot("01-empty-start")

    # a streaming chat: grab while tokens arrive
    window.chat.ask("Give me three tips for keeping houseplants alive, as a short list.")
    wait_until(lambda: len(window.chat.view.messages()[-1].text) > 120 or not window.chat.answering)
    shot("02-streaming-chat")
    if window.chat.answering:
        wait_for(window.chat.answer_finished)
    chat_id = window.chat.chat_id

    # drop a PDF: the summary streams into a chat of its own, named after the file
    window.handle_drop([energy])
    wait_until(lambda: len(window.chat.view.messages()[-1].text) > 60 or not window.chat.answering, 300)
    shot("03-drop-to-summarize")
    if window.chat.answering:
        wait_for(window.chat.answer_finished, 300)
    summary_id = window.chat.chat_id
    shot("03b-summary-done")

    # the library: a folder with damaged files
    window.handle_drop([docs])
    shot("04a-library-offer")
    window.library.accept_offer()
    wait_for(window.library.indexing_finished, 600)
    window.library.refresh()
    wait_for(window.library.files_changed)
    window.library.select(["scanned_invoice.pdf"])  # its reason and hint in full, in the details pane
    shot("04-library-error-row")

    # a cited answer with the document open beside it, the evidence row marked
    window.chat.new_chat()
    window.library.set_asked(("default",))
    window.chat.set_collections(("default",))
    window.chat.ask(QUESTION)
    wait_for(window.chat.answer_finished, 300)
    cited_id = window.chat.chat_id

    def open_first_used_source() -> None:
        answer = window.chat.view.messages()[-1]
        chips = answer.chip_buttons()
        used = [c for c in chips if c.property("used")] or chips
        if used:
            used[0].click()

    open_first_used_source()
    shot("05-cited-answer-viewer")

    from desktop.ui.privacy.panel import PrivacyDialog
    from desktop.ui.settings.dialog import SettingsDialog

    settings = SettingsDialog(window.session.settings, window, choices={"model": window.model_choices()})
    settings.show()
    shot("06-settings", settings)
    settings.close()
    privacy_dialog = PrivacyDialog(window.session, window)
    privacy_dialog.show()
    shot("07-privacy", privacy_dialog)
    privacy_dialog.close()

    apply_theme(app, "dark")
    shot("08-dark-theme")

    # the matrix: every scene at both sizes in both themes
    for theme in THEMES:
        apply_theme(app, theme)
        for width, height in SIZES:
            window.resize(width, height)
            settle(200)
            prefix = f"{width}x{height}-{theme}"
            close_side()
            window.chat.open_chat(chat_id)
            shot(f"{prefix}-chat")
            window.chat.open_chat(cited_id)
            open_first_used_source()
            shot(f"{prefix}-cited-answer")
            close_side()
            window.chat.open_chat(summary_id)
            shot(f"{prefix}-summary")
            window.show_library()
            window.library.select(["scanned_invoice.pdf"])
            shot(f"{prefix}-library")
            close_side()
            settings = SettingsDialog(
                window.session.settings, window, choices={"model": window.model_choices()}
            )
            settings.tabs.setCurrentIndex(1 if theme == "dark" else 0)  # both pages appear in the set
            settings.show()
            shot(f"{prefix}-settings", settings)
            settings.close()

    window.close()
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(docs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

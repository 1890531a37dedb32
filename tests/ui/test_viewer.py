"""The document pane: the exact evidence row marked (not its lead-in), crisp pages, zoom, fit width,
page navigation, and Find with "n of m" and next/previous."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRectF, Qt

from desktop.ui.viewer.pdf_viewer import PdfViewer, find_span, normalized
from tests.ui.test_window_fixes import ask, cited_answer_factory

LEAD_IN = "Total net sales for the quarters ended July 1, 2023 and June 25, 2022 were as follows:"
ROW = ("Total net sales", "$ 81,797", "$ 82,959")
QUOTE = "Total net sales $ 81,797 $ 82,959"


def write_filing(path: Path) -> Path:
    """Three pages like a 10-Q: a lead-in sentence naming the figure, then a table whose cells are
    drawn apart (so PDF text gives them with gaps). The figure recurs on page 3."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    for page in range(1, 4):
        c.setFont("Helvetica-Bold", 13)
        c.drawString(60, 740, f"Condensed Consolidated Statements of Operations — page {page}")
        c.setFont("Helvetica", 10)
        if page == 2:
            c.drawString(60, 700, LEAD_IN)
            y = 670
            for label, a, b in (
                ("Products", "$ 60,584", "$ 63,355"),
                ("Services", "21,213", "19,604"),
                ROW,
                ("Cost of sales", "45,384", "47,074"),
            ):
                c.drawString(60, y, label)
                c.drawRightString(380, y, a)
                c.drawRightString(480, y, b)
                y -= 18
        else:
            c.drawString(60, 700, "Net sales by category were reported on page 2.")
            if page == 3:
                c.drawString(60, 680, "The quarter's net sales of $ 81,797 million fell 1 % in a year.")
        c.showPage()
    c.save()
    return path


@pytest.fixture
def filing(tmp_path: Path) -> Path:
    return write_filing(tmp_path / "aapl_10q.pdf")


@pytest.fixture
def viewer(qtbot: Any) -> PdfViewer:
    v = PdfViewer()
    qtbot.addWidget(v)
    v.resize(520, 760)
    v.show()
    qtbot.waitExposed(v)
    return v


def row_top(viewer: PdfViewer, text: str, page: int = 1) -> float:
    """The top (points) of the line holding `text` on 0-based `page`, from the PDF's own text."""
    page_text = viewer.document.getAllText(page).text()
    span = find_span(page_text, text)
    assert span is not None, text
    return viewer.document.getSelectionAtIndex(page, span[0], span[1] - span[0]).boundingRectangle().top()


def test_normalized_matching_ignores_case_and_whitespace() -> None:
    text = "Total net sales\t$   81,797\r\n$ 82,959"
    assert find_span(text, "total NET sales $ 81,797 $ 82,959") == (0, len(text))
    assert find_span("Total net sales$81,797", QUOTE.replace("$ 82,959", "")) is not None
    folded, where = normalized("A  b", spaces=True)
    assert folded == "a b" and where == [0, 3, 3]


def test_the_quote_marks_the_table_row_not_the_lead_in(qtbot: Any, viewer: PdfViewer, filing: Path) -> None:
    assert viewer.show_source(filing, 2, snippet=LEAD_IN + " Products $ 60,584", quote=QUOTE)
    assert viewer.page() == 2
    evidence = viewer.canvas.evidence
    assert evidence is not None and evidence.page == 1
    assert " ".join(evidence.text.split()) == QUOTE
    bounds = evidence.bounds()
    assert abs(bounds.top() - row_top(viewer, "Total net sales $ 81,797")) < 3
    assert bounds.bottom() < row_top(viewer, "Cost of sales") + 1, "only the row, not the next one"
    lead_in = row_top(viewer, LEAD_IN)
    assert bounds.top() > lead_in + 10, "not on the lead-in sentence"
    assert bounds.width() > 300, "the whole row, across its cells"


def test_a_quote_whose_cells_come_apart_still_marks_its_row(viewer: PdfViewer, filing: Path) -> None:
    """pypdf and QtPdf may order or space a row's cells differently: the row holding its figure wins."""
    assert viewer.show_source(filing, 2, quote="Total net sales 82,959 81,797 (in millions)")
    evidence = viewer.canvas.evidence
    assert evidence is not None and evidence.how == "row"
    assert abs(evidence.bounds().top() - row_top(viewer, "Total net sales $ 81,797")) < 3


def test_without_a_quote_the_snippet_is_marked(viewer: PdfViewer, filing: Path) -> None:
    assert viewer.show_source(filing, 2, snippet="Services 21,213 19,604 Total")
    evidence = viewer.canvas.evidence
    assert evidence is not None and evidence.how in ("snippet", "words")
    assert viewer.found


def test_the_evidence_is_drawn_in_a_strong_colour_on_screen(
    qtbot: Any, viewer: PdfViewer, filing: Path
) -> None:
    with qtbot.waitSignal(viewer.canvas.rendered, timeout=10_000):
        viewer.show_source(filing, 2, quote=QUOTE)
    qtbot.waitUntil(lambda: viewer.canvas.is_rendered(1), timeout=10_000)
    area = viewer.evidence_in_view()
    assert not area.isEmpty(), "the evidence is scrolled into view"
    shot = viewer.pages_area.viewport().grab().toImage()
    marked = 0
    for x in range(int(area.left()), int(area.right()), 2):
        for y in range(int(area.top()), int(area.bottom())):
            c = shot.pixelColor(x, y)
            marked += c.red() > 220 and c.green() > 170 and c.blue() < 110  # marker yellow
    assert marked > area.width() * area.height() / 2 * 0.5, "most of the row is yellow"


def test_pages_render_at_the_device_pixel_ratio_and_zoom_changes_them(
    qtbot: Any, viewer: PdfViewer, filing: Path
) -> None:
    viewer.show_source(filing, 1)
    qtbot.waitUntil(lambda: viewer.canvas.is_rendered(0), timeout=10_000)
    page = viewer.canvas.page_rect(0)
    ratio = viewer.canvas.devicePixelRatioF()
    image = viewer.canvas._images[0]
    assert image.width() == round(page.width() * ratio), "drawn 1:1 on the screen's pixels, never scaled up"
    # fit width: the text column fills the pane (the page's empty margins are cut off)
    room = viewer.pages_area.viewport().width()
    assert viewer.fit and room - 60 <= viewer.canvas.width() <= room
    assert page.width() >= viewer.canvas.width() - 2 * 12
    before = page.width()
    viewer.zoom_in()
    assert not viewer.fit and viewer.canvas.page_rect(0).width() > before
    qtbot.waitUntil(lambda: viewer.canvas.is_rendered(viewer.page() - 1), timeout=10_000)
    viewer.zoom_out()
    viewer.zoom_out()
    assert viewer.canvas.page_rect(0).width() < before
    assert viewer.zoom_label.text().endswith("%")
    viewer.fit_button.click()
    assert viewer.fit and abs(viewer.canvas.page_rect(0).width() - before) < 2


def test_the_evidence_stays_in_view_when_the_pane_is_shown_and_resized_later(
    qtbot: Any, viewer: PdfViewer, filing: Path
) -> None:
    viewer.hide()
    viewer.show_source(filing, 2, quote=QUOTE)  # asked while hidden (a pane about to open)
    viewer.resize(700, 500)
    viewer.show()
    qtbot.waitExposed(viewer)
    qtbot.wait(150)  # the refit after showing
    assert not viewer.evidence_in_view().isEmpty()
    viewer.resize(360, 500)
    qtbot.wait(150)
    assert not viewer.evidence_in_view().isEmpty()


def test_page_navigation(qtbot: Any, viewer: PdfViewer, filing: Path) -> None:
    viewer.show_source(filing, 1)
    assert viewer.page() == 1 and not viewer.prev_button.isEnabled()
    viewer.next_button.click()
    assert viewer.page() == 2 and viewer.page_box.text() == "2"
    viewer.page_box.setText("3")
    viewer.page_box.editingFinished.emit()
    assert viewer.page() == 3 and not viewer.next_button.isEnabled()
    assert viewer.page_label.text() == "of 3"


def test_find_counts_hits_and_steps_through_them(qtbot: Any, viewer: PdfViewer, filing: Path) -> None:
    viewer.show_source(filing, 1)
    viewer.find_box.setText("81,797")
    qtbot.keyClick(viewer.find_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: viewer.find_count.text() == "1 of 2", timeout=5000)
    assert viewer.page() == 2
    viewer.find_next_button.click()
    assert viewer.find_count.text() == "2 of 2" and viewer.page() == 3
    viewer.find_next_button.click()
    assert viewer.find_count.text() == "1 of 2" and viewer.page() == 2, "wraps round"
    viewer.find_prev_button.click()
    assert viewer.find_count.text() == "2 of 2"
    assert viewer.canvas.hits[viewer.canvas.current_hit][0] == 2
    viewer.find_box.setText("no such words anywhere")
    qtbot.waitUntil(lambda: viewer.find_count.text() == "No match", timeout=5000)


def test_a_chip_opens_the_document_beside_the_chat_with_the_row_marked(
    qtbot: Any, make_window: Any, filing: Path
) -> None:
    window = make_window()
    window.resize(1440, 900)
    cite = {
        "n": 1,
        "doc_id": "sha",
        "title": "AAPL 10-Q",
        "path": str(filing),
        "page": 2,
        "snippet": LEAD_IN,
        "quote": QUOTE,
        "used": True,
    }
    window.chat.answer_job_factory = cited_answer_factory([cite], "Total net sales were $81,797 million [1].")
    ask(qtbot, window, "What were total net sales?")
    window.chat.view.messages()[-1].chip_buttons()[0].click()
    viewer = window.viewer
    assert viewer is not None and window.side.showing(viewer)
    assert window.split.indexOf(window.side) == 1, "a pane of the window's splitter, not a dock"
    assert viewer.height() > 500 and viewer.width() >= 400
    assert window.chat.view.width() >= 420, "the chat stays readable beside it"
    assert " ".join(viewer.found.split()) == QUOTE
    window.library.refresh()
    window.show_library()  # the library and the document share the pane as tabs: each gets all of it
    assert window.library_visible() and window.library.height() > 500
    window.side.setCurrentWidget(viewer)
    assert viewer.height() > 500
    window.close_document()
    assert not window.side.showing(viewer) and window.library_visible()


def test_evidence_rects_map_to_the_page_on_screen(viewer: PdfViewer, filing: Path) -> None:
    viewer.show_source(filing, 2, quote=QUOTE)
    evidence = viewer.canvas.evidence
    assert evidence is not None
    on_screen = viewer.canvas.to_widget(evidence.page, evidence.bounds())
    page = viewer.canvas.page_rect(evidence.page)
    assert page.contains(on_screen)
    assert isinstance(on_screen, QRectF)

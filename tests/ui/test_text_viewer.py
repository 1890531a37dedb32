"""The text view: a citation into a document that is not a PDF opens it at its section with the
evidence marked; PDFs keep the QtPdf view; a dropped note is summarized, a photo is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor

from desktop.ui import theme
from desktop.ui.main_window import drop_hint
from tests import documents

QUOTE = "Turn the compost heap every three weeks with a fork."


def test_a_citation_into_a_markdown_note_opens_the_text_view_with_the_passage_marked(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    note = documents.garden_md(tmp_path / "garden.md")
    window = make_window()
    window.resize(1180, 760)
    citation = {"n": 1, "path": str(note), "page": 3, "snippet": QUOTE + " A good mix is", "quote": QUOTE}
    window.chat.open_source.emit(citation)  # what a click on the source chip sends
    viewer = window.text_viewer
    assert viewer is not None and window.side.showing(viewer)
    assert window.viewer is None  # the QtPdf view is for PDFs only
    assert window.side.tabText(window.side.indexOf(viewer)) == "garden.md"
    # The note is read off the GUI thread (io lane), then shown at the cited section.
    assert viewer.text.placeholderText() == "Reading garden.md…"
    qtbot.waitUntil(lambda: viewer.page_count() == 4, timeout=10_000)
    assert viewer.unit == "section"
    qtbot.waitUntil(lambda: viewer.page() == 3, timeout=3000)
    assert viewer.page_label.text() == "Section 3 of 4"
    # The exact sentence is marked black on the evidence yellow, and it is on screen.
    assert viewer.found == QUOTE
    marks = viewer.text.extraSelections()
    assert len(marks) == 1 and marks[0].cursor.selectedText() == QUOTE
    assert marks[0].format.background().color() == QColor(theme.current.evidence)
    assert marks[0].format.foreground().color() == QColor("#000000")
    qtbot.waitUntil(viewer.evidence_visible, timeout=3000)
    # Find works in the text view too.
    viewer.find_box.setText("compost")
    assert viewer.hit_count() == 2 and viewer.find_count.text() == "2 found"
    viewer.find_next()
    assert viewer.find_count.text() == "1 of 2"
    # A citation whose quote is not on its section falls back to the snippet's words nearby.
    snippet = "The beehive by the shed holds a Buckfast colony, the keeper's log says"
    window.open_source({"path": str(note), "page": 4, "snippet": snippet, "quote": ""})
    qtbot.waitUntil(lambda: viewer.page() == 4, timeout=3000)
    assert viewer.found == "The beehive by the shed holds"
    viewer.close_button.click()
    assert not window.side.showing(viewer)


def test_a_citation_into_a_word_file_opens_at_its_page_and_a_vanished_one_says_why(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    contract = documents.contract_docx(tmp_path / "contract.docx")
    window = make_window()
    quote = "Either party may terminate this agreement by giving ninety (90) days' written notice"
    window.open_source({"path": str(contract), "page": 2, "snippet": "", "quote": quote})
    viewer = window.text_viewer
    qtbot.waitUntil(lambda: viewer.found == quote, timeout=20_000)  # parsed in a worker process
    assert viewer.page() == 2 and viewer.page_label.text() == "Page 2 of 3"
    # The file turns into junk after it was indexed: the pane says why instead of showing nothing.
    contract.write_text("no longer a Word file")
    window.open_source({"path": str(contract), "page": 2, "snippet": "", "quote": quote})
    qtbot.waitUntil(viewer.title.isVisible, timeout=20_000)
    assert "Cannot open contract.docx" in viewer.title.text() and "not a Word document" in viewer.title.text()
    assert viewer.page_count() == 0


def test_a_dropped_note_is_summarized_and_a_photo_is_refused(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    note = documents.garden_md(tmp_path / "garden.md")
    assert drop_hint([note]) == "Drop to summarize garden.md"
    assert drop_hint([tmp_path / "contract.docx"]) == "Drop to summarize contract.docx"
    window = make_window()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    window.handle_drop([photo])
    qtbot.waitUntil(lambda: "cannot read photo.jpg" in window.banner.text(), timeout=3000)
    assert "Markdown" in window.banner.text()
    with qtbot.waitSignal(window.chat.answer_finished, timeout=60_000) as done:
        window.handle_drop([note])
    assert done.args == ["succeeded"]
    answer = window.chat.view.messages()[-1]
    assert answer.property("source_path") == str(note)


@pytest.mark.slow
def test_a_library_document_is_summarized_from_its_stored_pages(
    qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.services import readers
    from tests.ui.test_library import index

    note = documents.garden_md(tmp_path / "garden.md")
    window = make_window()
    index(qtbot, window, [note])
    assert window.library.status_of("garden.md") == "ready"

    def no_reading(*_: Any, **__: Any) -> Any:
        raise AssertionError("the file was read again")

    monkeypatch.setattr(readers, "extract", no_reading)
    window.library.select(["garden.md"])
    with qtbot.waitSignal(window.chat.answer_finished, timeout=60_000) as done:
        assert window.library.summarize_selected()
    assert done.args == ["succeeded"]

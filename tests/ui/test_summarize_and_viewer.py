"""Drop a PDF → a streamed summary with clickable page references → the viewer opens that page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop.ui.viewer.pdf_viewer import PdfViewer, passage_candidates
from tests.ui.conftest import real_factory


def test_passage_candidates_go_from_long_runs_to_short_ones() -> None:
    runs = passage_candidates("Battery storage was added in the second year.", longest=5, shortest=3)
    assert runs[0] == "Battery storage was added in"
    assert all(3 <= len(r.split()) <= 5 for r in runs)
    assert passage_candidates("") == []


def test_viewer_opens_the_page_and_finds_the_passage(qtbot: Any, report_pdf: Path) -> None:
    viewer = PdfViewer()
    qtbot.addWidget(viewer)
    viewer.resize(500, 700)
    viewer.show()
    snippet = "It shifts midday solar power into the evening,\nwhen the hall hosts concerts"
    assert viewer.show_source(report_pdf, 2, snippet)
    assert viewer.page() == 2
    assert viewer.found and viewer.found.split()[0] in snippet
    assert viewer.page_box.text() == "2" and viewer.page_label.text() == "of 3"
    assert not viewer.show_source(report_pdf.with_name("missing.pdf"), 1, "")
    assert "Cannot open" in viewer.title.text()


def test_dropping_a_pdf_summarizes_it_into_the_chat(qtbot: Any, make_window: Any, report_pdf: Path) -> None:
    window = make_window()  # the scripted model: checks the flow, not the summary's quality
    window.chat.summary_ranker = None
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(report_pdf))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000) as done:
        window.dropEvent(event)
    assert done.args == ["succeeded"]
    user, _answer = window.chat.view.messages()
    assert user.text == "Summarize village_energy.pdf"
    stored = window.chat.store.messages(window.chat.chat_id)[-1]
    assert stored.meta["kind"] == "summary" and stored.meta["source"] == str(report_pdf)


@pytest.mark.slow
def test_real_summary_streams_with_page_links_that_open_the_viewer(
    qtbot: Any, make_window: Any, model_path: Path, cpu_plan: Any, report_pdf: Path
) -> None:
    window = make_window(factory=real_factory(model_path, cpu_plan))
    window.chat.summary_ranker = None  # word-overlap centrality: the embedder is tested elsewhere
    states: list[str] = []
    window.chat.answer_started.connect(
        lambda h: h.progressed.connect(lambda ev: states.append(type(ev).__name__))
    )
    with qtbot.waitSignal(window.chat.answer_finished, timeout=120_000) as done:
        window.handle_drop([report_pdf])
    assert done.args == ["succeeded"]
    assert "Progress" in states
    answer = window.chat.view.messages()[-1]
    html = answer.body.toHtml()
    assert "page:" in html, answer.text  # page references became links
    page = int(html.split('href="page:', 1)[1].split('"', 1)[0])
    answer._on_anchor(QUrl(f"page:{page}"))  # what a click on the link does
    assert window.viewer is not None and window.side.showing(window.viewer)
    assert window.viewer.page() == page
    # the summary is kept and reopens with its links
    window.chat.open_chat(window.chat.chat_id)
    assert "page:" in window.chat.view.messages()[-1].body.toHtml()


def test_stop_cancels_a_summary(qtbot: Any, make_window: Any, fake_runtime: Any, report_pdf: Path) -> None:
    fake_runtime.delay_s = 0.05
    window = make_window()
    window.chat.summary_ranker = None
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000) as done:
        window.chat.summarize(report_pdf)
        qtbot.wait(50)
        qtbot.keyClick(window.chat.view.composer, Qt.Key.Key_Escape)
    assert done.args == ["cancelled"]
    assert not window.chat.answering


@pytest.mark.slow
def test_a_question_after_a_dropped_pdf_is_answered_from_that_pdf(
    qtbot: Any, make_window: Any, report_pdf: Path, tmp_path: Path
) -> None:
    """Drop a PDF, get its summary, then ask about it: the answer comes from that PDF's pages (it is
    added to the library's "Opened files" on the first question, and the user is told), not from
    the model alone, and not from another document of the library."""
    from desktop.ui import messages
    from desktop.ui.chat.panel import OPENED_COLLECTION
    from tests.ui.conftest import write_pdf

    other = write_pdf(
        tmp_path / "other.pdf",
        ["The harbour battery bank stores four megawatt hours for the fish market in winter."],
    )
    window = make_window()  # the scripted model: the evidence, not the model, answers here
    window.chat.summary_ranker = None
    handle = window.library.add([other])  # a library that holds another battery document
    qtbot.waitUntil(lambda: handle.done, timeout=120_000)
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000):
        window.handle_drop([report_pdf])
    assert "Answers from village_energy.pdf" in window.chat.view.source_label.text()
    posted: list[str] = []
    messages.set_sink(lambda m: posted.append(m.text))
    with qtbot.waitSignal(window.chat.answer_finished, timeout=120_000) as done:
        window.chat.ask("What does the battery storage do?")
    assert done.args == ["succeeded"]
    answer = window.chat.view.messages()[-1]
    assert "Battery storage" in answer.text and "village_energy, p. 2" in answer.text, answer.text
    assert "harbour" not in answer.text
    assert answer.citations and {c["path"] for c in answer.citations} == {str(report_pdf)}
    assert "model alone" not in answer.state.text()
    assert any(OPENED_COLLECTION in text for text in posted), posted
    rows = window.session.library_on_lane().files(OPENED_COLLECTION)
    assert [r.path for r in rows] == [str(report_pdf.resolve())] and rows[0].status == "ready"
    # Asked again, it is found at once: not added twice.
    with qtbot.waitSignal(window.chat.answer_finished, timeout=120_000):
        window.chat.ask("Who paid for the solar panels?")
    again = window.chat.view.messages()[-1]
    assert again.citations and {c["path"] for c in again.citations} == {str(report_pdf)}
    assert len(window.session.library_on_lane().files(OPENED_COLLECTION)) == 1


def test_summaries_and_questions_share_the_one_embedder_on_the_index_lane(
    qtbot: Any, make_window: Any, report_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9: the window built a second all-MiniLM for every summary, outside any lane. Now a
    summary's key points are scored by the session's embedder, on the index lane, which the library
    then indexes and searches with: two summaries and a question, one Embedder."""
    import threading

    from desktop.services import embeddings
    from tests.embedder import shared_embedder

    made: list[str] = []
    encoded_on: set[str] = set()
    real = shared_embedder()

    class Counted:
        def __init__(self, *a: Any, **k: Any) -> None:
            made.append(threading.current_thread().name)
            self.dim = real.dim

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def encode(self, texts: Any, batch_size: int = 64) -> Any:
            encoded_on.add(threading.current_thread().name)
            return real.encode(texts, batch_size=batch_size)

    monkeypatch.setattr(embeddings, "Embedder", Counted)
    window = make_window()
    for _ in range(2):
        with qtbot.waitSignal(window.chat.answer_finished, timeout=60_000) as done:
            window.chat.summarize(report_pdf)
        assert done.args == ["succeeded"]
        stored = window.chat.store.messages(window.chat.chat_id)[-1]
        assert stored.meta["kind"] == "summary" and stored.content
    with qtbot.waitSignal(window.chat.answer_finished, timeout=60_000) as done:
        window.chat.ask("How much did the solar panels produce in the first year?")
    assert done.args == ["succeeded"]
    assert len(made) == 1, made
    assert made[0].startswith("hearth-index") and all(n.startswith("hearth-index") for n in encoded_on), (
        made,
        encoded_on,
    )


PASTED = (
    "The parish council met on Tuesday to discuss the new footpath along the river. Residents asked "
    "for lighting near the bridge and for a bench at the viewpoint. The council agreed to fund the "
    "lighting from the maintenance budget and to ask the county for a grant for the bench.\n\n"
    "The next meeting is on the first Monday of March. Minutes will be posted in the village hall."
)


def test_pasted_text_is_summarized_in_a_chat_of_its_own(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pasted text and the summary modes were CLI-only (issue 9): File → Summarize pasted text
    starts from the clipboard, and the summary is the same use case as `hearth summarize -`."""
    from PySide6.QtGui import QGuiApplication

    from desktop.ui.paste_dialog import MIN_WORDS, PasteDialog

    QGuiApplication.clipboard().setText("too short")
    dialog = PasteDialog()
    qtbot.addWidget(dialog)
    assert dialog.pasted() == "too short" and not dialog.summarize_button.isEnabled()
    assert f"at least {MIN_WORDS}" in dialog.count.text()
    QGuiApplication.clipboard().setText(PASTED)
    dialog = PasteDialog()
    qtbot.addWidget(dialog)
    assert dialog.summarize_button.isEnabled() and dialog.summarize_button.isDefault()

    window = make_window()
    window.chat.summary_ranker = None
    window.session.settings.set("summary_mode", "grounded")
    monkeypatch.setattr(PasteDialog, "exec", lambda self: PasteDialog.DialogCode.Accepted)
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000) as done:
        window.paste_action.trigger()
    assert done.args == ["succeeded"]
    chat = window.chat.store.chat(window.chat.chat_id)
    assert chat.title == "Pasted text"
    request, summary = window.chat.store.messages(chat.id)
    assert request.content == f"Summarize pasted text ({len(PASTED.split())} words)"
    assert summary.meta["kind"] == "summary" and summary.meta["stats"]["mode"] == "grounded"
    assert "footpath" in summary.content or "lighting" in summary.content


def test_a_dropped_pdf_is_read_on_the_io_lane(
    qtbot: Any, make_window: Any, report_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9: PDF parsing on the io lane (the llm lane only waits for the pages to summarize).
    Its progress is the job's own events: tests/cli/test_summarize_cli.py checks them per page."""
    import threading

    from desktop.services import readers

    real_reader_for = readers.reader_for
    read_on: list[str] = []

    class Recorded:
        def __init__(self, path: Any) -> None:
            self._reader = real_reader_for(path)
            self.kind = self._reader.kind

        def extract(self, *a: Any, **k: Any) -> Any:
            read_on.append(threading.current_thread().name)
            return self._reader.extract(*a, **k)

    monkeypatch.setattr(readers, "reader_for", Recorded)
    window = make_window()
    window.chat.summary_ranker = None
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000) as done:
        window.chat.summarize(report_pdf)
    assert done.args == ["succeeded"]
    assert read_on and read_on[0].startswith("hearth-io"), read_on

"""The library panel and cited answers on the real services: Chroma, the bundled embedder, the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.core.events import Sources
from tests.ui.conftest import PAGES, real_factory, write_pdf
from tests.ui.test_real_model import StallMeter

OTHER = [
    "The orchard society planted forty apple trees along the river path in spring.",
    "Volunteers prune the trees every February and sell the cider at the autumn fair.",
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "village_energy.pdf")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF\n")
    return docs


def index(qtbot: Any, window: Any, paths: list[Path], timeout: int = 120_000) -> None:
    with qtbot.waitSignal(window.library.indexing_finished, timeout=timeout) as done:
        window.library.add(paths)
    assert done.args == ["succeeded"]
    with qtbot.waitSignal(window.library.files_changed, timeout=10_000):
        window.library.refresh()


def test_dropping_a_folder_offers_to_add_it_and_shows_each_files_status(
    qtbot: Any, make_window: Any, folder: Path
) -> None:
    window = make_window()
    window.handle_drop([folder])
    assert window.library_visible()
    assert window.library.offer.isVisibleTo(window) and "docs" in window.library.offer_label.text()
    with qtbot.waitSignal(window.library.indexing_finished, timeout=120_000) as done:
        window.library.accept_offer()
    assert done.args == ["succeeded"]
    # (re-reads during the run show the broken file failed while the other still waits its turn)
    qtbot.waitUntil(
        lambda: (
            window.library.status_of("broken.pdf") == "error"
            and window.library.status_of("village_energy.pdf") == "ready"
        ),
        timeout=10_000,
    )
    rows = {
        window.library.files.topLevelItem(i).text(0): window.library.files.topLevelItem(i)
        for i in range(window.library.files.topLevelItemCount())
    }
    assert rows["village_energy.pdf"].text(2) == "3"
    assert rows["broken.pdf"].text(3), "an error row says why"
    # remove, then the file is gone from the list
    window.library.select(["broken.pdf"])
    window.library.remove()
    qtbot.waitUntil(lambda: window.library.status_of("broken.pdf") == "", timeout=10_000)
    assert window.library.status_of("village_energy.pdf") == "ready"


@pytest.mark.slow
def test_cited_answer_while_a_folder_indexes_never_stalls_and_opens_the_page(
    qtbot: Any, make_window: Any, folder: Path, tmp_path: Path, model_path: Path, cpu_plan: Any
) -> None:
    window = make_window(factory=real_factory(model_path, cpu_plan))
    window.session.settings.update({"max_answer_tokens": 32, "temperature": 0.0})
    index(qtbot, window, [folder / "village_energy.pdf"])
    window.library.set_asked(("default",))
    window.chat.set_collections(("default",))
    if window.session.model is None:  # the question must find the model ready, not wait for its
        with qtbot.waitSignal(window.session.model_ready, timeout=180_000):  # load (slow on a
            pass  # busy machine, and longer where the first kernels crash) while the folder indexes

    more = tmp_path / "more"
    more.mkdir()
    for i in range(20):
        write_pdf(more / f"orchard_{i}.pdf", [f"Report {i}. " + p for p in OTHER] * 3)

    sources: list[Any] = []
    indexing_when_sources: list[bool] = []

    def on_event(ev: Any) -> None:
        if isinstance(ev, Sources):
            sources.append(ev)
            indexing_when_sources.append(not indexing.done)

    window.chat.answer_started.connect(lambda h: h.progressed.connect(on_event))
    meter = StallMeter()
    meter.start()
    indexing = window.library.add([more])
    qtbot.wait(100)  # the question a moment later, as a person asks it: not in the same 5 ms tick
    with qtbot.waitSignal(window.chat.answer_finished, timeout=120_000) as done:
        window.chat.ask("How many megawatt hours did the solar panels produce?")
    assert done.args == ["succeeded"]
    assert indexing_when_sources == [True], "the search ran while the folder was still indexing"
    if not indexing.done:
        with qtbot.waitSignal(window.library.indexing_finished, timeout=180_000):
            pass
    meter.stop()
    meter.check()

    assert sources and sources[0].citations, "sources arrive before the answer"
    answer = window.chat.view.messages()[-1]
    assert answer.chips.isVisibleTo(window)
    assert "village_energy.pdf" in answer.citations[0]["path"]
    stored = window.chat.store.messages(window.chat.chat_id)[-1]
    assert stored.meta["citations"][0]["page"] >= 1
    # clicking the first chip opens the PDF at the cited page, with the passage found
    first = answer.citations[0]
    chip = answer.chips_layout.itemAt(0).widget()
    chip.click()
    assert window.viewer is not None and window.side.showing(window.viewer)
    assert window.viewer.page() == first["page"]
    assert window.viewer.found, "the cited passage was found on the page"


def test_deleting_a_whole_collection_asks_first_and_keeps_the_pdfs(
    qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = make_window()
    library = window.library
    orchard = write_pdf(tmp_path / "orchard.pdf", OTHER)
    energy = write_pdf(tmp_path / "village_energy.pdf")
    with qtbot.waitSignal(library.indexing_finished, timeout=120_000):
        library.add([orchard], collection="orchard")
    with qtbot.waitSignal(library.indexing_finished, timeout=120_000):
        library.add([energy], collection="default")
    with qtbot.waitSignal(library.files_changed, timeout=10_000):
        library.refresh()
    library.collection.setCurrentText("orchard")
    library.set_asked(("default", "orchard"))
    asked: list[tuple[str, ...]] = []
    library.asked_changed.connect(asked.append)

    questions: list[str] = []

    def answer(reply: Any) -> Any:
        def question(_parent: Any, _title: str, text: str, _buttons: Any, default: Any) -> Any:
            assert default == QMessageBox.StandardButton.No, "Enter keeps the collection"
            questions.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    assert library.remove_collection() is None
    assert "“orchard” and its 1 file(s)" in questions[-1] and "stay" in questions[-1]
    assert "orchard" in library.collections and library.status_of("orchard.pdf") == "ready"

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(library.collection_removed, timeout=30_000):
        library.remove_collection()
    assert "orchard" not in library.collections
    # the file list is re-read after the removal (a re-read already in flight may land first)
    qtbot.waitUntil(lambda: library.status_of("orchard.pdf") == "", timeout=10_000)
    assert [library.collection.itemText(i) for i in range(library.collection.count())] == ["default"]
    assert library.status_of("village_energy.pdf") == "ready", "other collections are untouched"
    assert orchard.is_file(), "the PDF itself stays on disk"
    assert asked[-1] == ("default",), "the open chat no longer asks the deleted collection"
    stored: list[Any] = []
    window.session.library_call(
        lambda lib: (lib.collections(), lib.files("orchard")), on_succeeded=stored.append
    )
    qtbot.waitUntil(lambda: bool(stored), timeout=10_000)
    assert stored[0] == (["default"], []), "gone from the store too, not only from the panel"


def test_the_row_being_indexed_shows_its_own_pages_and_reindex_rereads_a_fixed_file(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    window = make_window()
    library = window.library
    warm_up = write_pdf(tmp_path / "warm_up.pdf", OTHER)  # loads the embedder: batches come steadily after
    with qtbot.waitSignal(library.indexing_finished, timeout=120_000):
        library.add([warm_up])
    # 60 long pages: several embedding batches, so the file is seen part-way through
    text = " ".join(PAGES)
    long_report = write_pdf(tmp_path / "long_report.pdf", [f"{text} Section {i}." for i in range(60)])
    fixed_later = tmp_path / "fixed_later.pdf"
    fixed_later.write_bytes(b"%PDF-1.4\nhalf a download\n")
    progress: list[tuple[str, int, int]] = []
    shown: list[str] = []
    library.file_progress.connect(lambda path, done, total: progress.append((path, done, total)))
    library.file_progress.connect(lambda *_: shown.append(library.row_status_text("long_report.pdf")))
    with qtbot.waitSignal(library.indexing_finished, timeout=120_000) as done:
        library.add([long_report, fixed_later])
    assert done.args == ["succeeded"]
    mine = [p for p in progress if p[0] == str(long_report.resolve())]
    assert mine, "progress events name the file being indexed"
    assert all(d <= t for _p, d, t in mine if t), "a file's pages done never pass its page count"
    assert [d for _p, d, _t in mine] == sorted(d for _p, d, _t in mine), "and only go forward"
    assert any(t == 60 for _p, _d, t in mine), ("its own page count (60), not the whole run's", progress)
    assert any(s.startswith("indexing ") and s.endswith("/60 pages") for s in shown), shown
    qtbot.waitUntil(lambda: library.status_of("fixed_later.pdf") == "error", timeout=10_000)
    assert library.row_status_text("long_report.pdf") == "ready"

    # the user fixes the file and presses Re-index: read again from disk, now ready
    write_pdf(fixed_later)
    library.select(["fixed_later.pdf"])
    progress.clear()
    with qtbot.waitSignal(library.indexing_finished, timeout=120_000) as done:
        library.reindex_button.click()
    assert done.args == ["succeeded"]
    qtbot.waitUntil(lambda: library.status_of("fixed_later.pdf") == "ready", timeout=10_000)
    assert {p[0] for p in progress} <= {str(fixed_later.resolve())}, "only the selected file was re-read"
    assert library.count_text() == "3 documents ready"


def test_the_windows_retriever_cites_the_page_that_holds_the_match(
    qtbot: Any, make_window: Any, folder: Path
) -> None:
    from desktop.core import rag
    from desktop.core.jobs import CancelToken

    window = make_window()
    index(qtbot, window, [folder / "village_energy.pdf"])
    retriever = window.session.retriever(CancelToken())
    question = "When was battery storage added to the hall?"
    found = rag.retrieve(retriever, question, ("default",), k=3)
    assert found.found
    first = found.records[0]
    assert first.page_end > first.page_start, "the short PDF is one passage spanning its pages"
    # Without page texts the passage would be cited at its first page; the window passes them.
    assert rag.cited_pages(retriever, question, found.records)[0] == 2


def test_summarize_a_ready_library_file_from_the_panel(
    qtbot: Any, make_window: Any, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    index(qtbot, window, [folder])
    asked: list[Path] = []
    monkeypatch.setattr(window.chat, "summarize", lambda path: asked.append(path))
    # A file that could not be read is not offered for a summary.
    window.library.select(["broken.pdf"])
    assert not window.library.summarize_selected()
    window.library.select(["village_energy.pdf"])
    with qtbot.waitSignal(window.library.summarize_requested, timeout=5_000) as sig:
        window.library.summarize_button.click()
    assert sig.args[0].endswith("village_energy.pdf")
    assert asked == [Path(sig.args[0])]


def test_the_count_is_read_from_the_store_after_adding_again_and_after_relaunch(
    qtbot: Any, make_window: Any, folder: Path
) -> None:
    """Issue 8: "0 document(s) ready, 2 could not be read" while 12 were ready: the count was the
    last run's, not the library's."""
    expected = "1 document ready · 1 could not be read"
    window = make_window()
    index(qtbot, window, [folder])
    assert window.library.count_label.text() == expected
    index(qtbot, window, [folder])  # everything already indexed: this run made nothing ready
    assert window.library.count_label.text() == expected
    window.close()
    again = make_window()  # a relaunch: the panel fills in from the store after the first frame
    qtbot.waitUntil(lambda: again.library.count_label.text() == expected, timeout=30_000)


def test_closing_the_window_while_it_indexes_raises_nothing_late(
    qtbot: Any, make_window: Any, folder: Path
) -> None:
    """The close cancels the index job; its late "cancelled" must not start a refresh on the shut
    runner (a dry run's teardown saw "RuntimeError: the job runner is shut down" from that slot)."""
    window = make_window()
    window.show_library()
    handle = window.library.add([folder])
    window.close()
    qtbot.waitUntil(lambda: handle.done, timeout=30_000)
    qtbot.wait(300)  # late, queued signals arrive here; an exception in a slot fails the test
    assert window.session.runner.closed

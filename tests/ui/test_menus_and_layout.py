"""File → Open…, About, a PDF's own chat, the 800×600 layout, reading-order Tab, message actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox, QToolButton

from desktop import __version__
from tests.ui.test_window_fixes import ask, citation, cited_answer_factory


def menu_texts(window: Any) -> dict[str, list[str]]:
    out = {}
    for action in window.menuBar().actions():
        menu = action.menu()
        out[action.text().replace("&", "")] = [a.text() for a in menu.actions() if a.text()]
    return out


def test_file_menu_opens_starts_a_chat_and_quits(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    menus = menu_texts(window)
    assert menus["File"][:2] == ["Open…", "New chat"] and menus["File"][-1] == "Quit"
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    assert "About Hearth" in menus["Help"]


def test_help_shows_about_with_version_and_privacy_not_the_welcome(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    window.about_action.trigger()
    box = window.about_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert __version__ in box.text()
    assert "never leave" in box.informativeText() and "no network calls" in box.informativeText()
    assert "Welcome" not in box.text() + box.informativeText()
    box.done(0)


def test_open_offers_summarize_or_library_with_summarize_as_the_default(
    qtbot: Any, make_window: Any, report_pdf: Path
) -> None:
    window = make_window()
    window.chat.summary_ranker = None
    window.open_pdf(report_pdf)
    box = window.open_choice
    assert isinstance(box, QMessageBox) and box.isVisible()
    names = [b.text() for b in box.buttons()]
    assert "Summarize now" in names and "Add to library" in names
    assert box.defaultButton().text() == "Summarize now"
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000) as done:
        qtbot.keyClick(box, Qt.Key.Key_Return)
    assert done.args == ["succeeded"]
    chat = window.chat.store.chat(window.chat.chat_id)
    assert chat.title == "village_energy.pdf"


def test_a_dropped_pdf_starts_its_own_chat_named_after_the_file(
    qtbot: Any, make_window: Any, report_pdf: Path
) -> None:
    window = make_window()
    window.chat.summary_ranker = None
    ask(qtbot, window, "an unrelated chat")
    first = window.chat.chat_id
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000):
        window.handle_drop([report_pdf])
    assert window.chat.chat_id != first
    assert window.chat.store.chat(window.chat.chat_id).title == "village_energy.pdf"
    assert window.chat.store.messages(first)[0].content == "an unrelated chat"
    assert window.chat.view.messages()[0].text == "Summarize village_energy.pdf"


def test_open_can_add_the_pdf_to_the_library(qtbot: Any, make_window: Any, report_pdf: Path) -> None:
    window = make_window()
    window.open_pdf(report_pdf, "library")
    assert window.library_visible()
    with qtbot.waitSignal(window.library.indexing_finished, timeout=120_000) as done:
        pass
    assert done.args == ["succeeded"]
    qtbot.waitUntil(lambda: window.library.status_of("village_energy.pdf") == "ready", timeout=10_000)


def test_at_800x600_with_the_library_and_a_document_open_the_chat_stays_usable(
    qtbot: Any, make_window: Any, report_pdf: Path
) -> None:
    window = make_window()
    window.resize(800, 600)
    qtbot.wait(20)
    cites = [citation(n) | {"path": str(report_pdf), "page": 1} for n in range(1, 9)]
    window.chat.answer_job_factory = cited_answer_factory(cites, "Solar panels produced 42 MWh [1].")
    ask(qtbot, window, "How much did the panels produce?")
    window.show_library()
    window.chat.view.messages()[-1].chip_buttons()[0].click()
    qtbot.wait(50)
    assert window.width() <= 800, "the panes' minimum widths fit the window"
    view = window.chat.view
    assert view.width() >= 320, view.width()
    assert window.viewer is not None and window.viewer.width() >= 280
    assert not view.scroll_area.horizontalScrollBar().isVisible()
    # the composer's placeholder fits on one line
    composer = view.composer
    placeholder = composer.fontMetrics().horizontalAdvance("Ask anything, or open")
    assert composer.viewport().width() > placeholder
    # the chat list folded away for the room, and comes back on a wide window
    assert window.chat.sidebar.isHidden()
    window.resize(1440, 900)
    qtbot.wait(20)
    assert window.chat.sidebar.isVisible()


def test_after_ctrl_n_clicking_the_previous_chat_opens_it(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    ask(qtbot, window, "remember this")
    first = window.chat.chat_id
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.view.welcome.isVisibleTo(window)
    item = window.chat.sidebar.chat_items()[0]
    rect = window.chat.sidebar.list.visualItemRect(item)
    qtbot.mouseClick(window.chat.sidebar.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.chat.chat_id == first
    assert not window.chat.view.welcome.isVisibleTo(window)
    assert window.chat.view.messages()[0].text == "remember this"


def test_tab_follows_the_reading_order_and_toolbar_buttons_take_focus(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    ask(qtbot, window, "first")
    ask(qtbot, window, "second")
    window.activateWindow()
    qtbot.waitActive(window)
    window.chats_action.associatedObjects()  # (built)
    first_button = window.toolbar.widgetForAction(window.chats_action)
    first_button.setFocus()
    seen: list[Any] = []
    for _ in range(80):
        w = QApplication.focusWidget()
        if w in seen:
            break
        seen.append(w)
        window.focusNextChild()
    view, side = window.chat.view, window.chat.sidebar
    messages = view.messages()
    order = [
        first_button,
        window.picker.combo,
        window.toolbar.widgetForAction(window.open_action),
        window.toolbar.widgetForAction(window.library_action),
        side.search,
        side.new_button,
        side.list,
        messages[0].body,
        messages[1].body,
        messages[2].body,
        messages[3].body,
        view.composer,
        view.send_button,
    ]
    positions = [seen.index(w) if w in seen else -1 for w in order]
    assert -1 not in positions, [type(w).__name__ for w, p in zip(order, positions, strict=True) if p < 0]
    assert positions == sorted(positions), [type(seen[p]).__name__ for p in positions]


def test_message_actions_are_named_icons_shown_on_hover_or_focus(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    ask(qtbot, window, "first")
    ask(qtbot, window, "second")
    first_answer, last_answer = window.chat.view.messages()[1], window.chat.view.messages()[3]
    assert last_answer.action_bar.isVisible(), "the last answer's actions stay on screen"
    assert not first_answer.action_bar.isVisible(), "older ones appear on hover or focus"
    for button in (first_answer.copy_button, first_answer.regenerate_button, first_answer.edit_button):
        assert isinstance(button, QToolButton) and not button.icon().isNull()
        assert button.accessibleName() and button.toolTip()
        assert not button.text(), "an icon, not a text button"
    window.activateWindow()
    qtbot.waitActive(window)
    first_answer.body.setFocus()
    qtbot.waitUntil(lambda: first_answer.action_bar.isVisible(), timeout=2000)
    window.chat.view.composer.setFocus()
    qtbot.waitUntil(lambda: not first_answer.action_bar.isVisible(), timeout=2000)


def test_copy_gives_feedback_and_stats_show_under_the_answer(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    ask(qtbot, window, "hello")
    answer = window.chat.view.messages()[-1]
    assert answer.stats_label.isVisible()
    assert "tokens/s" in answer.stats_label.text() and "CPU" in answer.stats_label.text()
    answer.copy_button.click()
    assert QGuiApplication.clipboard().text() == answer.text
    assert answer.copied and answer.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: not answer.copied, timeout=3000)
    assert answer.copy_button.text() == ""


def test_the_composer_says_what_answers_come_from(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    window.chat.has_library = True
    window.chat.set_collections(())
    assert "model alone" in window.chat.view.source_label.text()
    window.chat.set_collections(("default",))
    assert "your documents" in window.chat.view.source_label.text()


def test_a_pdf_named_on_the_command_line_is_summarized_in_its_own_chat(
    qtbot: Any, make_window: Any, report_pdf: Path
) -> None:
    """`hearth FILE.pdf`, "Open with Hearth": the file's gist at once, as a drop or a second
    launch's hand-over gives it (issue 11: "summarizes the file into a new chat")."""
    window = make_window(show=False)
    window.chat.summary_ranker = None
    window.open_on_start = [report_pdf]
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000):
        window.show()
    assert window.open_choice is None or not window.open_choice.isVisible()
    stored = window.chat.store.messages(window.chat.chat_id)
    assert stored[-1].meta["kind"] == "summary" and stored[-1].meta["source"] == str(report_pdf)
    assert window.chat.store.chat(window.chat.chat_id).title == "village_energy.pdf"


def test_several_files_named_on_the_command_line_are_offered_to_the_library(
    qtbot: Any, make_window: Any, report_pdf: Path, tmp_path: Path
) -> None:
    from tests.ui.conftest import write_pdf

    other = write_pdf(tmp_path / "other.pdf")
    window = make_window(show=False)
    window.open_on_start = [report_pdf, other]
    offered: list[list[Path]] = []
    window.offer_library = lambda paths: offered.append(list(paths))  # type: ignore[method-assign]
    window.show()
    qtbot.waitUntil(lambda: bool(offered), timeout=5000)
    assert offered == [[report_pdf, other]]


def test_a_summary_shows_a_progress_bar_while_it_reads(
    qtbot: Any, make_window: Any, report_pdf: Path
) -> None:
    window = make_window()
    window.chat.summary_ranker = None
    shown: list[bool] = []

    def on_event(event: Any) -> None:
        if type(event).__name__ == "Progress":
            shown.append(window.chat.view.messages()[-1].progress.isVisible())

    window.chat.answer_started.connect(lambda handle: handle.progressed.connect(on_event))
    with qtbot.waitSignal(window.chat.answer_finished, timeout=30_000):
        window.summarize(report_pdf)
    assert shown and all(shown), "a bar, not only grey text"
    assert not window.chat.view.messages()[-1].progress.isVisible(), "gone when the summary is done"


def test_quit_hides_the_window_before_the_services_stop(
    qtbot: Any, make_window: Any, monkeypatch: Any
) -> None:
    window = make_window()
    seen: list[bool] = []
    close = window.session.close
    monkeypatch.setattr(window.session, "close", lambda: (seen.append(window.isVisible()), close()))
    window.quit_action.trigger()
    assert seen == [False]

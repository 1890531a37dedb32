"""The window's chat flows with a scripted model: ask, stream, stop, regenerate, edit, chats sidebar."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop.core.errors import ContextOverflow
from desktop.services.chats import ChatStore
from desktop.services.paths import data_dir
from desktop.ui import messages


def ask(qtbot: Any, window: Any, text: str, outcome: str = "succeeded") -> None:
    with qtbot.waitSignal(window.chat.answer_finished, timeout=20_000) as done:
        window.chat.ask(text)
    assert done.args == [outcome]


def test_question_streams_markdown_answer_and_is_kept_on_disk(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    chat = window.chat
    chat.view.composer.setPlainText("Say hello")
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        qtbot.keyClick(chat.view.composer, Qt.Key.Key_Return)
    user, answer = chat.view.messages()
    assert user.text == "Say hello"
    assert answer.text == "Hello **there**, friend."
    assert "there" in answer.body.toPlainText() and "**" not in answer.body.toPlainText()  # rendered
    assert "tokens/s" in answer.toolTip() and "CPU" in answer.toolTip()  # stats on hover
    assert chat.view.composer.toPlainText() == ""
    # restored from disk by a fresh store
    store = ChatStore(data_dir() / "chats.sqlite")
    (saved,) = store.chats()
    assert saved.title == "Say hello" and saved.model == "fake-model"
    assert [m.content for m in store.messages(saved.id)] == ["Say hello", "Hello **there**, friend."]
    assert store.messages(saved.id)[1].meta["stats"]["backend"] == "cpu"


def test_esc_stops_the_answer_and_keeps_what_was_shown(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    fake_runtime.answer = " ".join(f"word{i}" for i in range(400))
    fake_runtime.delay_s = 0.01
    window = make_window()
    chat = window.chat
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000) as done:
        chat.ask("long please")
        qtbot.waitUntil(lambda: len(chat.view.messages()[-1].text) > 20, timeout=5000)
        qtbot.keyClick(chat.view.composer, Qt.Key.Key_Escape)
    assert done.args == ["cancelled"]
    answer = chat.view.messages()[-1]
    assert answer.state.text() == "stopped"
    stored = chat.store.messages(chat.chat_id)[-1]
    assert stored.meta.get("stopped") and stored.content == answer.text
    assert len(stored.content) < len(fake_runtime.answer)


def test_a_new_question_cancels_the_running_answer(qtbot: Any, make_window: Any, fake_runtime: Any) -> None:
    fake_runtime.answer = " ".join(f"w{i}" for i in range(300))
    fake_runtime.delay_s = 0.01
    window = make_window()
    chat = window.chat
    outcomes: list[str] = []
    chat.answer_finished.connect(outcomes.append)
    chat.ask("first")
    qtbot.waitUntil(lambda: bool(chat.view.messages()[-1].text), timeout=5000)
    fake_runtime.answer, fake_runtime.delay_s = "second answer", 0.0
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000, check_params_cb=lambda o: o == "succeeded"):
        chat.ask("second")
    assert outcomes == ["cancelled", "succeeded"]
    roles = [(m.role, m.content[:6]) for m in chat.store.messages(chat.chat_id)]
    assert roles[-2:] == [("user", "second"), ("assistant", "second")]


def test_regenerate_keeps_the_old_answer_as_a_version(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    window = make_window()
    chat = window.chat
    ask(qtbot, window, "q")
    fake_runtime.answer = "A different answer."
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    texts = [m.content for m in chat.store.messages(chat.chat_id)]
    assert texts == ["q", "A different answer."]
    assert [w.text for w in chat.view.messages()] == texts
    answer = chat.view.messages()[-1]
    assert answer.regenerate_button.isVisibleTo(window)
    assert answer.version_label.text() == "2/2" and answer.prev_version_button.isEnabled()
    # step back to the first answer: shown, stored, and what the next turn's history holds
    answer.prev_version_button.click()
    assert answer.text == "Hello **there**, friend." and answer.version_label.text() == "1/2"
    assert chat.store.messages(chat.chat_id)[-1].content == "Hello **there**, friend."
    assert chat.store.history(chat.chat_id)[-1].content == "Hello **there**, friend."
    # a third version; reopening the chat shows where it stands
    fake_runtime.answer = "Third."
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        chat.regenerate()
    assert chat.view.messages()[-1].version_label.text() == "3/3"
    chat.open_chat(chat.chat_id)
    reopened = chat.view.messages()[-1]
    assert reopened.text == "Third." and reopened.version_label.text() == "3/3"
    reopened.prev_version_button.click()
    assert reopened.text == "A different answer."


def test_a_regenerate_stopped_at_once_gives_the_old_answer_back(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    window = make_window()
    chat = window.chat
    ask(qtbot, window, "q")
    fake_runtime.delay_s = 0.5
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000) as done:
        chat.regenerate()
        chat.stop()
    assert done.args == ["cancelled"]
    assert [m.content for m in chat.store.messages(chat.chat_id)] == ["q", "Hello **there**, friend."]
    assert chat.view.messages()[-1].text == "Hello **there**, friend."


def test_edit_and_resend_the_last_question(qtbot: Any, make_window: Any, fake_runtime: Any) -> None:
    window = make_window()
    chat = window.chat
    ask(qtbot, window, "first question")
    ask(qtbot, window, "typo questoin")
    chat.edit_last_question()
    assert chat.view.composer.toPlainText() == "typo questoin"
    chat.view.composer.setPlainText("fixed question")
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        qtbot.keyClick(chat.view.composer, Qt.Key.Key_Return)
    users = [m.content for m in chat.store.messages(chat.chat_id) if m.role == "user"]
    assert users == ["first question", "fixed question"]
    assert fake_runtime.requests[-1][-1].content == "fixed question"
    assert [m.content for m in fake_runtime.requests[-1] if m.role == "user"] == users


def test_sidebar_creates_switches_renames_searches_and_deletes(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    chat, side = window.chat, window.chat.sidebar
    ask(qtbot, window, "about cats")
    first = chat.chat_id
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert chat.chat_id is None and chat.view.welcome.isVisibleTo(window)
    ask(qtbot, window, "about dogs")
    assert [i.text() for i in side.chat_items()] == ["about dogs", "about cats"]
    # switching restores the other chat's messages
    chat.open_chat(first)
    assert chat.view.messages()[0].text == "about cats"
    # rename by editing the item, as a user does with F2
    item = side.list.currentItem()
    assert item.text() == "about cats"
    item.setText("Cats")
    assert chat.store.chat(first).title == "Cats"
    side.search.setText("dogs")
    assert [i.text() for i in side.chat_items()] == ["about dogs"]
    side.search.clear()
    side.delete_chat(first, confirm=False)
    assert [c.title for c in chat.store.chats()] == ["about dogs"]
    assert chat.chat_id is None


def test_expected_error_shows_inline_with_its_hint(qtbot: Any, make_window: Any, fake_runtime: Any) -> None:
    fake_runtime.fail_with = ContextOverflow("Your message is too long.", "Shorten it.")
    window = make_window()
    ask(qtbot, window, "x" * 50, outcome="failed")
    answer = window.chat.view.messages()[-1]
    assert answer.error.isVisibleTo(window)
    assert "too long" in answer.error.text() and "Shorten it." in answer.error.text()
    assert window.last_bug is None


def test_a_bug_while_answering_opens_the_details_and_the_app_keeps_running(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    fake_runtime.fail_with = ZeroDivisionError("boom")
    window = make_window()
    ask(qtbot, window, "hi", outcome="failed")
    qtbot.waitUntil(lambda: window.last_bug is not None, timeout=5000)
    assert "ZeroDivisionError" in window.last_bug.details
    fake_runtime.fail_with = None
    ask(qtbot, window, "again")  # still works


def test_a_model_that_fails_to_load_is_explained_and_chat_says_why(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    with qtbot.waitSignal(window.session.model_failed, timeout=10_000):
        window.switch_model("broken")
    assert window.picker.badge.text() == "no model"
    qtbot.waitUntil(lambda: "could not be loaded" in window.banner.text(), timeout=3000)
    ask(qtbot, window, "hello?", outcome="failed")
    assert "Pick another model." in window.chat.view.messages()[-1].error.text()


def test_messages_posted_before_the_window_exists_are_shown_once_it_does(
    qtbot: Any, make_window: Any
) -> None:
    messages.warning("Settings: theme must be one of system, light, dark", "The default was used instead.")
    window = make_window()
    qtbot.waitUntil(lambda: "theme must be" in window.banner.text(), timeout=3000)
    assert messages.pending() == []


def test_uncaught_exception_in_a_slot_goes_to_the_bug_dialog(qtbot: Any, make_window: Any) -> None:
    from desktop.ui.errors import install_excepthooks, restore_excepthooks

    window = make_window()
    previous = install_excepthooks()
    try:
        import sys

        try:
            raise RuntimeError("slot exploded")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())  # what Qt does with an exception escaping a slot
        qtbot.waitUntil(lambda: window.last_bug is not None, timeout=3000)
    finally:
        restore_excepthooks(previous)
    assert "slot exploded" in window.last_bug.details
    assert window.isVisible()


@pytest.mark.fresh_data_dir
def test_first_start_runs_the_selftest_and_shows_a_failure_with_its_remedy(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from desktop.services import selftest

    monkeypatch.setenv("HEARTH_EMBEDDER", str(tmp_path / "no-embedder-here"))
    window = make_window()
    qtbot.waitUntil(lambda: "Self-test: embedder failed" in window.banner.text(), timeout=20000)
    assert "Reinstall Hearth" in window.banner.text()
    saved = selftest.last_results()
    assert saved is not None and {r.name for r in saved} == {"embedder", "pdf", "stores", "privacy"}
    assert [r.name for r in saved if not r.ok] == ["embedder"]


def test_an_answer_from_the_model_alone_says_so_when_documents_exist(qtbot: Any, make_window: Any) -> None:
    from desktop.ui.chat.panel import MODEL_ALONE

    window = make_window()
    window.chat.has_library = True  # the user has documents, but this chat asks none of them
    ask(qtbot, window, "What was Apple's revenue?")
    answer = window.chat.view.messages()[-1]
    assert answer.state.text() == MODEL_ALONE
    stored = window.chat.store.messages(window.chat.chat_id)[-1]
    assert stored.meta.get("source") == "model"

    window.chat.has_library = False  # no documents at all: nothing to point out
    ask(qtbot, window, "And in 2022?")
    assert window.chat.view.messages()[-1].state.text() == ""

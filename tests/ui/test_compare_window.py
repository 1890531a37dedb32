"""The window's "Compare with…": a second model answers the same question in its own runtime,
beside the first answer, each with its model and stats; one turn on disk; Stop cancels it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from desktop.services.models import ModelEntry
from tests.ui.conftest import FakeRuntime


def second_model(answer: str, delay_s: float = 0.002) -> tuple[FakeRuntime, Any, list[str]]:
    runtime = FakeRuntime(answer, delay_s)
    opened: list[str] = []

    def factory(settings: Any, model: str) -> tuple[Any, dict[str, Any]]:
        opened.append(model)
        return runtime, {"name": model}

    return runtime, factory, opened


def ask(qtbot: Any, chat: Any, text: str) -> Any:
    with qtbot.waitSignal(chat.answer_finished, timeout=20_000):
        chat.ask(text)
    return chat.view.messages()[-1]


def test_compare_with_a_second_model_streams_beside_and_keeps_one_turn(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    window = make_window()
    window.resize(1440, 900)
    chat = window.chat
    answer = ask(qtbot, chat, "Say hello")
    assert answer.compare_button.isVisibleTo(answer)  # on the last answer

    other, factory, opened = second_model("Bonjour **mon ami**.")
    comparer = chat.comparer
    comparer.open_runtime = factory
    comparer.list_models = lambda: [
        ModelEntry("fake-model", "fake.gguf", "bundled", None),  # the answer's own: not offered
        ModelEntry("broken-model", "b.gguf", "imported", None, error="damaged"),  # unusable: not offered
        ModelEntry("big-model", "big.gguf", "imported", None),
    ]
    qtbot.mouseClick(answer.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: comparer.menu is not None and comparer.menu.isVisible(), timeout=5000)
    assert [a.text() for a in comparer.menu.actions()] == ["big-model"]
    with qtbot.waitSignal(comparer.finished, timeout=20_000) as done:
        comparer.menu.actions()[0].trigger()
    assert done.args == ["succeeded"]
    assert opened == ["big-model"] and other.started and other.closed  # its own runtime, closed after
    assert not fake_runtime.closed  # the chat's model stays loaded
    assert other.requests[0][-1].content == "Say hello"  # the same question, without the first answer
    assert all(m.role != "assistant" for m in other.requests[0])

    from desktop.ui.chat.compare import compare_view

    view = compare_view(answer)
    assert view is not None and [p.model for p in view.panes] == ["fake-model", "big-model"]
    assert view.beside  # a wide window: side by side
    first, second = view.panes
    assert "friend" in first.body.toPlainText() and "mon ami" in second.body.toPlainText()
    assert "tokens/s" in first.stats_label.text() and "tokens/s" in second.stats_label.text()
    assert not answer.body.isVisibleTo(answer)  # the panes replace the single answer

    stored = chat.store.messages(chat.chat_id)
    assert [m.role for m in stored] == ["user", "assistant"]  # one turn
    assert [e["model"] for e in stored[1].meta["compare"]] == ["fake-model", "big-model"]
    assert chat.store.history(chat.chat_id)[-1].content == "Hello **there**, friend."

    # The chat continues from the chosen answer: choosing the second one makes it the reply sent next.
    assert second.use_button.isVisibleTo(second) and not first.use_button.isVisibleTo(first)
    qtbot.mouseClick(second.use_button, Qt.MouseButton.LeftButton)
    assert chat.store.history(chat.chat_id)[-1].content == "Bonjour **mon ami**."
    assert answer.text == "Bonjour **mon ami**."  # copy copies it
    ask(qtbot, chat, "And again?")
    assert fake_runtime.requests[-1][-2].content == "Bonjour **mon ami**."
    assert len([m for m in fake_runtime.requests[-1] if m.role == "assistant"]) == 1

    # Reopened from disk: both answers, each with its model, the chosen one marked.
    chat.open_chat(chat.chat_id)
    reopened = chat.view.messages()[1]
    view = compare_view(reopened)
    assert view is not None and [p.model for p in view.panes] == ["fake-model", "big-model"]
    assert view.panes[1].property("chosen") and not view.panes[0].property("chosen")


def test_stop_cancels_the_comparison_and_a_narrow_window_shows_it_under(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    window = make_window()
    window.resize(800, 600)
    chat = window.chat
    answer = ask(qtbot, chat, "Say hello")
    other, factory, _ = second_model(" ".join(f"w{i}" for i in range(500)), delay_s=0.01)
    chat.comparer.open_runtime = factory
    with qtbot.waitSignal(chat.comparer.finished, timeout=20_000) as done:
        chat.comparer.compare(answer, "big-model")
        assert chat.view.stop_button.isVisibleTo(chat.view)
        from desktop.ui.chat.compare import compare_view

        view = compare_view(answer)
        assert view is not None
        qtbot.waitUntil(lambda: len(view.panes[1].text) > 10, timeout=5000)
        qtbot.keyClick(chat.view.composer, Qt.Key.Key_Escape)
    assert done.args == ["cancelled"]
    qtbot.waitUntil(lambda: other.closed, timeout=5000)  # the second model's memory comes back
    assert not view.beside  # 800 px: one under the other
    assert view.panes[1].state.text() == "stopped"
    entry = chat.store.messages(chat.chat_id)[1].meta["compare"][1]
    assert entry["stopped"] and entry["text"] == view.panes[1].text
    assert chat.view.send_button.isVisibleTo(chat.view)


def test_a_new_question_cancels_a_comparison_that_said_nothing(
    qtbot: Any, make_window: Any, fake_runtime: Any
) -> None:
    window = make_window()
    chat = window.chat
    answer = ask(qtbot, chat, "Say hello")
    other, factory, opened = second_model("slow", delay_s=0.5)
    chat.comparer.open_runtime = factory
    chat.comparer.compare(answer, "big-model")
    outcomes: list[str] = []
    chat.comparer.finished.connect(outcomes.append)
    ask(qtbot, chat, "Next question")
    assert outcomes == ["cancelled"]
    qtbot.waitUntil(lambda: not opened or other.closed, timeout=5000)  # cancelled before it ran, or closed
    from desktop.ui.chat.compare import compare_view

    assert compare_view(answer) is None  # nothing said: the answer is shown as before
    assert "compare" not in chat.store.messages(chat.chat_id)[1].meta
    assert answer.body.isVisibleTo(answer)


def test_no_compare_in_the_chat_of_an_opened_document(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    chat = window.chat
    store = chat.store
    doc = store.create_chat("report.pdf", model="fake-model")
    store.add_message(doc.id, "user", "Summarize report.pdf", {"kind": "summary_request"})
    store.add_message(doc.id, "assistant", "It says things.", {"kind": "summary", "source": "/x/report.pdf"})
    store.add_message(doc.id, "user", "Who wrote it?")
    store.add_message(doc.id, "assistant", "Ann.", {"stats": {}})
    chat.open_chat(doc.id)
    last = chat.view.messages()[-1]
    assert last.text == "Ann." and not last.compare_button.isVisibleTo(last)
    plain = store.create_chat("plain", model="fake-model")
    store.add_message(plain.id, "user", "Hi")
    store.add_message(plain.id, "assistant", "Hello.", {"stats": {}})
    chat.open_chat(plain.id)
    last = chat.view.messages()[-1]
    assert last.compare_button.isVisibleTo(last)

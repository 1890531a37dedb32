"""The picker names a LoRA pair "base + adapter"; each chat keeps its model, adapter included, and
opening it brings that model back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ggufs import LORA_PAIR as PAIR
from tests.ui.conftest import FakeRuntime


def named_factory(loaded: list[str]) -> Any:
    """A scripted model named as asked ("" : the base), recording each load."""

    def factory(settings: Any, model: str) -> tuple[Any, dict[str, Any]]:
        name = model or "tiny-phi3"
        loaded.append(name)
        return FakeRuntime(f"Answer by {name}."), {
            "name": name,
            "path": "tiny-phi3.gguf",
            "backend": "cpu",
            "reason": "tests",
            "fit": "fits",
            "n_ctx": 2048,
            "n_threads": 1,
        }

    return factory


def test_the_picker_lists_base_plus_adapter(qtbot: Any, make_window: Any, adapter_folder: Path) -> None:
    window = make_window()
    window.refresh_models()
    combo = window.picker.combo

    def labels() -> list[str]:
        return [combo.itemText(i) for i in range(combo.count())]

    qtbot.waitUntil(lambda: any(t.startswith(PAIR) for t in labels()), timeout=20_000)
    index = next(i for i, t in enumerate(labels()) if t.startswith(PAIR))
    assert combo.itemData(index) == PAIR  # what choosing it loads


def test_each_chat_keeps_its_model_and_adapter(
    qtbot: Any, make_window: Any, adapter_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[str] = []
    window = make_window(named_factory(loaded))
    chat, session = window.chat, window.session

    def ask(text: str) -> None:
        with qtbot.waitSignal(chat.answer_finished, timeout=20_000):
            chat.ask(text)

    ask("first")
    base_chat = chat.chat_id
    with qtbot.waitSignal(session.model_ready, timeout=20_000):
        window.switch_model(PAIR)
    chat.new_chat()
    ask("second")
    pair_chat = chat.chat_id
    assert chat.store.chat(pair_chat).model == PAIR and chat.store.chat(base_chat).model == "tiny-phi3"

    with qtbot.waitSignal(session.model_ready, timeout=20_000):
        chat.open_chat(base_chat)  # its model comes back
    assert session.model is not None and session.model.name == "tiny-phi3"
    with qtbot.waitSignal(session.model_ready, timeout=20_000):
        chat.open_chat(pair_chat)
    assert session.model is not None and session.model.name == PAIR
    assert loaded == ["tiny-phi3", PAIR, "tiny-phi3", PAIR]

    # Opening a chat whose model is the loaded one reloads nothing.
    chat.store.set_model(base_chat, "tiny-phi3")
    chat.new_chat()
    chat.open_chat(pair_chat)
    qtbot.wait(200)
    assert loaded[-1] == PAIR  # the same model: nothing reloaded

    # A chat whose model is gone says so, and the loaded model stays.
    said: list[str] = []
    monkeypatch.setattr("desktop.ui.messages.info", lambda text, hint="": said.append(text))
    chat.store.set_model(base_chat, "gone-model")
    chat.open_chat(base_chat)
    qtbot.waitUntil(lambda: bool(said), timeout=20_000)
    assert "gone-model" in said[0] and "not available" in said[0]
    assert session.model.name == PAIR and loaded[-1] == PAIR
    ask("third")
    assert chat.store.chat(base_chat).model == PAIR

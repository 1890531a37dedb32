"""The lora_scale setting reaches the model child, and a chat keeps its "base + adapter" (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core.chat import GenerationParams
from desktop.core.jobs import CancelToken, drive
from desktop.core.settings import SettingsStore
from desktop.core.types import ChatMessage
from tests.ggufs import ANSWER
from tests.ggufs import LORA_PAIR as PAIR


def _settings(data_dir: Path, **values: object) -> SettingsStore:
    store = SettingsStore(data_dir / "settings.json")
    store.update({"threads": 1, "context_size": 512, **values})
    return store


@pytest.mark.parametrize(("scale", "expected"), [(0.0, ANSWER), (1.0, "")])
def test_the_lora_scale_setting_is_what_the_model_applies(
    adapter_folder: Path, data_dir: Path, scale: float, expected: str
) -> None:
    from desktop.services.runtime import choose_runtime, open_runtime

    settings = _settings(data_dir, lora_scale=scale)
    choice = choose_runtime(settings, PAIR)
    assert choice.plan.lora_path == str(adapter_folder / "phi3-lora.gguf") and choice.plan.lora_scale == scale
    assert choose_runtime(settings, "tiny-phi3").plan.lora_path == ""  # the base alone: no adapter
    runtime, _ = open_runtime(settings, PAIR, server=False)
    with runtime:
        runtime.start()
        params = GenerationParams(max_tokens=8, temperature=0.0)
        done = drive(runtime.stream_chat([ChatMessage("user", "Hi")], params, CancelToken()), None)
    assert done.text == expected


def test_the_setting_is_declared_with_its_range() -> None:
    from desktop.core.settings import SETTINGS

    setting = next(s for s in SETTINGS if s.key == "lora_scale")
    assert setting.default == 1.0 and setting.restart and setting.validate("0.5") == 0.5
    with pytest.raises(ValueError):
        setting.validate(3)


def test_a_chat_keeps_its_adapter_and_resuming_uses_it(
    adapter_folder: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    _settings(data_dir, lora_scale=0.0)
    assert main(["chat", "--once", "Hi", "--model", PAIR, "--json", "--max-tokens", "8"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["model"] == PAIR and first["answer"].strip() == ANSWER
    assert main(["chats", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["model"] == PAIR  # stored with the chat
    assert (
        main(["chat", "--resume", str(first["chat_id"]), "--once", "Again", "--json", "--max-tokens", "8"])
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["model"] == PAIR and again["chat_id"] == first["chat_id"]

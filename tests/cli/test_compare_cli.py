"""`hearth chat --once Q --compare MODEL` and `hearth compare`: two models, one after the other, one turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from tests.ggufs import ANSWER, BY_NAME, write_family_gguf

pytestmark = pytest.mark.slow


def test_chat_compare_runs_both_models_and_keeps_one_turn(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tiny = write_family_gguf(BY_NAME["qwen2"], tmp_path / "tiny-qwen2.gguf")
    question = "What is the capital of France?"
    args = ["chat", "--once", question, "--compare", str(tiny), "--json", "--max-tokens", "16", "--seed", "1"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    first, second = out["answers"]
    assert first["model"].startswith("SmolLM2") and first["text"].strip()
    assert second["model"] != first["model"] and second["text"].strip() == ANSWER
    for a in (first, second):  # each with its own stats: time to first token, speed, model
        assert a["stats"]["completion_tokens"] > 0 and a["stats"]["ttft_s"] > 0
        assert a["stats"]["model"] == a["model"] and a["stats"]["load_s"] > 0

    assert main(["chats", "export", str(out["chat_id"]), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]  # one turn
    answer = exported["messages"][1]
    assert answer["content"] == first["text"] and answer["compare_chosen"] == 0
    assert [e["model"] for e in answer["compare"]] == [first["model"], second["model"]]

    assert main(["chats", "export", str(out["chat_id"])]) == 0
    markdown = capsys.readouterr().out
    assert f"### {first['model']} (the answer the chat continued from)" in markdown
    assert f"### {second['model']}" in markdown and "tokens/s" in markdown

    # The next turn's history holds one answer: the first model's.
    from desktop.services.chats import open_store

    history = open_store().history(out["chat_id"])
    assert [m.role for m in history if m.role != "system"] == ["user", "assistant"]
    assert history[-1].content == first["text"]


def test_compare_command_prints_each_answer_under_its_model(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = write_family_gguf(BY_NAME["llama3"], tmp_path / "tiny-llama3.gguf")
    b = write_family_gguf(BY_NAME["gemma2"], tmp_path / "tiny-gemma2.gguf")
    assert main(["compare", "Say hello", "--model", str(a), "--model", str(b), "--max-tokens", "8"]) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("── ")]
    assert len(headers) == 2 and headers[0] != headers[1]
    assert out.count("tokens/s") == 2 and out.count(ANSWER) >= 2


def test_compare_needs_two_models(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compare", "Q", "--model", "x"]) == 1
    assert "two models" in capsys.readouterr().err
    assert main(["chat", "--compare", "x"]) == 1
    assert "--once" in capsys.readouterr().err

"""`hearth chat --once` and `hearth chats` on the real bundled model: answers are kept."""

from __future__ import annotations

import json

import pytest

from desktop.cli import main

pytestmark = pytest.mark.slow


def test_once_json_answers_and_keeps_the_conversation(capsys) -> None:  # type: ignore[no-untyped-def]
    assert (
        main(
            [
                "chat",
                "--once",
                "What is the capital of France?",
                "--json",
                "--max-tokens",
                "16",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["answer"].strip()
    assert out["stats"]["completion_tokens"] > 0 and out["plan"]["backend"] == "cpu"
    chat_id = out["chat_id"]

    assert main(["chats", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listed] == [chat_id]
    assert "capital of France" in listed[0]["title"]

    assert main(["chats", "export", str(chat_id), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    roles = [m["role"] for m in exported["messages"]]
    assert roles == ["user", "assistant"]

    # Resume: the second answer sees the first turn.
    assert (
        main(
            [
                "chat",
                "--resume",
                str(chat_id),
                "--once",
                "Repeat the city name.",
                "--json",
                "--max-tokens",
                "8",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["chat_id"] == chat_id
    assert again["stats"]["prompt_tokens"] > out["stats"]["prompt_tokens"]

    assert main(["chats", "delete", str(chat_id)]) == 0
    assert main(["chats", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_unknown_conversation_is_a_clear_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["chats", "show", "999"]) == 1
    assert "no conversation 999" in capsys.readouterr().err

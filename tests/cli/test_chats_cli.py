"""`hearth chats export`: an answer's sources (document, page, quoted evidence) go with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.services.chats import open_store

QUOTE = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."
CITATIONS = [
    {"n": 1, "doc_id": "ef" * 32, "title": "Harbour guide", "path": "/home/me/lighthouse.pdf", "page": 2,
     "page_end": None, "snippet": "The Zanthor lighthouse…", "quote": QUOTE, "used": True, "score": 0.8},
]  # fmt: skip


def _chat() -> int:
    store = open_store()
    chat = store.create_chat("Lighthouse")
    store.add_message(chat.id, "user", "Who built the lighthouse?")
    store.add_message(chat.id, "assistant", f"“{QUOTE}” [1]", {"citations": CITATIONS})
    store.close()
    return chat.id


def test_markdown_export_lists_each_source_with_page_and_quote(capsys: pytest.CaptureFixture[str]) -> None:
    chat_id = _chat()
    assert main(["chats", "export", str(chat_id)]) == 0
    out = capsys.readouterr().out
    assert f"- [1] Harbour guide (lighthouse.pdf), p. 2 — “{QUOTE}”" in out
    assert out.index("## Hearth") < out.index("Sources:")


def test_json_export_to_a_file_carries_citations_structured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chat_id = _chat()
    out = tmp_path / "chat.json"
    assert main(["chats", "export", str(chat_id), "--json", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    (cite,) = data["messages"][1]["citations"]
    assert (cite["title"], cite["path"], cite["page"], cite["quote"], cite["used"]) == (
        "Harbour guide",
        "/home/me/lighthouse.pdf",
        2,
        QUOTE,
        True,
    )
    assert "saved" in capsys.readouterr().err

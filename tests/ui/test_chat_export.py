"""The window's Export (the chats sidebar's menu): an answer's sources, page and quote go with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from desktop.services.chats import open_store
from desktop.ui.chat import sidebar as sidebar_module
from desktop.ui.chat.sidebar import ConversationList

QUOTE = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."


@pytest.mark.parametrize("kind", ["md", "json"])
def test_export_from_the_sidebar_keeps_citations(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    store = open_store()
    chat = store.create_chat("Lighthouse")
    store.add_message(chat.id, "user", "Who built it?")
    cite = {
        "n": 1,
        "title": "Harbour guide",
        "path": "/docs/zanthor.pdf",
        "page": 2,
        "quote": QUOTE,
        "used": True,
    }
    store.add_message(chat.id, "assistant", f"“{QUOTE}” [1]", {"citations": [cite]})
    side = ConversationList(lambda: store)
    qtbot.addWidget(side)
    target = tmp_path / f"chat.{kind}"
    chosen = "JSON (*.json)" if kind == "json" else "Markdown (*.md)"
    monkeypatch.setattr(
        "PySide6.QtWidgets.QFileDialog.getSaveFileName", lambda *a, **k: (str(target), chosen)
    )
    told: list[str] = []
    monkeypatch.setattr(sidebar_module.messages, "info", lambda text, *a: told.append(text))
    side.export_chat(chat.id)
    text = target.read_text(encoding="utf-8")
    if kind == "md":
        assert f"- [1] Harbour guide (zanthor.pdf), p. 2 — “{QUOTE}”" in text
    else:
        (saved,) = json.loads(text)["messages"][1]["citations"]
        assert (saved["path"], saved["page"], saved["quote"]) == ("/docs/zanthor.pdf", 2, QUOTE)
    assert told and str(target) in told[0]
    store.close()

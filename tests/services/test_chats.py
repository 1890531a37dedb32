"""Chat history: kept on disk (WAL), searchable, renamable, deletable, exportable."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core.errors import StorageError
from desktop.core.types import ChatMessage
from desktop.services import database
from desktop.services.chats import ChatStore, open_store


def test_chat_and_messages_survive_reopening(data_dir: Path) -> None:
    store = open_store()
    chat = store.create_chat("Trip", model="smollm2", system_prompt="Be brief.", collections=["work"])
    store.add_message(chat.id, "user", "Where to?")
    store.add_message(chat.id, "assistant", "Lisbon.", {"stats": {"tokens_per_s": 99.0}})
    store.close()

    again = ChatStore(data_dir / "chats.sqlite")
    (restored,) = again.chats()
    assert (restored.title, restored.model, restored.collections) == ("Trip", "smollm2", ("work",))
    msgs = again.messages(chat.id)
    assert [m.content for m in msgs] == ["Where to?", "Lisbon."]
    assert msgs[1].meta["stats"]["tokens_per_s"] == 99.0
    assert again.history(chat.id) == [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Where to?"),
        ChatMessage("assistant", "Lisbon."),
    ]
    raw = database.raw_connect(data_dir / "chats.sqlite", database.unlock(data_dir))  # encrypted at rest
    mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_search_matches_titles_and_message_text_and_escapes_wildcards() -> None:
    store = open_store()
    a = store.create_chat("Taxes 2025")
    b = store.create_chat("Recipes")
    store.add_message(b.id, "user", "how long to bake 100% rye bread?")
    assert [c.id for c in store.chats("taxes")] == [a.id]
    assert [c.id for c in store.chats("RYE")] == [b.id]
    assert [c.id for c in store.chats("100%")] == [b.id]
    assert store.chats("_") == []
    assert len(store.chats("")) == 2


def test_rename_delete_and_newest_first() -> None:
    store = open_store()
    a = store.create_chat()
    b = store.create_chat()
    store.add_message(a.id, "user", "hello")  # touching a makes it the newest
    assert [c.id for c in store.chats()] == [a.id, b.id]
    assert store.rename(b.id, "  ").title == "New chat"
    assert store.rename(b.id, "Plans").title == "Plans"
    store.delete_chat(a.id)
    assert [c.id for c in store.chats()] == [b.id]
    assert store.messages(a.id) == []  # messages went with their chat
    with pytest.raises(KeyError):
        store.rename(a.id, "gone")


def test_delete_messages_from_supports_regenerate() -> None:
    store = open_store()
    chat = store.create_chat()
    store.add_message(chat.id, "user", "q1")
    store.add_message(chat.id, "assistant", "a1")
    q2 = store.add_message(chat.id, "user", "q2")
    store.add_message(chat.id, "assistant", "a2")
    assert store.delete_messages_from(chat.id, q2.id) == 2
    assert [m.content for m in store.messages(chat.id)] == ["q1", "a1"]


def test_export_markdown_and_json_carry_citations() -> None:
    store = open_store()
    chat = store.create_chat("Report", model="m")
    store.add_message(chat.id, "user", "What grew?")
    cites = [{"n": 1, "title": "annual.pdf", "page": 4}]
    store.add_message(chat.id, "assistant", "Revenue grew [1].", {"citations": cites})
    md = store.export_markdown(chat.id)
    assert md.startswith("# Report\n")
    assert "## You\n\nWhat grew?" in md
    assert "- [1] annual.pdf, p. 4" in md
    data = store.export_json(chat.id)
    assert data["messages"][1]["citations"] == cites


CITED = [
    {"n": 1, "doc_id": "ab" * 32, "title": "Annual Report 2024", "path": "/docs/annual.pdf", "page": 4,
     "page_end": 5, "snippet": "Revenue grew 12% to $3.1M in the year…",
     "quote": "Revenue grew 12%\n to $3.1M in the year.", "used": True, "score": 0.9},
    {"n": 2, "doc_id": "cd" * 32, "title": "", "path": "/docs/notes.txt", "page": 1, "page_end": None,
     "snippet": "Costs were flat.", "quote": "", "used": False, "score": 0.2},
]  # fmt: skip


def test_export_keeps_each_answers_sources_with_page_and_quoted_evidence(data_dir: Path) -> None:
    store = open_store()
    chat = store.create_chat("Report")
    store.add_message(chat.id, "user", "What grew?")
    store.add_message(chat.id, "assistant", "Revenue grew [1].", {"citations": CITED, "mode": "grounded"})
    store.add_message(chat.id, "user", "Thanks")
    store.close()

    again = ChatStore(data_dir / "chats.sqlite")  # what is on disk, not what is in memory
    md = again.export_markdown(chat.id)
    answer, sources = md.split("## Hearth\n\n", 1)[1].split("Sources:\n\n", 1)
    assert answer.strip() == "Revenue grew [1]."
    assert sources.splitlines()[:2] == [
        "- [1] Annual Report 2024 (annual.pdf), pp. 4–5 — “Revenue grew 12% to $3.1M in the year.”",
        "- [2] notes.txt, p. 1 — “Costs were flat.” *(shown for context; not used in the answer)*",
    ]
    assert md.index("Sources:") < md.index("## You\n\nThanks")  # each answer's own sources

    data = again.export_json(chat.id)
    (cited,) = [m for m in data["messages"] if m.get("citations")]
    assert cited["content"] == "Revenue grew [1]." and cited["mode"] == "grounded"
    first = cited["citations"][0]
    assert (first["title"], first["path"], first["page"], first["used"]) == (
        "Annual Report 2024",
        "/docs/annual.pdf",
        4,
        True,
    )
    assert first["quote"] == CITED[0]["quote"]


def test_unreadable_file_is_a_storage_error_with_a_hint(tmp_path: Path) -> None:
    bad = tmp_path / "chats.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError) as info:
        ChatStore(bad)
    assert "move it aside" in info.value.hint.lower()

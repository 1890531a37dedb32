"""Conversations and their messages, kept in `data_dir()/chats.sqlite` (WAL, encrypted). Qt-free.

Each chat remembers its model, system prompt and the library collections it asks. Messages
carry their generation stats and citations as JSON so a restored chat looks as it did.
One store per process; it is used from one thread at a time (the GUI thread: every call is a
small transaction of a few milliseconds).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.core.errors import StorageError
from desktop.core.types import ChatMessage, Role
from desktop.services import database
from desktop.services.sqlite_tx import immediate_transaction

log = logging.getLogger("desktop.chats")

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    system_prompt TEXT NOT NULL DEFAULT '',
    collections TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages(chat_id, id);
"""

DEFAULT_TITLE = "New chat"


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    title: str
    model: str
    system_prompt: str
    collections: tuple[str, ...]
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    chat_id: int
    role: Role
    content: str
    created: float
    meta: dict[str, Any] = field(default_factory=dict)  # stats, citations, kind ("summary" …)

    def as_chat_message(self) -> ChatMessage:
        return ChatMessage(self.role, self.content)


class ChatStore:
    """All conversations of this user. Raises StorageError (with a hint) when the file is unusable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists()
        db: database.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = database.connect(path)  # unlocked (keyring or passphrase); WAL, foreign keys on
            db.executescript(SCHEMA)
        except (database.DatabaseError, StorageError) as exc:
            if db is not None:
                with contextlib.suppress(Exception):
                    db.close()
            if not existed:  # a full disk must not leave an empty, unusable chats.sqlite behind
                with contextlib.suppress(OSError):
                    if path.stat().st_size == 0:
                        path.unlink()
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        path.with_name(path.name + suffix).unlink()
            if isinstance(exc, StorageError):  # locked, wrong passphrase, damaged: said by database
                raise
            if "full" in str(exc).lower():
                raise StorageError(
                    "The disk is full, so Hearth cannot keep this conversation.",
                    "Free some space and try again.",
                    detail=repr(exc),
                ) from exc
            raise StorageError(
                "Hearth cannot open its chat history.",
                f"The file {path} may be damaged or the disk full. Move it aside to start a fresh history.",
                detail=repr(exc),
            ) from exc
        self._db = db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[database.Connection]:
        try:
            with immediate_transaction(self._db) as db:
                yield db
        except database.OperationalError as exc:
            raise StorageError(
                "Hearth could not save the chat.",
                "Check that the disk is not full and that no other Hearth is open on the same data.",
                detail=repr(exc),
            ) from exc

    # -- chats

    def create_chat(
        self,
        title: str = DEFAULT_TITLE,
        *,
        model: str = "",
        system_prompt: str = "",
        collections: Sequence[str] = (),
    ) -> Chat:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO chats(title, model, system_prompt, collections, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    title.strip() or DEFAULT_TITLE,
                    model,
                    system_prompt,
                    json.dumps(list(collections)),
                    now,
                    now,
                ),
            )
        return self.chat(int(cur.lastrowid or 0))

    def chat(self, chat_id: int) -> Chat:
        row = self._db.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise KeyError(chat_id)
        return _chat(row)

    def chats(self, search: str = "") -> list[Chat]:
        """Newest first. `search` matches titles and message text, case-insensitively."""
        if not search.strip():
            rows = self._db.execute("SELECT * FROM chats ORDER BY updated DESC, id DESC").fetchall()
        else:
            pattern = "%" + _escape_like(search.strip()) + "%"
            rows = self._db.execute(
                "SELECT * FROM chats c WHERE c.title LIKE ?1 ESCAPE '\\' OR EXISTS ("
                " SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.content LIKE ?1 ESCAPE '\\')"
                " ORDER BY updated DESC, id DESC",
                (pattern,),
            ).fetchall()
        return [_chat(r) for r in rows]

    def rename(self, chat_id: int, title: str) -> Chat:
        return self._update(chat_id, title=title.strip() or DEFAULT_TITLE)

    def set_model(self, chat_id: int, model: str) -> Chat:
        return self._update(chat_id, model=model)

    def set_system_prompt(self, chat_id: int, system_prompt: str) -> Chat:
        return self._update(chat_id, system_prompt=system_prompt)

    def set_collections(self, chat_id: int, collections: Sequence[str]) -> Chat:
        return self._update(chat_id, collections=json.dumps(list(collections)))

    def _update(self, chat_id: int, **values: Any) -> Chat:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE chats SET {cols}, updated = ? WHERE id = ?", (*values.values(), time.time(), chat_id)
            )
            if cur.rowcount == 0:
                raise KeyError(chat_id)
        return self.chat(chat_id)

    def delete_chat(self, chat_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages

    def add_message(
        self, chat_id: int, role: Role, content: str, meta: dict[str, Any] | None = None
    ) -> StoredMessage:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO messages(chat_id, role, content, meta, created) VALUES (?, ?, ?, ?, ?)",
                (chat_id, role, content, json.dumps(meta or {}, default=str), now),
            )
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return self.message(int(cur.lastrowid or 0))

    def update_message(
        self, message_id: int, content: str, meta: dict[str, Any] | None = None
    ) -> StoredMessage:
        with self._tx() as db:
            if meta is None:
                db.execute("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))
            else:
                db.execute(
                    "UPDATE messages SET content = ?, meta = ? WHERE id = ?",
                    (content, json.dumps(meta, default=str), message_id),
                )
        return self.message(message_id)

    def message(self, message_id: int) -> StoredMessage:
        row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(message_id)
        return _message(row)

    def messages(self, chat_id: int) -> list[StoredMessage]:
        rows = self._db.execute("SELECT * FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()
        return [_message(r) for r in rows]

    def delete_messages_from(self, chat_id: int, message_id: int) -> int:
        """Delete `message_id` and every later message of the chat (regenerate, edit-and-resend)."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM messages WHERE chat_id = ? AND id >= ?", (chat_id, message_id))
        return cur.rowcount

    # -- side by side (services/compare.py): one turn, several models' answers

    def add_comparison(self, message_id: int, first_model: str, entry: dict[str, Any]) -> StoredMessage:
        """Keep another model's answer (`entry`: model, text, stats, citations) on the answer
        `message_id`, as one turn: `meta["compare"]` lists the answers, the first being the
        message's own (by `first_model`, unless the meta names its model). The message's text stays
        the chosen answer, so the history the model sees next holds one answer. A model compared
        again replaces its earlier answer."""
        stored = self.message(message_id)
        meta = dict(stored.meta)
        entries = list(meta.get("compare") or [_own_entry(stored, first_model)])
        entries = [e for i, e in enumerate(entries) if i == 0 or e.get("model") != entry.get("model")]
        entries.append(dict(entry))
        meta["compare"] = entries
        meta.setdefault("compare_chosen", 0)
        return self.update_message(message_id, stored.content, meta)

    def choose_answer(self, message_id: int, index: int) -> StoredMessage:
        """Make compared answer `index` the one the conversation continues from: the message's text,
        stats and sources become that answer's."""
        stored = self.message(message_id)
        entries = list(stored.meta.get("compare") or [])
        if not 0 <= index < len(entries):
            raise IndexError(index)
        chosen = entries[index]
        meta = {
            **stored.meta,
            "compare_chosen": index,
            "model": chosen.get("model", ""),
            "stats": chosen.get("stats") or {},
        }
        meta.pop("citations", None)
        if chosen.get("citations"):
            meta["citations"] = list(chosen["citations"])
        return self.update_message(message_id, str(chosen.get("text", "")), meta)

    def history(self, chat_id: int) -> list[ChatMessage]:
        """What the model sees: the chat's system prompt, then user and assistant turns (of a turn
        answered side by side, only the chosen answer: the message's own text)."""
        chat = self.chat(chat_id)
        out = [ChatMessage("system", chat.system_prompt)] if chat.system_prompt else []
        out += [m.as_chat_message() for m in self.messages(chat_id) if m.role != "system" and m.content]
        return out

    # -- export

    def export_markdown(self, chat_id: int) -> str:
        chat = self.chat(chat_id)
        lines = [f"# {chat.title}", ""]
        if chat.model:
            lines += [f"*Model: {chat.model}*", ""]
        for m in self.messages(chat_id):
            who = {"user": "You", "assistant": "Hearth", "system": "System"}[m.role]
            if m.meta.get("compare"):
                lines += comparison_lines(m.meta)
                continue
            lines += [f"## {who}", "", m.content.rstrip(), ""]
            if m.meta.get("interrupted"):
                lines += ["*(interrupted: Hearth stopped before this answer was finished)*", ""]
            elif m.meta.get("stopped"):
                lines += ["*(stopped)*", ""]
            lines += source_lines(m.meta.get("citations") or [])
        return "\n".join(lines).rstrip() + "\n"

    def export_json(self, chat_id: int) -> dict[str, Any]:
        """The chat as data; an answer keeps its meta, so `citations` is each source structured:
        n, title, path, page, page_end, quote (the evidence), snippet, used."""
        chat = self.chat(chat_id)
        return {
            "title": chat.title,
            "model": chat.model,
            "system_prompt": chat.system_prompt,
            "collections": list(chat.collections),
            "created": chat.created,
            "messages": [
                {"role": m.role, "content": m.content, "created": m.created, **m.meta}
                for m in self.messages(chat_id)
            ],
        }


class StreamingAnswer:
    """An answer kept on disk while it streams, so a kill -9 or a power cut loses nothing shown.

    The row is written when the answer starts, marked `interrupted`, and updated with the text so
    far at most every `interval_s`; `finish` writes the whole answer and clears the mark. After a
    crash the row holds what was streamed, still marked, and `chats show` and the window say so.
    """

    def __init__(
        self, store: ChatStore, chat_id: int, meta: dict[str, Any] | None = None, interval_s: float = 0.5
    ) -> None:
        self.store = store
        self.meta = dict(meta or {})
        self.interval_s = interval_s
        self.parts: list[str] = []
        self._saved_len = 0
        self._last = time.monotonic()
        self.message = store.add_message(chat_id, "assistant", "", {**self.meta, "interrupted": True})

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._save()
            self._last = now

    def _save(self) -> None:
        text = self.text
        if len(text) != self._saved_len:
            try:
                self.store.update_message(self.message.id, text)
            except StorageError as exc:  # a full disk must not stop the answer on screen
                log.warning("could not save the answer so far: %s", exc)
                return
            self._saved_len = len(text)

    def finish(self, text: str | None = None, meta: dict[str, Any] | None = None) -> StoredMessage:
        """The complete answer (or, after a stop, what was said, with `meta` saying so)."""
        final = self.text if text is None else text
        return self.store.update_message(self.message.id, final, {**self.meta, **(meta or {})})

    def discard(self) -> None:
        """Nothing was said (an error before the first token): no empty answer is kept."""
        self.store.delete_messages_from(self.message.chat_id, self.message.id)


def source_lines(citations: Sequence[dict[str, Any]]) -> list[str]:
    """An answer's sources in Markdown: `- [n] Title (file.pdf), p. N — “quoted evidence”`, one
    line each, then a blank line. Sources shown only for context say so when others were used."""
    if not citations:
        return []
    any_used = any(c.get("used") for c in citations)
    lines = ["Sources:", ""]
    for c in citations:
        path = str(c.get("path") or "")
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        title = _one_line(str(c.get("title") or "")) or name or "Document"
        if name and name != title:
            title = f"{title} ({name})"
        page, end = c.get("page"), c.get("page_end")
        where = f", pp. {page}–{end}" if end and end != page else (f", p. {page}" if page else "")
        evidence = _one_line(str(c.get("quote") or "")) or _one_line(str(c.get("snippet") or ""))[:300]
        line = f"- [{c.get('n')}] {title}{where}"
        if evidence:
            line += f" — “{evidence}”"
        if any_used and not c.get("used"):
            line += " *(shown for context; not used in the answer)*"
        lines.append(line)
    return [*lines, ""]


def comparison_lines(meta: dict[str, Any]) -> list[str]:
    """A turn answered side by side, in Markdown: each model's answer under its name and stats, the
    one the conversation continued from marked."""
    entries = list(meta.get("compare") or [])
    chosen = int(meta.get("compare_chosen", 0))
    names = " and ".join(str(e.get("model") or "?") for e in entries)
    lines = [f"## Hearth — side by side: {names}", ""]
    for i, e in enumerate(entries):
        mark = " (the answer the chat continued from)" if i == chosen and len(entries) > 1 else ""
        lines += [f"### {e.get('model') or 'Model'}{mark}", ""]
        stats = compare_stats_text(e.get("stats") or {})
        if stats:
            lines += [f"*{stats}*", ""]
        lines += [str(e.get("text") or "").rstrip() or "*(no answer)*", ""]
        if e.get("error"):
            lines += [f"*({e['error']})*", ""]
        lines += source_lines(e.get("citations") or [])
    return lines


def compare_stats_text(stats: dict[str, Any]) -> str:
    """`0.4 s to first token · 31.2 tokens/s · 48 tokens`, for a compared answer."""
    parts = []
    if stats.get("ttft_s"):
        parts.append(f"{float(stats['ttft_s']):.2f} s to first token")
    if stats.get("tokens_per_s"):
        parts.append(f"{float(stats['tokens_per_s']):.1f} tokens/s")
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("load_s"):
        parts.append(f"loaded in {float(stats['load_s']):.1f} s")
    return " · ".join(parts)


def _own_entry(stored: StoredMessage, model: str) -> dict[str, Any]:
    meta = stored.meta
    return {
        "model": str(meta.get("model") or model),
        "text": stored.content,
        "stats": dict(meta.get("stats") or {}),
        "citations": list(meta.get("citations") or []),
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _chat(row: database.Row) -> Chat:
    return Chat(
        id=row["id"],
        title=row["title"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        collections=tuple(json.loads(row["collections"] or "[]")),
        created=row["created"],
        updated=row["updated"],
    )


def _message(row: database.Row) -> StoredMessage:
    try:
        meta = json.loads(row["meta"] or "{}")
    except ValueError:
        meta = {}
    return StoredMessage(row["id"], row["chat_id"], row["role"], row["content"], row["created"], meta)


def open_store() -> ChatStore:
    from desktop.services.paths import data_dir

    return ChatStore(data_dir() / "chats.sqlite")

"""library.sqlite: documents (sha256 identity), pages, chunks with page spans, files per collection, FTS5.

Encrypted at rest like chats.sqlite (services/database.py opens it); the vector index next to it
holds no text.

Everything needed to rebuild the vector index lives here. Writes are small transactions so a
question can get the index lane between batches; WAL lets readers run while indexing writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop.core.errors import StorageError
from desktop.core.text import KEYWORD_STOPWORDS, keyword_terms
from desktop.core.types import Chunk, ChunkRecord, Page
from desktop.services import database
from desktop.services.library_vectors import storage_error
from desktop.services.sqlite_tx import immediate_transaction

log = logging.getLogger("desktop.library")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    sha256 TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    page_count INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    encrypted INTEGER NOT NULL DEFAULT 0,
    text_ready INTEGER NOT NULL DEFAULT 0,  -- pages and chunks committed
    reason TEXT NOT NULL DEFAULT '',        -- DocumentError.reason when unreadable
    message TEXT NOT NULL DEFAULT '',
    hint TEXT NOT NULL DEFAULT '',
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    sha256 TEXT NOT NULL REFERENCES documents(sha256) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (sha256, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES documents(sha256) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    text TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    UNIQUE (sha256, n)
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS files (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL,          -- queued | indexing | ready | error
    updated REAL NOT NULL,
    PRIMARY KEY (collection, path)
);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha256, collection);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
"""

def query_terms(text: str, max_terms: int = 24) -> list[str]:
    """The question's distinct content words, in order (no stopwords, no single letters)."""
    return keyword_terms(text, KEYWORD_STOPWORDS, max_terms=max_terms)


def fts_query(text: str, max_terms: int = 24) -> str:
    """A safe FTS5 query: the question's distinct content words, quoted, OR-ed (BM25 ranks them)."""
    return " OR ".join(f'"{w}"' for w in query_terms(text, max_terms))


# A word in more than this share of all passages says little about which passage answers (BM25
# gives it almost no weight) but makes FTS5 score every passage containing it: 64 ms of a 74 ms
# query at 100k passages. Such words are left out of the match once the library is big enough for
# it to matter; below COMMON_TERM_MIN_PASSAGES every word is scored (a few ms), because dropping
# them cost 2 of 116 docugami questions their top-5 hit at 2281 passages (docs/retrieval.md).
COMMON_TERM_SHARE = 0.2
COMMON_TERM_MIN_PASSAGES = 20_000
# Keyword search ranks this many × k passages of the whole index before keeping those in scope.
PREFILTER_FACTOR = 4


@dataclass(frozen=True, slots=True)
class FileRow:
    collection: str
    path: str
    sha256: str
    size: int
    mtime_ns: int
    status: str
    title: str = ""
    page_count: int = 0
    reason: str = ""
    message: str = ""
    hint: str = ""
    chunks: int = 0


class LibraryStore:
    """Thread-safe access to library.sqlite (one connection, a lock; WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # Unlocked (keyring or passphrase) and converted if still plain; WAL, foreign keys on.
            self._db = database.connect(path, check_same_thread=False, timeout=30)
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except database.Error as exc:
            error = storage_error(exc, f"open {path}", path.parent)
            if "full" in error.user_message:
                error = StorageError(
                    "The disk holding your library is full, so Hearth cannot open it right now.",
                    "Free some space and try again; nothing in your library was lost.",
                    detail=error.detail,
                )
            raise error from exc
        self._lock = threading.RLock()
        self._passages: int | None = None  # passage_count() cache, dropped by every write

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[database.Connection]:
        with self._lock:
            self._passages = None
            try:
                with immediate_transaction(self._db) as db:
                    yield db
            except database.Error as exc:
                raise storage_error(exc, "library.sqlite") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[database.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except database.Error as exc:
                raise storage_error(exc, "library.sqlite read") from exc

    # -- meta (key/value facts about the library, e.g. which embedder made its vectors)

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- collections and files

    def ensure_collection(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO collections(name, created) VALUES (?, ?)", (name, time.time()))

    def collections(self) -> list[str]:
        return [r["name"] for r in self.query("SELECT name FROM collections ORDER BY name")]

    def file(self, collection: str, path: str) -> FileRow | None:
        rows = self.files(collection=collection, path=path)
        return rows[0] if rows else None

    def files(
        self, collection: str | None = None, path: str | None = None, sha256: str | None = None
    ) -> list[FileRow]:
        sql = (
            "SELECT f.*, COALESCE(d.title,'') AS title, COALESCE(d.page_count,0) AS page_count, "
            "COALESCE(d.reason,'') AS reason, COALESCE(d.message,'') AS message, "
            "COALESCE(d.hint,'') AS hint, "
            "(SELECT COUNT(*) FROM chunks c WHERE c.sha256 = f.sha256) AS chunks "
            "FROM files f LEFT JOIN documents d ON d.sha256 = f.sha256 WHERE 1=1"
        )
        params: list[Any] = []
        for col, value in (("f.collection", collection), ("f.path", path), ("f.sha256", sha256)):
            if value is not None:
                sql += f" AND {col} = ?"
                params.append(value)
        sql += " ORDER BY f.collection, f.path"
        return [
            FileRow(
                r["collection"], r["path"], r["sha256"], r["size"], r["mtime_ns"], r["status"],
                r["title"], r["page_count"], r["reason"], r["message"], r["hint"], r["chunks"],
            )
            for r in self.query(sql, params)
        ]  # fmt: skip

    def upsert_file(
        self, collection: str, path: str, sha256: str, size: int, mtime_ns: int, status: str
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO files(collection, path, sha256, size, mtime_ns, status, updated) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT(collection, path) DO UPDATE SET "
                "sha256=excluded.sha256, size=excluded.size, mtime_ns=excluded.mtime_ns, "
                "status=excluded.status, updated=excluded.updated",
                (collection, path, sha256, size, mtime_ns, status, time.time()),
            )

    def move_file(self, collection: str, old: str, new: str, size: int, mtime_ns: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE files SET path=?, size=?, mtime_ns=?, updated=? WHERE collection=? AND path=?",
                (new, size, mtime_ns, time.time(), collection, old),
            )

    def set_status(self, collection: str, sha256: str, status: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE files SET status=?, updated=? WHERE collection=? AND sha256=?",
                (status, time.time(), collection, sha256),
            )

    def delete_file(self, collection: str, path: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE collection=? AND path=?", (collection, path))

    def sha_in_collection(self, collection: str, sha256: str) -> bool:
        return bool(
            self.query("SELECT 1 FROM files WHERE collection=? AND sha256=? LIMIT 1", (collection, sha256))
        )

    def ready_in_collection(self, collection: str, sha256: str) -> bool:
        rows = self.query(
            "SELECT 1 FROM files WHERE collection=? AND sha256=? AND status='ready' LIMIT 1",
            (collection, sha256),
        )
        return bool(rows)

    def pending(self) -> list[tuple[str, str]]:
        """(collection, sha256) pairs not ready and not failed: what a restart resumes."""
        rows = self.query(
            "SELECT DISTINCT collection, sha256 FROM files WHERE status IN ('queued','indexing') "
            "ORDER BY updated, collection"
        )
        return [(r["collection"], r["sha256"]) for r in rows]

    def drop_orphan_documents(self) -> list[str]:
        """Delete documents no file refers to any more (pages, chunks and FTS rows go with them)."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT sha256 FROM documents WHERE sha256 NOT IN (SELECT sha256 FROM files)"
            ).fetchall()
            shas = [r["sha256"] for r in rows]
            for sha in shas:
                db.execute("DELETE FROM chunks WHERE sha256=?", (sha,))
                db.execute("DELETE FROM pages WHERE sha256=?", (sha,))
                db.execute("DELETE FROM documents WHERE sha256=?", (sha,))
        return shas

    def delete_collection(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM files WHERE collection=?", (name,))
            db.execute("DELETE FROM collections WHERE name=?", (name,))

    # -- documents

    def document(self, sha256: str) -> database.Row | None:
        rows = self.query("SELECT * FROM documents WHERE sha256=?", (sha256,))
        return rows[0] if rows else None

    def save_text(
        self,
        sha256: str,
        title: str,
        size: int,
        encrypted: bool,
        pages: Sequence[Page],
        chunks: Sequence[Chunk],
    ) -> None:
        """Pages and chunks of one document, in one transaction (all or nothing)."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE sha256=?", (sha256,))
            db.execute("DELETE FROM pages WHERE sha256=?", (sha256,))
            db.execute(
                "INSERT INTO documents(sha256, title, page_count, size, encrypted, text_ready, added) "
                "VALUES (?,?,?,?,?,1,?) ON CONFLICT(sha256) DO UPDATE SET title=excluded.title, "
                "page_count=excluded.page_count, size=excluded.size, encrypted=excluded.encrypted, "
                "text_ready=1, reason='', message='', hint=''",
                (sha256, title, len(pages), size, int(encrypted), time.time()),
            )
            db.executemany(
                "INSERT INTO pages(sha256, number, text) VALUES (?,?,?)",
                [(sha256, p.number, p.text) for p in pages],
            )
            db.executemany(
                "INSERT INTO chunks(sha256, n, text, page_start, page_end) VALUES (?,?,?,?,?)",
                [(sha256, c.index, c.text, c.page_start, c.page_end) for c in chunks],
            )

    def save_failure(self, sha256: str, title: str, size: int, reason: str, message: str, hint: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO documents(sha256, title, size, reason, message, hint, added) "
                "VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(sha256) DO UPDATE SET reason=excluded.reason, message=excluded.message, "
                "hint=excluded.hint, text_ready=0",
                (sha256, title, size, reason, message, hint, time.time()),
            )
            db.execute("UPDATE files SET status='error', updated=? WHERE sha256=?", (time.time(), sha256))

    def forget_text(self, sha256: str) -> None:
        """Drop a document's pages and passages and queue every file holding it (a forced re-read)."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks WHERE sha256=?", (sha256,))
            db.execute("DELETE FROM pages WHERE sha256=?", (sha256,))
            db.execute(
                "UPDATE documents SET text_ready=0, reason='', message='', hint='' WHERE sha256=?", (sha256,)
            )
            db.execute("UPDATE files SET status='queued', updated=? WHERE sha256=?", (time.time(), sha256))

    def chunks_of(self, sha256: str) -> list[Chunk]:
        rows = self.query(
            "SELECT n, text, page_start, page_end FROM chunks WHERE sha256=? ORDER BY n", (sha256,)
        )
        return [Chunk(sha256, r["n"], r["text"], r["page_start"], r["page_end"]) for r in rows]

    def pages_of(self, sha256: str, first: int | None = None, last: int | None = None) -> list[Page]:
        """A document's pages (1-based numbers), all or those from `first` to `last`."""
        lo, hi = first if first is not None else -(2**31), last if last is not None else 2**31
        rows = self.query(
            "SELECT number, text FROM pages WHERE sha256=? AND number BETWEEN ? AND ? ORDER BY number",
            (sha256, lo, hi),
        )
        return [Page(r["number"], r["text"]) for r in rows]

    # -- retrieval

    def keyword_search(self, text: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        """(chunk id, bm25 score; lower is better) over ready documents of `collections`."""
        if not collections:
            return []
        words = self.selective_terms(query_terms(text))
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        marks = ",".join("?" * len(collections))
        in_scope = f"c.sha256 IN (SELECT sha256 FROM files WHERE status='ready' AND collection IN ({marks}))"
        # Rank over the whole index first and filter the few best: joining every matching passage
        # to its collection before sorting costs as much again as the ranking. Filtering keeps the
        # global order, so when k passages survive they are exactly the top k in scope.
        rows = self.query(
            "SELECT c.sha256, c.n, t.score FROM (SELECT rowid, bm25(chunks_fts) AS score FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?) t JOIN chunks c ON c.id = t.rowid "
            f"WHERE {in_scope} ORDER BY t.score",
            [match, k * PREFILTER_FACTOR, *collections],
        )
        if len(rows) < k:  # a small collection among big ones, or few matches: rank in scope
            rows = self.query(
                "SELECT c.sha256, c.n, bm25(chunks_fts) AS score FROM chunks_fts "
                f"JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ? AND {in_scope} "
                "ORDER BY score LIMIT ?",
                [match, *collections, k],
            )
        return [(f"{r['sha256']}:{r['n']}", float(r["score"])) for r in rows[:k]]

    def selective_terms(self, words: Sequence[str]) -> list[str]:
        """`words` without those in more than COMMON_TERM_SHARE of passages (the rarest one stays).

        Document frequency is counted by FTS5 itself (its count of a one-word match reads the
        posting list sizes, ~0.2 ms a word at 100k passages), so stemming matches the index's.
        """
        total = self.passage_count()
        if len(words) < 2 or total < COMMON_TERM_MIN_PASSAGES:
            return list(words)
        limit = COMMON_TERM_SHARE * total
        df = {
            w: int(
                self.query("SELECT count(*) AS n FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{w}"',))[0][
                    "n"
                ]
            )
            for w in words
        }
        kept = [w for w in words if df[w] <= limit]
        if not kept:
            # Only common words: the rarest one still ranks passages (slower, but an answer).
            kept = [min(words, key=lambda w: df[w])]
        if len(kept) < len(words):
            log.debug(
                "keyword search: %d of %d query words too common to score", len(words) - len(kept), len(words)
            )
        return kept

    def passage_count(self) -> int:
        """Passages in the store (all collections); cached until the next write."""
        with self._lock:
            if self._passages is None:
                self._passages = int(self.query("SELECT count(*) AS n FROM chunks")[0]["n"])
            return self._passages

    def ready_ids(self, ids: Iterable[str], collections: Sequence[str]) -> set[str]:
        """Which chunk ids belong to ready documents of `collections` (stale vectors are ignored)."""
        shas = {i.split(":", 1)[0] for i in ids}
        if not shas or not collections:
            return set()
        rows = self.query(
            "SELECT DISTINCT sha256 FROM files WHERE status='ready' "
            f"AND sha256 IN ({','.join('?' * len(shas))}) "
            f"AND collection IN ({','.join('?' * len(collections))})",
            [*shas, *collections],
        )
        ok = {r["sha256"] for r in rows}
        return {i for i in ids if i.split(":", 1)[0] in ok}

    def chunk_records(self, ids: Sequence[str]) -> list[ChunkRecord]:
        """Chunks by id, in the order asked, with their document's title and one path."""
        out: list[ChunkRecord] = []
        for cid in ids:
            sha, _, n = cid.partition(":")
            rows = self.query(
                "SELECT c.text, c.page_start, c.page_end, d.title, "
                "(SELECT path FROM files f WHERE f.sha256 = c.sha256 "
                "ORDER BY f.status='ready' DESC LIMIT 1) AS path "
                "FROM chunks c JOIN documents d ON d.sha256 = c.sha256 WHERE c.sha256=? AND c.n=?",
                (sha, int(n)),
            )
            if rows:
                r = rows[0]
                out.append(
                    ChunkRecord(
                        cid,
                        sha,
                        int(n),
                        r["text"],
                        r["page_start"],
                        r["page_end"],
                        r["title"],
                        r["path"] or "",
                    )
                )
        return out

    def chunk_count(self, sha256: str) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM chunks WHERE sha256=?", (sha256,))[0]["n"])

    def ready_chunk_count(self, collection: str) -> int:
        rows = self.query(
            "SELECT COUNT(*) AS n FROM chunks WHERE sha256 IN "
            "(SELECT DISTINCT sha256 FROM files WHERE collection=? AND status='ready')",
            (collection,),
        )
        return int(rows[0]["n"])

    def ready_file_count(self) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM files WHERE status='ready'")[0]["n"])

    def requeue_ready(self, collection: str | None = None) -> int:
        """Mark ready files queued again (their vectors must be rebuilt from the stored text)."""
        with self.transaction() as db:
            if collection is None:
                cur = db.execute(
                    "UPDATE files SET status='queued', updated=? WHERE status='ready'", (time.time(),)
                )
            else:
                cur = db.execute(
                    "UPDATE files SET status='queued', updated=? WHERE status='ready' AND collection=?",
                    (time.time(), collection),
                )
            return cur.rowcount

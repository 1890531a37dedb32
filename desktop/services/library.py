"""The document library: add documents (PDF, Word, text, Markdown, HTML) to named collections, index
them (text + FTS5 + vectors), search.

Identity is the content sha256: re-adding an unchanged file costs a stat, a changed one is
replaced, a moved or renamed one is recognised by its hash. A document is `ready` only after its
text (library.sqlite) and its vectors (Chroma, chunk id `{sha256}:{n}`, upserted so a replay
makes no duplicates) are both committed; anything else resumes on the next add or `resume_job`.
While one document's vectors are computed, the next one is already being read (a PDF in its
worker process), so extraction and embedding overlap. Files are read by services/readers, which
picks the reader by file type; a file no reader takes gets its reason row like any bad file.

API for the window (every job runs on the index lane; see DESIGN.md):
- `add_job(paths, collection)`: add files/folders, then index everything pending.
- `reindex_job(paths, collection)`: read the given files (or folders) again from disk and
  recompute their text, passages and vectors, even when unchanged (after a pypdf upgrade, or to
  retry a file that failed); files not yet in the collection are added. Returns AddResult.
- `resume_job()`: finish what an earlier run left queued or half-indexed.
- Indexing yields `FileProgress` events (a `Progress`, so progress bars need nothing new):
  `done`/`total` pages of the whole run, `label` = the file's name for people, and, for
  machines, `path` = the file's path exactly as `files()` lists it (FileRow.path) and
  `collection` = its collection, so (collection, path) names the row being worked on. While
  files are registered (`unit == "files"`) `path` is the file being looked at. Events with
  `path == ""` are about the run as a whole.
- Per-file outcome: `files(collection)` -> FileRow.status (queued | indexing | ready | error)
  and reason/message/hint for errors.

The team library (services/library_remote.py), when the settings name a Chroma server: a
collection named `team:NAME` is shared. Adding to it reads files exactly as for a local one (same
readers, limits and reasons) but sends the passages, their vectors and citation metadata to the
server instead of the local vector index; the shared documents other people added are cached in
library.sqlite under the same `team:NAME` (rebuildable: dropped and filled again from the server).
A question over both searches the local index and the server by vector, and the cache's FTS5 by
keyword, fused as for local collections. A server that does not answer leaves the user's own
collections working, with a notice (`with_notices`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from desktop.core.chunking import chunk_pages
from desktop.core.errors import AppError, Cancelled, DocumentError, StorageError
from desktop.core.events import Event, Notice, Progress
from desktop.core.jobs import CancelToken
from desktop.core.types import Page
from desktop.services import readers
from desktop.services.embeddings import LEGACY_PRECISION, Embedder
from desktop.services.files import NotRegularFile, check_regular
from desktop.services.library_remote import (
    SHARED_PREFIX,
    TeamDocument,
    TeamLibrary,
    TeamUnavailable,
    is_shared,
    team_name,
)
from desktop.services.library_store import ChunkRecord, FileRow, LibraryStore
from desktop.services.library_vectors import VectorIndex, check_health, low_on_space, quarantine
from desktop.services.paths import data_dir

log = logging.getLogger("desktop.library")

DEFAULT_COLLECTION = "default"
EMBED_BATCH = 32
EMBEDDER_KEY = "embedder"  # library.sqlite meta: the Embedder.identity that made the vectors
DOCUMENT_SUFFIXES = readers.SUFFIXES  # what a folder is searched for
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FileProgress(Progress):
    """Indexing progress naming the file worked on: `path` as in FileRow.path, and its collection."""

    path: str = ""
    collection: str = ""
    pages: int = 0  # the file's own page count, once it is known (0: not yet)


@dataclass
class AddResult:
    added: int = 0
    unchanged: int = 0
    replaced: int = 0
    moved: int = 0
    ready: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (path, reason, message)
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "moved": self.moved,
            "ready": self.ready,
            "failed": [{"path": p, "reason": r, "message": m} for p, r, m in self.failed],
            "pages": self.pages,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 2),
        }


# Files refused before their content could be read are kept under `refused:<sha256 of the path>`.
REFUSED_PREFIX = "refused:"


def file_sha256(path: Path) -> str:
    from desktop.services.files import open_regular

    h = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (whatever their name: a bad one gets its reason), folders searched for the
    documents Hearth reads (by suffix: a folder's pictures and spreadsheets are not refused one by one)."""
    out: list[Path] = []
    for raw in paths:
        given = Path(raw).expanduser().absolute()
        p = given.resolve()
        if not (p.is_file() or p.is_dir()):  # a link to a pipe or device keeps the name the user gave
            p = given
        if p.is_dir():
            # Not only regular files: a pipe or a device link named *.pdf gets its reason row too.
            out.extend(
                sorted(f for f in p.rglob("*") if f.suffix.lower() in DOCUMENT_SUFFIXES and not f.is_dir())
            )
        else:
            out.append(p)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


class _DataDirLock:
    """One Hearth process per data dir: a second one's index additions would be invisible to the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "a+")  # noqa: SIM115 (held open for the library's lifetime)
        try:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no fcntl; the window itself is single-instance there
            pass
        except OSError as exc:
            self._fh.close()
            raise StorageError(
                "Another Hearth is already using this document library.",
                "Close the other Hearth window or command and try again "
                "(or set HEARTH_DATA_DIR to use a separate library).",
                detail=f"lock held: {path}",
            ) from exc
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # closing the descriptor releases the flock


class Library:
    """Documents, chunks and vectors under one data dir. Owned by one lane (not thread-safe for writes)."""

    def __init__(
        self,
        root: Path | None = None,
        embedder: Embedder | None = None,
        *,
        check_index: bool = True,
        team: TeamLibrary | bool | None = True,
    ) -> None:
        """`team`: the team library; True (default) = the one this data dir's settings name, if any."""
        self.root = root or data_dir()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = _DataDirLock(self.root / "library.lock")
        try:
            self.store = LibraryStore(self.root / "library.sqlite")
        except BaseException:
            self._lock.release()
            raise
        self.vectors = VectorIndex(self.root / "vectors")
        self.embedder = embedder or Embedder()
        self.notices: list[Notice] = []  # things to tell the user once (index rebuilt …)
        self.team: TeamLibrary | None = self._open_team() if team is True else (team or None)
        self._team_synced = False
        self._team_reported = False
        if check_index:
            self._check_index()

    # -- lifecycle

    def close(self) -> None:
        if self.team is not None:
            self.team.close()
        self.vectors.close()
        self.store.close()
        self._lock.release()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_index(self) -> None:
        path = self.vectors.path
        if self._check_embedder():
            return
        ok, detail = check_health(path)
        disk_full = "disk is full" in detail.lower() or "no space" in detail.lower()
        if not ok and (disk_full or low_on_space(path)):
            # A full disk makes a healthy index fail to open: never set it aside for that.
            raise StorageError(
                "The disk holding your library is full, so Hearth cannot open the document index.",
                "Free some space and try again; nothing in your library was lost.",
                detail=detail,
            )
        if not ok:
            moved = quarantine(path)
            n = self.store.requeue_ready()
            self._drop_team_cache()
            self.notices.append(
                Notice(
                    "The document index was damaged; Hearth set it aside and is rebuilding it from "
                    f"your library ({n} document(s) to re-index, no document needs reading again).",
                    "warning",
                    {"quarantined": str(moved), "detail": detail},
                )
            )
            log.warning("vector index unhealthy (%s); quarantined to %s", detail, moved)
            return
        # A healthy index can still miss vectors (an add that failed on a full disk, or an index
        # folder that is gone altogether): "ready" means text and vectors, so re-embed what is missing.
        for name in self.store.collections():
            if is_shared(name):  # the team library's vectors are on its server
                continue
            expected = self.store.ready_chunk_count(name)
            if expected and (not path.exists() or self.vectors.count(name) < expected):
                n = self.store.requeue_ready(name)
                self.notices.append(
                    Notice(
                        f"Some passages of collection “{name}” were missing from the index; "
                        f"re-indexing {n} document(s).",
                        "warning",
                    )
                )

    def consistency(self) -> list[str]:
        """Every ready document has as many vectors as passages, and no vector is duplicated or
        orphaned. The problems found, in words (empty: consistent). After any recovery, and in
        `hearth doctor`."""
        problems: list[str] = []
        for name in self.store.collections():
            if is_shared(name):  # the team library's vectors are on its server
                continue
            ids = self.vectors.document_ids(name) if self.vectors.path.exists() else []
            if len(ids) != len(set(ids)):
                problems.append(f"collection “{name}”: {len(ids) - len(set(ids))} duplicated vector id(s)")
            per_doc: dict[str, int] = {}
            for i in set(ids):
                per_doc[i.split(":", 1)[0]] = per_doc.get(i.split(":", 1)[0], 0) + 1
            for row in self.store.files(collection=name):
                if row.status != "ready":
                    continue
                passages = self.store.chunk_count(row.sha256)
                vectors = per_doc.get(row.sha256, 0)
                if passages != vectors:
                    problems.append(
                        f"{Path(row.path).name} in “{name}”: {passages} passages but {vectors} vectors"
                    )
        return problems

    def _check_embedder(self) -> bool:
        """Vectors made by another embedder (model, precision) are not comparable: rebuild them.

        The stored passages are re-embedded; no PDF is read again. True when the index was set aside.
        Order matters for crashes: index aside, documents requeued, then the new identity recorded.
        """
        identity = getattr(self.embedder, "identity", None)
        if not isinstance(identity, str):  # a stand-in embedder without one
            return False
        stored = self.store.get_meta(EMBEDDER_KEY)
        if stored is None and hasattr(self.embedder, "identity_as"):
            # Made before identities were recorded: by this folder's model at fp32.
            stored = self.embedder.identity_as(LEGACY_PRECISION)
            if stored == identity:
                self.store.set_meta(EMBEDDER_KEY, identity)
        if stored == identity:
            return False
        path = self.vectors.path
        has_vectors = path.exists() or self.store.ready_file_count() > 0
        if not has_vectors:  # a new library: nothing to rebuild
            self.store.set_meta(EMBEDDER_KEY, identity)
            return False
        moved = quarantine(path) if path.exists() else None
        n = self.store.requeue_ready()
        self._drop_team_cache()
        self.store.set_meta(EMBEDDER_KEY, identity)
        if moved is not None:
            # Not damaged, only made by another embedder: nothing worth keeping for inspection.
            shutil.rmtree(moved, ignore_errors=True)
        self.notices.append(
            Notice(
                "Hearth's embedding model changed, so the document index is being rebuilt from your "
                f"library ({n} document(s) to re-index, no document needs reading again).",
                "info",
                {"was": stored or "(not recorded)", "now": identity},
            )
        )
        log.info("embedder changed (%s -> %s): vectors rebuilt, %d file(s) requeued", stored, identity, n)
        return True

    # -- reading

    def collections(self) -> list[str]:
        self.sync_team()
        return self.store.collections()

    def files(self, collection: str | None = None) -> list[FileRow]:
        """Files with their status; a document whose PDF names no title is shown by each file's own
        name (copies of one PDF under several names no longer all carry the first one's)."""
        self.sync_team()
        return [
            r if r.title else replace(r, title=Path(r.path).stem)
            for r in self.store.files(collection=collection)
        ]

    def find_document(self, name: str, collections: Sequence[str] | None = None) -> FileRow:
        """The one ready document matched by file name (exactly), else by part of its path or
        title, in `collections` (default: all). A clear error for none or several."""
        wanted = name.lower()
        rows = [
            r
            for c in (collections if collections is not None else [None])
            for r in self.files(c)
            if r.status == "ready"
        ]
        exact = [r for r in rows if Path(r.path).name.lower() == wanted]
        matches = exact or [r for r in rows if wanted in r.path.lower() or wanted in r.title.lower()]
        docs = {r.sha256: r for r in matches}
        if not docs:
            raise AppError(
                f"No ready document in your library matches {name!r}.",
                "`hearth library list` shows what is there.",
            )
        if len(docs) > 1:
            names = ", ".join(sorted(Path(r.path).name for r in docs.values())[:6])
            raise AppError(f"{name!r} matches several documents: {names}.", "Give more of the name.")
        return next(iter(docs.values()))

    def chunks(self, ids: Sequence[str]) -> list[ChunkRecord]:
        return [
            r if r.title or not r.path else replace(r, title=Path(r.path).stem)
            for r in self.store.chunk_records(ids)
        ]

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        # The team library's passages are searched by keyword in the local cache's FTS5 (BM25, as
        # for the user's own), while its server answers; once it does not, only the user's own.
        return self.store.keyword_search(query, self._searchable(collections), k)

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        if not collections:
            return []
        vector = self.embedder.encode_query(query)
        return self.vector_search_by(vector, collections, k)

    def vector_search_by(
        self, vector: Sequence[float], collections: Sequence[str], k: int
    ) -> list[tuple[str, float]]:
        self.sync_team()
        every = set(self.store.collections())
        known = [c for c in collections if c in every and not is_shared(c)]
        shared = [c for c in self._searchable(collections) if c in every and is_shared(c)]
        hits = self.vectors.query(known, vector, k) if known or not shared else []
        ok = self.store.ready_ids([h[0] for h in hits], known)
        hits = [h for h in hits if h[0] in ok]
        if shared:
            hits = sorted(hits + self._team_search(shared, vector, k), key=lambda h: h[1])[:k]
        return hits

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors of `texts` by the library's embedder (rag scores evidence with them)."""
        return [[float(x) for x in row] for row in self.embedder.encode(list(texts))]

    def pages(self, sha256: str, first: int | None = None, last: int | None = None) -> list[Page]:
        """Stored page texts of a document (all, or `first`..`last`); rag cites pages with them."""
        return self.store.pages_of(sha256, first, last)

    def ready_file(self, path: str | Path) -> FileRow | None:
        """The library's ready row for the file at `path` (in any collection), or None."""
        key = str(Path(path).expanduser().absolute().resolve())
        return next((r for r in self.store.files() if r.path == key and r.status == "ready"), None)

    def stored_pages(self, path: str | Path) -> list[Page] | None:
        """The stored pages of the ready document at `path`, if the file is unchanged since it was
        read (same size and modification time); None otherwise. A summary of a library document
        uses them, so the file is not read again and its pages are the ones citations name."""
        row = self.ready_file(path)
        if row is None:
            return None
        try:
            st = check_regular(Path(row.path))
        except OSError:
            return None
        if (row.size, row.mtime_ns) != (st.st_size, st.st_mtime_ns):
            return None
        return self.pages(row.sha256) or None

    # -- changing

    def remove(self, paths: Iterable[str | Path], collection: str = DEFAULT_COLLECTION) -> int:
        """Forget files (or whole folders) in a collection; returns how many were removed."""
        targets = {str(Path(p).expanduser().resolve()) for p in paths}
        rows = [
            r
            for r in self.store.files(collection=collection)
            if r.path in targets or any(r.path.startswith(t.rstrip(os.sep) + os.sep) for t in targets)
        ]
        for row in rows:
            self._drop_file(row)
        self.store.drop_orphan_documents()
        return len(rows)

    def prune(self, collection: str | None = None) -> int:
        """Forget files that no longer exist on disk."""
        rows = [
            r
            for r in self.store.files(collection=collection)
            if not Path(r.path).exists() and not _cached(r)  # a shared document is not a file here
        ]
        for row in rows:
            self._drop_file(row)
        self.store.drop_orphan_documents()
        return len(rows)

    def remove_collection(self, name: str) -> None:
        self.vectors.drop(name)
        self.store.delete_collection(name)
        self.store.drop_orphan_documents()

    def _drop_file(self, row: FileRow) -> None:
        self.store.delete_file(row.collection, row.path)
        if is_shared(row.collection):
            return  # forgotten here only: the team library keeps it for everyone
        if not self.store.sha_in_collection(row.collection, row.sha256):
            # SQLite first: if we die before Chroma forgets, the stale vectors are filtered out.
            self.vectors.delete_document(row.collection, row.sha256)

    # -- team library

    def _open_team(self) -> TeamLibrary | None:
        """The team library this data dir's settings name (none: no settings file, or no server)."""
        path = self.root / "settings.json"
        if not path.is_file():
            return None
        from desktop.core.settings import SettingsStore
        from desktop.services.library_remote import team_from_settings

        settings = SettingsStore(path)
        if not str(settings["library_server_url"]).strip():
            return None
        identity = getattr(self.embedder, "identity", None)
        team, notice = team_from_settings(settings, identity if isinstance(identity, str) else None)
        if notice:
            self.notices.append(Notice(notice, "warning"))
        return team

    def sync_team(self, force: bool = False) -> None:
        """Fill the local cache of the team library from its server (once per run unless `force`):
        each shared collection, each document complete on the server that is not here yet."""
        if self.team is None or (self._team_synced and not force) or self.team.down:
            return
        self._team_synced = True
        try:
            for name in self.team.collections():
                self._sync_collection(name)
        except AppError as exc:  # not answering, or refusing (another embedder)
            self._team_failed(exc)
        finally:
            self.store.drop_orphan_documents()

    def _sync_collection(self, name: str) -> None:
        assert self.team is not None
        local = SHARED_PREFIX + name
        self.store.ensure_collection(local)
        docs = self.team.documents(name)
        rows = self.store.files(collection=local)
        for sha, doc in docs.items():
            mine = [r for r in rows if r.sha256 == sha]
            if any(r.status == "ready" for r in mine):
                continue
            stored = self.store.document(sha)
            if stored is None or not stored["text_ready"]:
                chunks = self.team.passages(name, sha)
                if len(chunks) != doc.chunks:  # being replaced on the server right now: next time
                    continue
                self.store.save_text(sha, doc.title, doc.size, False, self.team.pages(name, sha), chunks)
            if mine:  # this user's own add of it, finished by someone else
                self.store.set_status(local, sha, "ready")
                continue
            taken = {r.path for r in rows}
            shown = doc.file or sha[:12]
            if shown in taken:
                stem, suffix = os.path.splitext(shown)
                shown = f"{stem} ({sha[:8]}){suffix}"
            self.store.upsert_file(local, shown, sha, doc.size, 0, "ready")
        for r in rows:  # gone from the server: gone from the cache
            if _cached(r) and r.sha256 not in docs:
                self.store.delete_file(local, r.path)

    def _drop_team_cache(self) -> None:
        """Forget the cached team library (after a rebuild requeued everything); it is filled
        again from the server."""
        for name in self.store.collections():
            if is_shared(name):
                self.store.delete_collection(name)
        self.store.drop_orphan_documents()
        self._team_synced = False

    def _searchable(self, collections: Sequence[str]) -> list[str]:
        """`collections` without the shared ones unless the team library's server answers."""
        if self.team is not None and not self.team.down:
            return list(collections)
        return [c for c in collections if not is_shared(c)]

    def _team_search(self, shared: Sequence[str], vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        assert self.team is not None
        try:
            hits = self.team.query([team_name(c) for c in shared], vector, k)
            ok = self.store.ready_ids([h[0] for h in hits], shared)
            if len(ok) < len(hits):  # added on the server since this run's sync
                self.sync_team(force=True)
                ok = self.store.ready_ids([h[0] for h in hits], shared)
        except AppError as exc:  # not answering, or refusing (another embedder)
            self._team_failed(exc)
            return []
        return [h for h in hits if h[0] in ok]

    def _team_failed(self, exc: AppError) -> None:
        """The team library is left out for the rest of this run, and the user told so once."""
        if self.team is None:
            return
        if not self.team.down:
            self.team.down = exc.user_message
        if self._team_reported:
            return
        self._team_reported = True
        if isinstance(exc, TeamUnavailable):
            message = f"The team library at {self.team.address.display} did not answer; answered from your "
            message += "own documents only."
        else:
            message = f"{exc.user_message} Answered from your own documents only."
        self.notices.append(Notice(message, "warning", {"server": self.team.url, "detail": exc.detail or ""}))

    def take_notices(self) -> list[Notice]:
        out, self.notices = self.notices, []
        return out

    def with_notices(
        self, job: Callable[[CancelToken], Generator[Event, None, T]]
    ) -> Callable[[CancelToken], Generator[Event, None, T]]:
        """`job`, with the library's notices (the team library not answering …) yielded as they
        arise, before the event that follows them."""

        def wrapped(cancel: CancelToken) -> Generator[Event, None, T]:
            inner = job(cancel)
            while True:
                try:
                    event = next(inner)
                except StopIteration as stop:
                    yield from self.take_notices()
                    return stop.value
                yield from self.take_notices()
                yield event

        return wrapped

    def _share(
        self,
        col: str,
        sha: str,
        label: str,
        path: str,
        page_count: int,
        progress: _ProgressMeter,
        result: AddResult,
        cancel: CancelToken,
    ) -> Generator[Event, None, None]:
        """Index a document into the team library: its passages, vectors and pages go to the
        server (upserts under content-hash ids: two people adding it at once make one copy)."""
        team = self.team
        if team is None:
            raise AppError(
                "No team library server is set, so Hearth cannot add to the team library.",
                "Name it with: hearth settings set library_server_url http://HOST:PORT",
            )
        name = team_name(col)
        self.store.set_status(col, sha, "indexing")
        chunks = self.store.chunks_of(sha)
        doc = self.store.document(sha)
        title = str(doc["title"]) if doc is not None else ""
        file = Path(path).name if path else sha[:12]
        share = page_count / max(1, len(chunks))
        try:
            if not team.has_document(name, sha):
                for at in range(0, len(chunks), EMBED_BATCH):
                    cancel.raise_if_cancelled()
                    batch = chunks[at : at + EMBED_BATCH]
                    vectors = self.embedder.encode([c.text for c in batch], batch_size=EMBED_BATCH)
                    team.upsert_passages(name, batch, vectors, title, file)
                    progress.embedded(share * len(batch))
                    yield progress.event(label, path, col, page_count)
                size = int(doc["size"]) if doc is not None else 0
                pages = self.store.pages_of(sha)
                team.publish(name, TeamDocument(sha, title, file, size, len(pages), len(chunks)), pages)
            else:
                progress.embedded(page_count)
        except TeamUnavailable as exc:
            raise TeamUnavailable(
                exc.user_message + " The documents not yet shared are kept queued.",
                "Run the same add again when the server answers: it resumes where it stopped.",
                detail=exc.detail,
            ) from exc
        self.store.set_status(col, sha, "ready")
        result.ready += 1
        result.pages += page_count
        result.chunks += len(chunks)

    # -- indexing

    def add_job(
        self, paths: Sequence[str | Path], collection: str = DEFAULT_COLLECTION
    ) -> Callable[[CancelToken], Generator[Event, None, AddResult]]:
        """A job: register the files, then index everything pending (this add and earlier ones)."""

        def job(cancel: CancelToken) -> Generator[Event, None, AddResult]:
            result = AddResult()
            start = time.perf_counter()
            yield from self.notices
            self.notices.clear()
            yield from self._register(
                expand_paths(paths), collection.strip() or DEFAULT_COLLECTION, result, cancel
            )
            yield from self._index_pending(result, cancel)
            result.seconds = time.perf_counter() - start
            return result

        return job

    def reindex_job(
        self, paths: Sequence[str | Path], collection: str = DEFAULT_COLLECTION
    ) -> Callable[[CancelToken], Generator[Event, None, AddResult]]:
        """A job: read these files again and recompute their passages and vectors, changed or not.

        The documents' stored text is dropped and every file holding them (in any collection)
        is queued, so other collections get the new passages too. Vectors go first: if the run
        dies in between, the start-up check sees a ready document short of vectors and re-embeds.
        """

        def job(cancel: CancelToken) -> Generator[Event, None, AddResult]:
            result = AddResult()
            start = time.perf_counter()
            yield from self.notices
            self.notices.clear()
            name = collection.strip() or DEFAULT_COLLECTION
            files = expand_paths(paths)
            yield from self._register(files, name, result, cancel)
            wanted = {str(p) for p in files}
            shas = dict.fromkeys(r.sha256 for r in self.store.files(collection=name) if r.path in wanted)
            for sha in shas:
                cancel.raise_if_cancelled()
                for col in {r.collection for r in self.store.files(sha256=sha)}:
                    self.vectors.delete_document(col, sha)
                self.store.forget_text(sha)
            yield from self._index_pending(result, cancel)
            result.seconds = time.perf_counter() - start
            return result

        return job

    def resume_job(self) -> Callable[[CancelToken], Generator[Event, None, AddResult]]:
        """A job that finishes whatever an earlier run left queued or half-indexed."""
        return self.add_job([], DEFAULT_COLLECTION)

    def _register(
        self, files: list[Path], collection: str, result: AddResult, cancel: CancelToken
    ) -> Generator[Event, None, None]:
        self.store.ensure_collection(collection)
        existing = {r.path: r for r in self.store.files(collection=collection)}
        for i, path in enumerate(files):
            cancel.raise_if_cancelled()
            if len(files) > 20 and i % 20 == 0:
                yield FileProgress(i, len(files), path.name, "files", path=str(path), collection=collection)
            key = str(path)
            row = existing.get(key)
            try:
                st = check_regular(path)
            except NotRegularFile as exc:
                self._refuse(collection, key, row, "not_regular_file", f"It is {exc.kind}.", result)
                continue
            except OSError:
                result.failed.append((key, "not_found", "The file could not be found."))
                continue
            unchanged = row is not None and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns
            if unchanged and row is not None and not row.sha256.startswith(REFUSED_PREFIX):
                result.unchanged += 1
                continue
            try:
                sha = file_sha256(path)
            except NotRegularFile as exc:  # swapped for a pipe or device since the check above
                self._refuse(collection, key, row, "not_regular_file", f"It is {exc.kind}.", result)
                continue
            except OSError as exc:
                self._refuse(collection, key, row, "unreadable_file", str(exc.strerror or exc), result)
                continue
            if row is not None:
                if row.sha256 == sha:  # touched, not changed
                    self.store.upsert_file(collection, key, sha, st.st_size, st.st_mtime_ns, row.status)
                    result.unchanged += 1
                    continue
                self.store.upsert_file(
                    collection, key, sha, st.st_size, st.st_mtime_ns, self._status_for(collection, sha)
                )
                if not self.store.sha_in_collection(collection, row.sha256):
                    self.vectors.delete_document(collection, row.sha256)
                result.replaced += 1
                continue
            # A file we know by content whose old path is gone: moved or renamed.
            gone = [
                r for r in self.store.files(collection=collection, sha256=sha) if not Path(r.path).exists()
            ]
            if gone:
                self.store.move_file(collection, gone[0].path, key, st.st_size, st.st_mtime_ns)
                existing.pop(gone[0].path, None)
                result.moved += 1
                continue
            self.store.upsert_file(
                collection, key, sha, st.st_size, st.st_mtime_ns, self._status_for(collection, sha)
            )
            result.added += 1
        self.store.drop_orphan_documents()

    def _refuse(
        self, collection: str, key: str, row: Any, reason: str, detail: str, result: AddResult
    ) -> None:
        """A file that cannot be read at all (no content, so no sha256) still gets its row and its
        reason in the library, under a stand-in identity per path, until it can be read."""
        error = readers.refusal(reason, detail)
        message, hint = error.user_message, error.hint
        result.failed.append((key, reason, f"{message} ({detail})"))
        stand_in = REFUSED_PREFIX + hashlib.sha256(key.encode()).hexdigest()
        self.store.save_failure(stand_in, Path(key).name, 0, reason, f"{message} ({detail})", hint)
        self.store.upsert_file(collection, key, stand_in, -1, -1, "error")
        old = row.sha256 if row is not None else stand_in
        if old != stand_in and not self.store.sha_in_collection(collection, old):
            self.vectors.delete_document(collection, old)

    def _status_for(self, collection: str, sha: str) -> str:
        if self.store.ready_in_collection(collection, sha):
            return "ready"
        doc = self.store.document(sha)
        if doc is not None and doc["reason"]:
            return "error"
        return "queued"

    def _source_path(self, collection: str, sha: str) -> Path | None:
        rows = self.store.files(sha256=sha)
        rows.sort(key=lambda r: r.collection != collection)
        for r in rows:
            if Path(r.path).is_file():
                return Path(r.path)
        return Path(rows[0].path) if rows else None

    def _index_pending(self, result: AddResult, cancel: CancelToken) -> Generator[Event, None, None]:
        work = self.store.pending()
        if self.team is None:  # shared documents wait for a team library server
            work = [(col, sha) for col, sha in work if not is_shared(col)]
        if not work:
            return
        self._warm_embedder()
        # Page totals: known for extracted documents; others are inspected cheaply up front.
        sizes: dict[str, int] = {}
        for _, sha in work:
            if sha in sizes:
                continue
            doc = self.store.document(sha)
            if doc is not None and doc["text_ready"]:
                sizes[sha] = int(doc["page_count"])
            else:
                src = self._source_path("", sha)
                try:
                    sizes[sha] = readers.inspect(src).page_count if src else 0
                except DocumentError:
                    sizes[sha] = 0
        total = max(1, sum(sizes[sha] for _, sha in work))
        progress = _ProgressMeter(total)
        extracting: dict[str, Future[tuple[Any, list[Page]] | DocumentError]] = {}
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="document-prefetch")

        def prefetch(index: int) -> None:
            # Parse the next document (in its worker process) while this one is embedded.
            if index >= len(work):
                return
            col, sha = work[index]
            doc = self.store.document(sha)
            if sha in extracting or (doc is not None and doc["text_ready"]):
                return
            src = self._source_path(col, sha)
            extracting[sha] = pool.submit(self._extract, src, sha, cancel, progress)

        try:
            prefetch(0)
            for i, (col, sha) in enumerate(work):
                cancel.raise_if_cancelled()
                src = self._source_path(col, sha)
                label = src.name if src else sha[:12]
                where = {"path": str(src) if src else "", "collection": col}
                yield progress.event(label, path=where["path"], collection=where["collection"])
                doc = self.store.document(sha)
                if doc is None or not doc["text_ready"]:
                    if sha not in extracting:
                        prefetch(i)
                    future = extracting.pop(sha)
                    while not future.done():
                        future_wait(future, 0.25)
                        yield progress.event(label, path=where["path"], collection=where["collection"])
                    outcome = future.result()
                    if isinstance(outcome, DocumentError):
                        self.store.save_failure(
                            sha, src.stem if src else "", src.stat().st_size if src and src.exists() else 0,
                            outcome.reason, outcome.user_message, outcome.hint,
                        )  # fmt: skip
                        result.failed.append((str(src), outcome.reason, outcome.user_message))
                        progress.skip(sizes.get(sha, 0))
                        prefetch(i + 1)
                        continue
                    info, pages = outcome
                    sizes[sha] = len(pages)  # inspect's count is an estimate for text types
                    if info.truncated:
                        yield Notice(f"{label}: {info.truncated}.", "warning", {"path": where["path"]})
                    for notice in info.notices:
                        yield Notice(f"{label}: {notice}.", "warning", {"path": where["path"]})
                    chunks = chunk_pages(sha, pages)
                    # Many PDFs carry an ID or a tool name as title: then none is stored, and each
                    # file is shown by its own name (Library.files, Library.chunks).
                    title = info.title if info.title and " " in info.title.strip() else ""
                    self.store.save_text(sha, title, info.file_size, info.encrypted, pages, chunks)
                prefetch(i + 1)
                yield from self._embed(
                    col, sha, label, where["path"], sizes.get(sha, 0), progress, result, cancel
                )
        except Cancelled:
            for future in extracting.values():
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _warm_embedder(self) -> None:
        """Load the embedder in the background while the first PDFs are inspected and parsed.

        Loading costs seconds (torch, the model); parsing runs in worker processes, so the two overlap.
        A failed load is not lost: `encode` loads again and raises the error where it is handled.
        """
        if getattr(self.embedder, "loaded", True):
            return

        def load() -> None:
            try:
                self.embedder.load()
            except Exception:  # reported by the first encode, in the job
                log.debug("background embedder load failed", exc_info=True)

        threading.Thread(target=load, name="embedder-load", daemon=True).start()

    def _extract(
        self, src: Path | None, sha: str, cancel: CancelToken, progress: _ProgressMeter
    ) -> tuple[Any, list[Page]] | DocumentError:
        if src is None:
            return readers.refusal("not_found", sha)
        try:
            return readers.extract(src, cancel, lambda done, total: progress.extracted(1))
        except DocumentError as exc:
            return exc

    def _embed(
        self,
        col: str,
        sha: str,
        label: str,
        path: str,
        page_count: int,
        progress: _ProgressMeter,
        result: AddResult,
        cancel: CancelToken,
    ) -> Generator[Event, None, None]:
        if is_shared(col):
            yield from self._share(col, sha, label, path, page_count, progress, result, cancel)
            return
        self.store.set_status(col, sha, "indexing")
        chunks = self.store.chunks_of(sha)
        share = page_count / max(1, len(chunks))
        for at in range(0, len(chunks), EMBED_BATCH):
            cancel.raise_if_cancelled()
            batch = chunks[at : at + EMBED_BATCH]
            vectors = self.embedder.encode([c.text for c in batch], batch_size=EMBED_BATCH)
            metas = [{"doc": sha, "n": c.index, "p0": c.page_start, "p1": c.page_end} for c in batch]
            self.vectors.upsert(col, [c.id for c in batch], vectors, metas)
            progress.embedded(share * len(batch))
            yield progress.event(label, path, col, page_count)
        self.store.set_status(col, sha, "ready")
        result.ready += 1
        result.pages += page_count
        result.chunks += len(chunks)


def _cached(row: FileRow) -> bool:
    """A row of the team library's cache (a document someone shared), not a file on this computer."""
    return is_shared(row.collection) and not Path(row.path).is_absolute()


def future_wait(future: Future[Any], timeout: float) -> None:
    try:
        future.exception(timeout=timeout)
    except Exception:  # TimeoutError, or the future's own error (read later via result())
        pass


class _ProgressMeter:
    """Pages done of total: half a page when extracted, the other half when its vectors are in."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._done = 0.0
        self._lock = threading.Lock()
        self._start = time.perf_counter()

    def extracted(self, pages: float) -> None:
        with self._lock:
            self._done += 0.5 * pages

    def embedded(self, pages: float) -> None:
        with self._lock:
            self._done += 0.5 * pages

    def skip(self, pages: float) -> None:
        with self._lock:
            self._done += 0.5 * pages  # its extraction half was counted as it went

    def event(self, label: str, path: str = "", collection: str = "", pages: int = 0) -> FileProgress:
        with self._lock:
            done = min(self._done, float(self.total))
        elapsed = time.perf_counter() - self._start
        eta = elapsed / done * (self.total - done) if done > 0.5 and elapsed > 1 else None
        return FileProgress(
            int(done), self.total, label, "pages", eta, path=path, collection=collection, pages=pages
        )

"""The vector index: a ChromaDB PersistentClient under data_dir()/vectors, derived from library.sqlite.

Chroma gets our own embeddings (never its embedding functions, which download a model). Its
files have been seen unloadable after a disk-full and corrupt ones can crash the loader, so
`check_health` opens the index in a child process first; `quarantine` moves a bad one aside so
the library can rebuild it from SQLite.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop.core.errors import StorageError
from desktop.services import child

log = logging.getLogger("desktop.library")

HEALTH_TIMEOUT_S = 120.0


def chroma_name(collection: str) -> str:
    """Chroma accepts only [a-zA-Z0-9._-] names of 3–512 characters; library names are free text."""
    return "lib-" + hashlib.sha1(collection.encode("utf-8")).hexdigest()[:20]


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def is_disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "disk is full" in text or "no space" in text or getattr(exc, "errno", None) == 28


def storage_error(exc: BaseException, what: str, where: Path | None = None) -> StorageError:
    """`where`: a path on the disk written to; SQLite reports a full disk as a plain
    "disk I/O error" when it cannot even grow its journal, so the free space decides then."""
    if is_disk_full(exc) or (where is not None and low_on_space(where)):
        return StorageError(
            "The disk is full, so Hearth stopped indexing.",
            "Free some space and add the files again: what was finished is kept, the rest resumes.",
            detail=f"{what}: {exc}",
        )
    return StorageError(
        "Hearth could not write its document index.",
        "Check the disk, then add the files again; finished documents are kept.",
        detail=f"{what}: {exc}",
    )


def read_error(exc: BaseException, what: str) -> StorageError:
    """A failed read of the index, in words (never a raw chromadb traceback)."""
    if is_disk_full(exc):
        return StorageError(
            "The disk holding your library is full, so Hearth cannot search it right now.",
            "Free some space and ask again; nothing in your library was lost.",
            detail=f"{what}: {exc}",
        )
    return StorageError(
        "Hearth could not read its document index.",
        "Quit and start Hearth again: it checks the index and rebuilds it from your library if needed.",
        detail=f"{what}: {exc}",
    )


class VectorIndex:
    """One Chroma collection per library collection; ids are `{sha256}:{n}`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._client: Any = None
        self._collections: dict[str, Any] = {}

    def _open(self) -> Any:
        if self._client is None:
            import chromadb

            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._client = chromadb.PersistentClient(path=str(self.path), settings=_settings())
        return self._client

    def collection(self, name: str) -> Any:
        col = self._collections.get(name)
        if col is None:
            col = self._open().get_or_create_collection(
                chroma_name(name),
                # No names in Chroma's files: they are not encrypted (the collection's own name is
                # a hash, chroma_name); only the distance metric is stored.
                metadata={"hnsw:space": "cosine"},
                embedding_function=None,
            )
            self._collections[name] = col
        return col

    def upsert(
        self, name: str, ids: Sequence[str], vectors: Any, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        try:
            self.collection(name).upsert(ids=list(ids), embeddings=vectors, metadatas=list(metadatas))
        except Exception as exc:
            raise storage_error(exc, "vector upsert") from exc

    def delete_document(self, name: str, sha256: str) -> None:
        try:
            self.collection(name).delete(where={"doc": sha256})
        except Exception as exc:
            raise storage_error(exc, "vector delete") from exc

    def count(self, name: str) -> int:
        try:
            return int(self.collection(name).count())
        except Exception as exc:
            raise read_error(exc, "vector count") from exc

    def count_document(self, name: str, sha256: str) -> int:
        try:
            return len(self.collection(name).get(where={"doc": sha256}, include=[])["ids"])
        except Exception as exc:
            raise read_error(exc, "vector count") from exc

    def document_ids(self, name: str) -> list[str]:
        """Every vector id of a collection (the consistency check compares them with the passages)."""
        try:
            return [str(i) for i in self.collection(name).get(include=[])["ids"]]
        except Exception as exc:
            raise read_error(exc, "vector ids") from exc

    def query(self, names: Sequence[str], vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) nearest first, across the named collections."""
        hits: list[tuple[str, float]] = []
        try:
            for name in names:
                col = self.collection(name)
                n = col.count()
                if n == 0:
                    continue
                res = col.query(query_embeddings=[list(vector)], n_results=min(k, n), include=["distances"])
                hits.extend(zip(res["ids"][0], res["distances"][0], strict=True))
        except Exception as exc:
            raise read_error(exc, "vector search") from exc
        hits.sort(key=lambda h: h[1])
        return hits[:k]

    def drop(self, name: str) -> None:
        self._collections.pop(name, None)
        try:
            self._open().delete_collection(chroma_name(name))
        except Exception:  # absent already
            pass

    def close(self) -> None:
        self._collections.clear()
        if self._client is not None:
            try:
                # Chroma keeps a process-wide cache of systems per path; clearing it releases files.
                self._client._system.stop()
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
            except Exception:  # best effort on shutdown
                pass
        self._client = None


def check_health(path: Path, timeout_s: float = HEALTH_TIMEOUT_S) -> tuple[bool, str]:
    """Open the index in a child process, count and query every collection. (ok, detail)."""
    if not path.exists():
        return True, "no index yet"
    try:
        proc = child.run(
            "desktop.services.library_vectors",
            (str(path),),
            timeout=timeout_s,
            env={"ANONYMIZED_TELEMETRY": "False"},
        )
    except subprocess.TimeoutExpired:
        return False, f"health check took over {timeout_s:.0f}s"
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return False, f"exit code {proc.returncode}: {' | '.join(tail)}"
    return True, proc.stdout.strip()


KEEP_QUARANTINED = 1  # copies of a bad index kept for inspection (each can be as big as the index)


def quarantine(path: Path) -> Path:
    """Move a bad index aside (the newest copy is kept for inspection, older ones are deleted)."""
    target = path.with_name(f"{path.name}.quarantine-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = target.with_name(f"{target.name}-{n}")
        n += 1
    path.rename(target)
    log.warning("vector index quarantined to %s", target)
    for old in quarantined(path)[KEEP_QUARANTINED:]:
        shutil.rmtree(old, ignore_errors=True)
        log.info("removed an older quarantined index: %s", old)
    return target


def quarantined(path: Path) -> list[Path]:
    """Quarantined copies of the index at `path`, newest first."""
    copies = path.parent.glob(f"{path.name}.quarantine-*")
    return sorted(copies, key=lambda p: p.stat().st_mtime, reverse=True)


def low_on_space(path: Path, minimum: int = 32 * 1024**2) -> bool:
    """Whether the disk holding `path` has less than `minimum` bytes free."""
    probe = path if path.exists() else path.parent
    try:
        return shutil.disk_usage(probe).free < minimum
    except OSError:
        return False


def _health_main(path: str) -> int:
    # A corrupt index can crash the loader: that is the answer, not a core file beside Hearth's.
    child.no_core_dumps()
    child.die_with_parent()
    import chromadb

    client = chromadb.PersistentClient(path=path, settings=_settings())
    total = 0
    for col in client.list_collections():
        col = client.get_collection(col.name if hasattr(col, "name") else str(col))
        n = col.count()
        total += n
        if n:
            got = col.get(limit=1, include=["embeddings"])
            embeddings: Any = got["embeddings"]
            probe: Any = [[float(x) for x in embeddings[0]]]
            col.query(query_embeddings=probe, n_results=min(3, n), include=["distances"])
    print(f"ok: {total} vectors")
    return 0


if __name__ == "__main__":
    sys.exit(_health_main(sys.argv[1]))

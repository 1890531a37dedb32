"""Kill -9 a real `hearth library add` at random points, restart it, and check nothing was lost or doubled.

The indexer runs as its own process (`python -m desktop library add DIR`), exactly as a user runs
it. Kills land at seeded random moments, some aimed at a phase by watching the process from
outside: while a PDF worker is parsing, and right as Chroma writes vectors. After every kill the
data dir is inspected as the dead process left it: every document that was ready is still ready,
has exactly its chunks in Chroma, and is found by the library's searches.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop.services import database
from desktop.services.library import Library
from tests import pdfs

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="watches the indexer through /proc"),
]

REPO = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("HEARTH_KILL_SEED", "20240611"))
# Made-up words, one per document, so keyword search can tell the documents apart.
MARKERS = ["amberlith", "borealix", "cindervale", "dunmorrow", "elkspire", "fennoway", "glimmerholt"]
WORDS = [
    "river",
    "mountain",
    "engine",
    "copper",
    "garden",
    "window",
    "silver",
    "orbit",
    "harbour",
    "lantern",
    "meadow",
    "quarry",
    "timber",
    "signal",
    "canvas",
    "marble",
    "thunder",
    "valley",
    "beacon",
    "compass",
    "saddle",
    "orchard",
    "glacier",
    "ember",
]
# What each kill waits for before its random delay: a phase of the indexer, or just time.
PLAN = ["extraction", "chroma", "random", "chroma"]


@dataclass
class Kill:
    phase: str
    at_s: float
    ready_before: int
    ready_after: int


def _corpus(folder: Path, rng: random.Random) -> dict[str, str]:
    """Seven PDFs: six of 6 pages, one of 50 pages (two embedding batches, a long parse)."""
    folder.mkdir(parents=True)
    markers: dict[str, str] = {}
    for i, marker in enumerate(MARKERS):
        long = i == 3
        n_pages, n_words = (50, 90) if long else (6, 190)
        pages = [
            f"Report {marker} page {p + 1}. " + " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."
            for p in range(n_pages)
        ]
        stem = f"d{i}-{marker}"
        pdfs.normal(folder / f"{stem}.pdf", pages, title=f"The {marker} report")
        markers[stem] = marker
    return markers


def _spawn(data: Path, docs: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "desktop", "library", "add", str(docs)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(x) for x in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError):
        return -1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _chroma_stamp(data: Path) -> tuple[int, int, bool]:
    db = data / "vectors" / "chroma.sqlite3"
    try:
        st = db.stat()
    except OSError:
        return (0, 0, False)
    journal = (data / "vectors" / "chroma.sqlite3-journal").exists() or (
        data / "vectors" / "chroma.sqlite3-wal"
    ).exists()
    return (st.st_mtime_ns, st.st_size, journal)


def _trigger(phase: str, proc: subprocess.Popen[bytes], data: Path, rng: random.Random) -> Callable[[], bool]:
    """A predicate that turns true when the indexer is in `phase` (checked every few ms)."""
    epoch = time.time()
    db = data / "library.sqlite"
    if phase == "random":
        # Some time after this run made its first document ready: anywhere in the middle of indexing.
        delay = rng.uniform(0.0, 2.5)
        since: list[float] = []

        def later() -> bool:
            if not since and _changed_since(db, "ready", epoch):
                since.append(time.monotonic())
            return bool(since) and time.monotonic() - since[0] >= delay

        return later
    if phase == "extraction":
        # A PDF worker (`python -m desktop.services.pdf`) past its start-up whose CPU time rises is parsing.
        seen: dict[int, tuple[float, int]] = {}

        def parsing() -> bool:
            now = time.monotonic()
            for child in _children(proc.pid):
                if "desktop.services.pdf" not in _cmdline(child):
                    continue
                ticks = _cpu_ticks(child)
                first, before = seen.setdefault(child, (now, ticks))
                seen[child] = (first, ticks)
                if now - first >= 1.0 and ticks > before:
                    return True
            return False

        return parsing
    # "chroma": this run set a document to `indexing` (its vectors come next); Chroma's file changes.
    base: list[tuple[int, int, bool]] = []

    def writing() -> bool:
        stamp = _chroma_stamp(data)
        if not base:
            if _changed_since(db, "indexing", epoch):
                base.append(stamp)
            return False
        return stamp[2] or stamp != base[0]

    return writing


def _changed_since(db: Path, status: str, epoch: float) -> bool:
    """Whether some file was set to `status` after `epoch` (this run, not a killed one)."""
    if not db.exists() or database.file_form(db) != "encrypted":
        return False
    try:
        # library.sqlite is encrypted at rest: read through its key (the test's HEARTH_PASSPHRASE).
        con = database.raw_connect(f"{db.as_uri()}?mode=ro", database.unlock(db.parent), uri=True, timeout=1)
        try:
            row = con.execute(
                "SELECT COUNT(*) FROM files WHERE status=? AND updated>?", (status, epoch)
            ).fetchone()
        finally:
            con.close()
    except database.Error:
        return False
    return bool(row and row[0])


def _ready(data: Path) -> set[str]:
    con = database.raw_connect(data / "library.sqlite", database.unlock(data))
    try:
        return {r[0] for r in con.execute("SELECT sha256 FROM files WHERE status='ready'")}
    finally:
        con.close()


def _check(data: Path, must_be_ready: set[str], markers: dict[str, str]) -> set[str]:
    """The data dir as left: ready documents complete in both stores, unique ids, all searchable."""
    with Library(data, check_index=False) as lib:  # the lazy embedder never loads here
        rows = lib.files()
        ready = {r.sha256 for r in rows if r.status == "ready"}
        lost = must_be_ready - ready
        assert not lost, f"documents ready before the kill are no longer ready: {lost}"
        if "default" not in lib.collections() or not (data / "vectors").exists():
            assert not ready
            return ready
        col = lib.vectors.collection("default")
        ids = col.get(include=[])["ids"]
        assert len(ids) == len(set(ids)), "duplicate chunk ids in Chroma"
        by_doc: dict[str, set[str]] = {}
        for cid in ids:
            by_doc.setdefault(cid.split(":", 1)[0], set()).add(cid)
        for row in rows:
            if row.status != "ready":
                continue
            chunks = lib.store.chunks_of(row.sha256)
            assert [c.index for c in chunks] == list(range(len(chunks))), "gaps or repeats in SQLite chunks"
            expected = {c.id for c in chunks}
            assert by_doc.get(row.sha256, set()) == expected, f"{row.path}: Chroma and SQLite disagree"
            assert lib.vectors.count_document("default", row.sha256) == len(chunks)
            # Answerable: keyword search finds it by its own word, vector search by its own passage.
            marker = markers[Path(row.path).stem]
            kw = lib.keyword_search(marker, ["default"], 5)
            assert kw and all(i.startswith(row.sha256) for i, _ in kw), f"{marker}: keyword search"
            vec = col.get(ids=[chunks[0].id], include=["embeddings"])["embeddings"][0]
            hits = lib.vector_search_by([float(x) for x in vec], ["default"], 3)
            assert hits and hits[0][0] == chunks[0].id, f"{marker}: vector search"
            assert lib.chunks([hits[0][0]])[0].page_start == 1
        return ready


def test_kill_minus_nine_at_random_points_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    docs = tmp_path / "docs"
    markers = _corpus(docs, rng)
    data = tmp_path / "data"
    log = tmp_path / "indexer.log"
    ready: set[str] = set()
    kills: list[Kill] = []
    finished_early = False
    for phase in PLAN:
        proc = _spawn(data, docs, log)
        trigger = _trigger(phase, proc, data, rng)
        start = time.monotonic()
        while proc.poll() is None and not trigger() and time.monotonic() - start < 60:
            time.sleep(0.002)
        if proc.poll() is not None:
            assert proc.returncode == 0, log.read_text()[-3000:]
            finished_early = True
            break
        if phase != "random":
            time.sleep(rng.uniform(0.0, 0.15 if phase == "extraction" else 0.05))
        workers = [c for c in _children(proc.pid) if "desktop.services.pdf" in _cmdline(c)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        at = time.monotonic() - start
        # Orphaned PDF workers notice the closed pipe and exit on their own.
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "a PDF worker outlived its killed indexer"
        before = len(ready)
        ready = _check(data, ready, markers) if (data / "library.sqlite").exists() else set()
        kills.append(Kill(phase, round(at, 2), before, len(ready)))
    print("kills:", kills)
    assert not finished_early or len(kills) >= 3, f"the indexer finished before most kills: {kills}"
    assert {k.phase for k in kills} >= {"extraction", "chroma"}
    assert any(k.ready_after > 0 for k in kills), "no kill happened after a document was ready"

    proc = _spawn(data, docs, log)
    assert proc.wait(timeout=180) == 0, log.read_text()[-3000:]
    final = _check(data, ready, markers)
    with Library(data, check_index=False) as lib:
        rows = lib.files()
        assert len(rows) == len(markers) and {r.status for r in rows} == {"ready"}, rows
        assert final == {r.sha256 for r in rows}
        # No stale or orphan vectors: Chroma holds exactly the ready chunks.
        assert lib.vectors.count("default") == lib.store.ready_chunk_count("default")
        assert sum(r.page_count for r in rows) == 6 * 6 + 50

"""Kill -9 a real first-start encryption of plain stores at random points: nothing is ever lost, and
the next start finishes the job.

The converter runs as its own process (`python -m desktop storage unlock`, what any first start
after the upgrade does before opening a store). Kills are aimed at its phases by watching the data
dir from outside: while the encrypted copy is written, while it is verified, at the swap (the plain
file's second name exists), and at random moments. After every kill a copy of the data dir, as the
dead process left it, must hold every row in one readable form (plain or encrypted); then the
conversion goes on from there. At the end both stores are encrypted, complete, and no plain text is
left in any file.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.services import database, migration
from desktop.services.chats import SCHEMA as CHATS_SCHEMA
from desktop.services.library_store import _SCHEMA as LIBRARY_SCHEMA
from tests.procs import communicate_within, describe_exit, fail_with

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("HEARTH_KILL_SEED", "20261202"))
CANARY = "Wexford plumbago ledger of the Saltmarrow cooperative"
PAGES = 3000  # about 28 MB of library.sqlite: the copy takes a second or two to write here
# A "random" kill comes last in its round: on a fast machine the conversion may finish before it
# lands, which is fine and must not cost the aimed kills after it.
ROUNDS = [["export", "verify"], ["swap", "random"], ["chats", "export", "random"]]


def _plain_template(folder: Path) -> dict[str, tuple[int, ...]]:
    """Plain stores as Hearth wrote them before encryption; returns their fingerprints."""
    folder.mkdir(parents=True)
    rng = random.Random(SEED)
    words = ["river", "copper", "garden", "lantern", "meadow", "quarry", "timber", "signal", "canvas"]
    c = sqlite3.connect(folder / "chats.sqlite", isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.executescript(CHATS_SCHEMA)
    c.execute("BEGIN")
    for chat in range(1, 41):
        c.execute("INSERT INTO chats(title, created, updated) VALUES (?, 1, 1)", (f"Chat {chat} {CANARY}",))
        for m in range(25):
            text = f"{CANARY} {m}: " + " ".join(rng.choice(words) for _ in range(60))
            c.execute(
                "INSERT INTO messages(chat_id, role, content, created) VALUES (?, 'user', ?, 1)", (chat, text)
            )
    c.execute("COMMIT")
    c.close()
    lib = sqlite3.connect(folder / "library.sqlite", isolation_level=None)
    lib.execute("PRAGMA journal_mode=WAL")
    lib.executescript(LIBRARY_SCHEMA)
    lib.execute("BEGIN")
    lib.execute("INSERT INTO collections VALUES ('default', 1)")
    for d in range(PAGES // 100):
        sha = f"{d:064x}"
        lib.execute(
            "INSERT INTO documents(sha256, title, page_count, text_ready, added) VALUES (?, ?, 100, 1, 1)",
            (sha, f"Report {d} {CANARY}"),
        )
        lib.execute("INSERT INTO files VALUES ('default', ?, ?, 1, 1, 'ready', 1)", (f"/docs/{d}.pdf", sha))
        for p in range(1, 101):
            text = f"Page {p} of report {d}. {CANARY}. " + " ".join(rng.choice(words) for _ in range(300))
            lib.execute("INSERT INTO pages VALUES (?, ?, ?)", (sha, p, text))
            lib.execute(
                "INSERT INTO chunks(sha256, n, text, page_start, page_end) VALUES (?, ?, ?, ?, ?)",
                (sha, p - 1, text, p, p),
            )
    lib.execute("COMMIT")
    lib.close()
    return _fingerprints(folder)


def _fingerprints(folder: Path) -> dict[str, tuple[int, ...]]:
    """Every store's rows, summed up, read in whatever form it is in (plain or encrypted)."""
    out: dict[str, tuple[int, ...]] = {}
    for name, sql in (
        ("chats.sqlite", "SELECT count(*), total(length(content)), max(id) FROM messages"),
        ("library.sqlite", "SELECT count(*), total(length(text)), (SELECT count(*) FROM chunks) FROM pages"),
    ):
        path = folder / name
        form = database.file_form(path)
        key = database.unlock(folder) if form == "encrypted" else None
        conn = database.raw_connect(path, key)
        try:
            row = conn.execute(sql).fetchone()
            extra = ()
            if name == "library.sqlite":  # the full-text index came along
                extra = (
                    conn.execute(
                        "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'Saltmarrow'"
                    ).fetchone()[0],
                )
        finally:
            conn.close()
        out[name] = (*(int(x) for x in row), *extra)
    return out


def _spawn(data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "desktop", "storage", "unlock"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _trigger(phase: str, data: Path, rng: random.Random):  # type: ignore[no-untyped-def]
    lib_tmp = data / ("library.sqlite" + migration.TEMP_SUFFIX)
    start = time.monotonic()
    delay = rng.uniform(0.0, 1.5)
    sizes: list[int] = []

    def fired() -> bool:
        if phase == "random":
            return time.monotonic() - start >= delay
        if phase == "chats":
            return (data / ("chats.sqlite" + migration.TEMP_SUFFIX)).exists()
        if phase == "swap":
            return (data / ("library.sqlite" + migration.OLD_SUFFIX)).exists()
        try:
            size = lib_tmp.stat().st_size
        except FileNotFoundError:
            return False
        if phase == "export":
            return size > 0
        sizes.append(size)  # "verify": the copy stopped growing (written, being checked)
        return len(sizes) >= 15 and len(set(sizes[-15:])) == 1 and size > 1 << 20

    return fired


def test_kill_minus_nine_during_encryption_at_random_points_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    template = tmp_path / "template"
    expected = _plain_template(template)
    kills: list[tuple[str, float, str]] = []
    for n, plan in enumerate(ROUNDS):
        data = tmp_path / f"data{n}"
        shutil.copytree(template, data)
        for phase in plan:
            proc = _spawn(data)
            fired = _trigger(phase, data, rng)
            deadline = time.monotonic() + 60
            while proc.poll() is None and not fired():
                if time.monotonic() > deadline:
                    fail_with(proc, f"phase {phase} never came")
                time.sleep(0.002)
            if proc.poll() is not None:  # it finished before this phase: fine, but say so
                _out, err = communicate_within(proc, timeout=30)
                assert proc.returncode == 0, f"{describe_exit(proc.returncode)}: {err.decode()}"
                kills.append((phase, 0.0, "finished first"))
                break
            if phase in ("export", "chats"):
                time.sleep(rng.uniform(0.0, 0.3))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            # As the dead process left it (inspected on a copy, so nothing is finished here).
            left = tmp_path / f"left{n}-{phase}"
            shutil.copytree(data, left)
            forms = {name: database.file_form(left / name) for name in database.STORES}
            kills.append((phase, round(time.monotonic() - deadline + 60, 2), str(forms)))
            assert _fingerprints(left) == expected, f"rows lost after a kill at {phase}: {forms}"
            shutil.rmtree(left)
        proc = _spawn(data)
        _out, err = communicate_within(proc, timeout=180)
        assert proc.returncode == 0, err.decode()
        assert {database.file_form(data / name) for name in database.STORES} == {"encrypted"}
        assert database.conversions_pending(data) == [], list(data.iterdir())
        assert _fingerprints(data) == expected
        for path in data.rglob("*"):
            if path.is_file():
                assert CANARY.encode() not in path.read_bytes(), f"plain text left in {path.name}"
    print("kills:", kills)
    killed = [k for k in kills if k[2] != "finished first"]
    aimed = [k for k in killed if k[0] != "random"]
    assert len(aimed) >= 5, kills
    assert {k[0] for k in killed} >= {"export", "verify", "swap"}, kills

"""Plain stores from before encryption are encrypted in place on first open; whatever a killed
conversion left behind is settled by the next open, and a failed one leaves the plain store as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.core.errors import StorageError
from desktop.core.events import Progress
from desktop.services import database, migration
from desktop.services.chats import SCHEMA as CHATS_SCHEMA
from desktop.services.chats import ChatStore
from desktop.services.library_store import _SCHEMA as LIBRARY_SCHEMA
from desktop.services.library_store import LibraryStore

CANARY = "Tessaloon orchards export quince marmalade to Brindlehaven"
SHA = "cd" * 32


@pytest.fixture(autouse=True)
def _fresh_keys() -> None:
    database.forget_keys()


def plain_chats(path: Path, n: int = 50, leave_wal: bool = True) -> None:
    """chats.sqlite as Hearth wrote it before encryption; with `leave_wal`, the newest rows only in
    the WAL (the writer died before a checkpoint), as a crash or kill leaves it."""
    script = f"""
import os, sqlite3, time
c = sqlite3.connect({str(path)!r}, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.executescript({CHATS_SCHEMA!r})
c.execute("PRAGMA user_version = 3")
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("INSERT INTO chats(title, created, updated) VALUES ('Quince trade', 1, 1)")
for i in range({n}):
    c.execute("INSERT INTO messages(chat_id, role, content, created) VALUES (1, 'user', ?, ?)",
              ({CANARY!r} + f" #{{i}}", time.time()))
os._exit(0) if {leave_wal} else c.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def plain_library(path: Path, pages: int = 40) -> None:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.executescript(LIBRARY_SCHEMA)
    c.execute("INSERT INTO collections VALUES ('default', 1)")
    c.execute(
        "INSERT INTO documents(sha256, title, page_count, text_ready, added) VALUES (?, ?, ?, 1, 1)",
        (SHA, "Quince", pages),
    )
    c.execute("INSERT INTO files VALUES ('default', '/docs/q.pdf', ?, 1, 1, 'ready', 1)", (SHA,))
    for p in range(1, pages + 1):
        text = f"Page {p}. {CANARY}. " + "Filler words about orchards and harbours. " * 40
        c.execute("INSERT INTO pages VALUES (?, ?, ?)", (SHA, p, text))
        c.execute(
            "INSERT INTO chunks(sha256, n, text, page_start, page_end) VALUES (?, ?, ?, ?, ?)",
            (SHA, p - 1, text, p, p),
        )
    c.close()


def _no_canary(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            assert CANARY.encode() not in p.read_bytes(), f"plain text left in {p.name}"


def test_plain_stores_from_before_the_upgrade_are_encrypted_on_first_open_with_progress(
    data_dir: Path,
) -> None:
    plain_chats(data_dir / "chats.sqlite", n=60)
    assert (data_dir / "chats.sqlite-wal").stat().st_size > 0, "the test needs rows that are only in the WAL"
    plain_library(data_dir / "library.sqlite")
    assert database.conversions_pending(data_dir) == ["chats.sqlite", "library.sqlite"]
    events: list[Progress] = []
    database.prepare(data_dir, progress=events.append)

    assert database.conversions_pending(data_dir) == []
    assert {database.file_form(data_dir / n) for n in database.STORES} == {"encrypted"}
    assert not list(data_dir.glob("*" + migration.TEMP_SUFFIX)) and not list(
        data_dir.glob("*" + migration.OLD_SUFFIX)
    )
    _no_canary(data_dir)
    chats = ChatStore(data_dir / "chats.sqlite")
    assert len(chats.messages(1)) == 60 and chats.chats()[0].title == "Quince trade"
    assert chats._db.execute("PRAGMA user_version").fetchone()[0] == 3
    lib = LibraryStore(data_dir / "library.sqlite")
    assert len(lib.pages_of(SHA)) == 40
    assert lib.keyword_search("marmalade Brindlehaven", ["default"], 3)  # FTS5 index carried over
    labels = [e.label for e in events]
    assert labels[0] == "Encrypting chats.sqlite" and "Encrypting library.sqlite" in labels
    for name in ("chats.sqlite", "library.sqlite"):
        mine = [e for e in events if e.label.endswith(name)]
        assert [e.done for e in mine] == sorted(e.done for e in mine)
        assert mine[-1].done == mine[-1].total and mine[-1].unit == "MB"


def test_a_kill_before_the_swap_leaves_the_plain_store_and_the_next_open_finishes(data_dir: Path) -> None:
    chats = data_dir / "chats.sqlite"
    plain_chats(chats, leave_wal=False)
    tmp = chats.with_name(chats.name + migration.TEMP_SUFFIX)
    old = chats.with_name(chats.name + migration.OLD_SUFFIX)
    tmp.write_bytes(os.urandom(10_000))  # a half-written encrypted copy
    os.link(chats, old)  # the plain file's second name, made just before the swap
    assert database.at_rest_status(data_dir)["converting"] == ["chats.sqlite"]
    store = ChatStore(chats)
    assert len(store.messages(1)) == 50
    assert not tmp.exists() and not old.exists()
    assert database.file_form(chats) == "encrypted"


def test_a_kill_while_wiping_the_replaced_plain_file_is_finished_next_time(data_dir: Path) -> None:
    chats = data_dir / "chats.sqlite"
    plain_chats(chats, leave_wal=False)
    leftover = chats.with_name(chats.name + migration.OLD_SUFFIX)
    shutil.copy(chats, leftover)  # the old plain inode, still there after the swap
    ChatStore(chats).close()
    assert not leftover.exists()
    _no_canary(data_dir)


def test_the_replaced_plain_file_is_zeroed_before_it_is_unlinked(tmp_path: Path) -> None:
    path = tmp_path / "old"
    path.write_bytes(CANARY.encode() * 1000)
    keep = os.open(path, os.O_RDONLY)  # the inode stays readable through this descriptor
    try:
        migration.wipe(path)
        assert not path.exists()
        os.lseek(keep, 0, os.SEEK_SET)
        data = os.read(keep, 1 << 20)
    finally:
        os.close(keep)
    assert data == bytes(len(CANARY) * 1000)


def test_a_store_another_program_has_open_is_left_alone(data_dir: Path) -> None:
    chats = data_dir / "chats.sqlite"
    plain_chats(chats, leave_wal=False)
    hold = (
        f"import sqlite3, time\nc = sqlite3.connect({str(chats)!r})\nc.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('SELECT count(*) FROM messages').fetchone()\nprint('open', flush=True)\ntime.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        before = chats.read_bytes()
        t0 = time.monotonic()
        with pytest.raises(StorageError) as err:
            ChatStore(chats)
        assert time.monotonic() - t0 < 30
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    assert "using" in err.value.user_message and "nothing was changed" in err.value.hint.lower()
    assert chats.read_bytes() == before and not migration.leftovers(chats)


def test_without_room_for_the_copy_the_store_stays_plain_and_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = data_dir / "chats.sqlite"
    plain_chats(chats, leave_wal=False)
    before = chats.read_bytes()
    monkeypatch.setattr(
        migration.shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9, 1000)
    )  # type: ignore[attr-defined]
    with pytest.raises(StorageError) as err:
        ChatStore(chats)
    assert "free disk space" in err.value.user_message and "unchanged" in err.value.hint
    assert chats.read_bytes() == before and not migration.leftovers(chats)


def test_a_copy_that_does_not_verify_is_dropped_and_the_plain_store_kept(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = data_dir / "chats.sqlite"
    plain_chats(chats, leave_wal=False)

    def bad(tmp: Path, key: bytes | None, counts: dict[str, int]) -> None:
        raise StorageError("did not verify", "Nothing was changed.")

    real = migration._verify
    monkeypatch.setattr(migration, "_verify", bad)
    with pytest.raises(StorageError, match="did not verify"):
        ChatStore(chats)
    assert database.file_form(chats) == "plain" and not migration.leftovers(chats)
    assert sqlite3.connect(chats).execute("SELECT count(*) FROM messages").fetchone()[0] == 50
    monkeypatch.setattr(migration, "_verify", real)
    assert len(ChatStore(chats).messages(1)) == 50  # the next start converts it

"""Converting a store between plain and encrypted in place, so that a kill -9 at any point loses nothing.

The steps for `chats.sqlite` (any store alike), under the folder's lock:

1. Leftovers of a killed conversion are settled (`recover`): `chats.sqlite.converting` is never
   the truth before step 6, so it is deleted; `chats.sqlite.plain-old` is only unlinked if it is
   still a second name of the live file (the kill came before step 6), and wiped if it is the old
   plain file (the kill came during step 7).
2. The source is switched to a rollback journal (`PRAGMA journal_mode=DELETE`): this folds its
   WAL into the file and fails while another program has it open (it could go on writing to the
   file about to be replaced).
3. `ATTACH 'chats.sqlite.converting' AS target KEY …` and `SELECT sqlcipher_export('target')`,
   with progress read from the target's size; `user_version` is copied too (the export skips it).
4. Verify: every table has as many rows in the target as in the source, and the target, opened
   on its own with its key, passes `cipher_integrity_check` (each page's HMAC) and `quick_check`.
5. fsync the target.
6. Encrypting: a second name (a hard link) `chats.sqlite.plain-old` for the plain file; then
   `os.replace(target, chats.sqlite)`, atomic, and an fsync of the folder.
7. The old plain file is overwritten with zeros, fsynced and unlinked, so its text does not stay
   in the file system's free blocks (best effort: SSD wear levelling and copy-on-write file
   systems can keep old blocks; full-disk encryption is what covers those).

The plain file is never touched before the encrypted copy has been verified and made durable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path

from desktop.core.errors import StorageError
from desktop.core.events import Progress
from desktop.services import database
from desktop.services.database import DatabaseError, ProgressSink

log = logging.getLogger("desktop.migration")

TEMP_SUFFIX = ".converting"
OLD_SUFFIX = ".plain-old"
_SIDE = ("-journal", "-wal", "-shm")
_MB = 1024 * 1024


def _names(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + TEMP_SUFFIX), path.with_name(path.name + OLD_SUFFIX)


def leftovers(path: Path) -> list[Path]:
    """Files a killed conversion of `path` left behind (the next open settles them)."""
    tmp, old = _names(path)
    return [p for p in (tmp, old) if p.exists()]


def recover(path: Path) -> None:
    """Step 1: make the folder what it was before the killed conversion, or what it was to become."""
    tmp, old = _names(path)
    for p in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDE)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            log.info("removed %s, left by a conversion that did not finish", p.name)
    if not old.exists():
        return
    if not path.exists():  # not a state conversion leaves; keep the only copy under its own name
        os.replace(old, path)
    elif os.path.samefile(old, path):
        old.unlink()  # killed before the swap: just the live file's second name
    else:
        wipe(old)  # killed while wiping the replaced plain file


def settle(path: Path, key: bytes | None, progress: ProgressSink | None = None) -> None:
    """Bring `path` to the form its folder wants (encrypted with `key`, or plain when None)."""
    want = "plain" if key is None else "encrypted"
    if not leftovers(path) and database.file_form(path) in ("absent", "empty", want):
        return  # the usual case: two stats and a 16-byte read
    with database.folder_lock(path.parent):
        recover(path)
        form = database.file_form(path)
        if form in ("absent", "empty", want):
            return
        if form == "encrypted":
            raise database.StoreUnreadable(
                f"{path.name} is encrypted, but this folder is set to store without encryption.",
                f"Nothing was changed. Restore {database.STATE_FILE} from a backup to open it.",
                detail=str(path),
            )
        log.info("encrypting %s, a plain store from before encryption", path.name)
        convert(path, None, key, progress)


def convert(
    path: Path, source_key: bytes | None, target_key: bytes | None, progress: ProgressSink | None = None
) -> None:
    """Steps 1–7: `path` from `source_key` to `target_key` (None: plain), in place, kill-safe."""
    folder = path.parent
    with database.folder_lock(folder):
        recover(path)
        want = "plain" if target_key is None else "encrypted"
        if database.file_form(path) in ("absent", "empty", want):
            return
        tmp, old = _names(path)
        size = path.stat().st_size + _wal_size(path)
        _check_space(path, size, target_key is not None)
        verb = "Encrypting" if target_key is not None else "Decrypting"
        report = _Report(progress, f"{verb} {path.name}", size, tmp)
        report.stage(report.label, 0)
        started = time.perf_counter()
        try:
            counts = _export(path, source_key, target_key, tmp, report)
            report.stage(f"Checking {path.name}")
            _verify(tmp, target_key, counts)
            _fsync(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if target_key is not None:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
            os.link(path, old)
        for side in _SIDE[1:]:  # a WAL left beside the new file would be replayed into it
            stale = path.with_name(path.name + side)
            if stale.exists() and stale.stat().st_size and side == "-wal":
                raise StorageError(
                    f"Another program wrote to {path.name} while Hearth was converting it.",
                    "Close every other Hearth and start again; nothing was changed.",
                    detail=str(stale),
                )
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        os.replace(tmp, path)
        database.fsync_dir(folder)
        if old.exists():
            wipe(old)
        report.finish()
        log.info(
            "%s %s: %.1f MB in %.1f s", verb.lower(), path.name, size / _MB, time.perf_counter() - started
        )


def _wal_size(path: Path) -> int:
    try:
        return path.with_name(path.name + "-wal").stat().st_size
    except FileNotFoundError:
        return 0


def _check_space(path: Path, size: int, encrypting: bool) -> None:
    need = int(size * 1.1) + 16 * _MB
    free = shutil.disk_usage(path.parent).free
    if free < need:
        state = "plain, as before" if encrypting else "encrypted, as before"
        raise StorageError(
            f"Not enough free disk space to {'encrypt' if encrypting else 'decrypt'} {path.name}: "
            f"it needs {need / _MB:.0f} MB, {free / _MB:.0f} MB are free.",
            f"Free some space and start Hearth again. {path.name} is unchanged ({state}).",
        )


def _tables(conn: database.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM main.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    return [str(r[0]) for r in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _export(
    path: Path, source_key: bytes | None, target_key: bytes | None, tmp: Path, report: _Report
) -> dict[str, int]:
    """Steps 2–3; returns the source's row count of every table (step 4 compares the copy's)."""
    counts: dict[str, int] = {}
    try:
        src = database.raw_connect(path, source_key, timeout=5)
    except DatabaseError as exc:
        raise _failed(path, source_key, exc) from exc
    try:
        mode = src.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise StorageError(
                f"Another program is using {path.name}, so Hearth cannot convert it now.",
                "Close every other Hearth window or command and start again; nothing was changed.",
                detail=f"journal_mode stayed {mode}",
            )
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
        key = "''" if target_key is None else f"\"x'{target_key.hex()}'\""
        src.execute(f"ATTACH DATABASE ? AS target KEY {key}", (str(tmp),))
        src.set_progress_handler(report.tick, 20_000)
        try:
            src.execute("SELECT sqlcipher_export('target')")
        finally:
            src.set_progress_handler(None, 0)
        src.execute(f"PRAGMA target.user_version = {version}")
        for table in _tables(src):
            counts[table] = int(src.execute(f"SELECT count(*) FROM main.{_quote(table)}").fetchone()[0])
        src.execute("DETACH DATABASE target")
    except DatabaseError as exc:
        raise _failed(path, source_key, exc) from exc
    finally:
        src.close()
    return counts


def _failed(path: Path, key: bytes | None, exc: DatabaseError) -> StorageError:
    if database.is_unreadable(exc):
        return database.unreadable(path, key, exc)
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StorageError(
            f"Another program is using {path.name}, so Hearth cannot encrypt it now.",
            "Close every other Hearth window or command and start again; nothing was changed.",
            detail=repr(exc),
        )
    if "full" in text or "i/o" in text:
        return StorageError(
            f"The disk is full, so Hearth could not convert {path.name}.",
            "Free some space and start again; nothing was changed.",
            detail=repr(exc),
        )
    return StorageError(
        f"Hearth could not convert {path.name}.",
        f"{path.name} is unchanged. Start Hearth again to retry.",
        detail=repr(exc),
    )


def _verify(tmp: Path, key: bytes | None, counts: dict[str, int]) -> None:
    """Step 4, on a connection of its own: every table as many rows as the source's, every page's
    HMAC right (encrypted), and SQLite's quick_check."""
    problem = ""
    try:
        conn = database.raw_connect(tmp, key, timeout=5)
        try:
            copied = {
                t: int(conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0]) for t in _tables(conn)
            }
            if copied != counts:
                problem = f"row counts differ: {counts} != {copied}"
            if not problem and key is not None:
                bad = conn.execute("PRAGMA cipher_integrity_check").fetchall()
                problem = "; ".join(str(r[0]) for r in bad[:3])
            if not problem:
                ok = conn.execute("PRAGMA quick_check").fetchall()
                problem = "" if [r[0] for r in ok] == ["ok"] else "; ".join(str(r[0]) for r in ok[:3])
        finally:
            conn.close()
    except DatabaseError as exc:
        problem = repr(exc)
    if problem:
        raise StorageError(
            f"The converted copy of {tmp.name.removesuffix(TEMP_SUFFIX)} did not verify, so it was not used.",
            "Nothing was changed. Start Hearth again to retry; if it fails again, check the disk.",
            detail=problem,
        )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe(path: Path) -> None:
    """Overwrite a replaced plain store with zeros, fsync, unlink (step 7)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            zeros = bytes(_MB)
            left = size
            while left > 0:
                left -= fh.write(zeros[: min(left, _MB)])
            fh.flush()
            os.fsync(fh.fileno())
    except FileNotFoundError:
        return
    path.unlink()
    database.fsync_dir(path.parent)


class _Report:
    """Progress of one conversion in MB: the target's size against the source's while exporting."""

    def __init__(self, sink: ProgressSink | None, label: str, size: int, tmp: Path) -> None:
        self.sink = sink
        self.label = label
        self.total = max(1, round(size / _MB))
        self.tmp = tmp
        self.started = time.monotonic()
        self._last = -1

    def tick(self) -> int:
        """Called by SQLite every few thousand instructions of the export (returns 0: go on)."""
        if self.sink is None:
            return 0
        try:
            done = min(self.total - 1, round(self.tmp.stat().st_size / _MB))
        except OSError:
            done = 0
        if done != self._last:
            self._last = done
            elapsed = time.monotonic() - self.started
            eta = elapsed * (self.total - done) / done if done > 0 and elapsed > 2 else None
            self._send(Progress(done, self.total, self.label, "MB", eta))
        return 0

    def stage(self, label: str, done: int | None = None) -> None:
        self.label = label
        self._send(Progress(self.total - 1 if done is None else done, self.total, label, "MB"))

    def finish(self) -> None:
        self._send(Progress(self.total, self.total, self.label, "MB"))

    def _send(self, event: Progress) -> None:
        if self.sink is not None:
            with contextlib.suppress(Exception):  # a display problem must not stop the conversion
                self.sink(event)

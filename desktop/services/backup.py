"""Whole-data backup and restore: one file that another machine can restore, encrypted by default.

A backup is a zip holding
- `manifest.json` (plain): format version, Hearth version, created time, counts of chats,
  messages, documents, pages and passages, each table's row count and each member's SHA-256,
  and, when encrypted, the scrypt salt and cost and a check value of the key (an HMAC, never the key);
- `chats.sqlite`, `library.sqlite`: each store copied by SQLite's backup API (one step, so a
  consistent snapshot even while Hearth writes; a plain copy of a WAL database loses rows) into a
  SQLCipher database keyed with the *backup key*;
- `files.sqlite`: settings.json and kernels.json, in a SQLCipher database with the same key (so a
  system prompt or a model's name is not readable either).

The backup key is scrypt of a passphrase the user types (the same `database.derive_key` the stores
use, with a fresh salt), not the store's own key: that one lives in this machine's keyring, and a
backup must restore on another machine. `plain=True` writes the databases unencrypted (the user's
explicit choice). Vectors (Chroma) are not in a backup: they are derived, and after a restore the
library rebuilds them from the stored passages (no document is read again). Imported model files
are not in it either (gigabytes, and kept elsewhere by the user).

Restore never touches the data dir until the restored copy is complete and verified: it is built
in a temp folder beside the data dir (same file system), set up with a new key of this machine
(keyring or passphrase, as at a first start), then swapped in by one atomic exchange of the two
folders (renameat2 RENAME_EXCHANGE on Linux; two renames elsewhere). The current data is moved
aside, never deleted; a kill -9 at any point leaves the old data dir or the complete new one.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import hashlib
import hmac
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop import APP_NAME, __version__
from desktop.core.errors import StorageError
from desktop.services import database
from desktop.services.database import DatabaseError
from desktop.services.files import sha256_file

log = logging.getLogger("desktop.backup")

FORMAT = 1
MANIFEST = "manifest.json"
FILES_DB = "files.sqlite"
SIDE_FILES = ("settings.json", "kernels.json")
PASSPHRASE_ENV = "HEARTH_BACKUP_PASSPHRASE"  # scripts: the backup passphrase itself
MIN_PASSPHRASE = database.MIN_PASSPHRASE
KEPT_ON_RESTORE = ("models",)
STAGING = ".restoring-"  # `.Hearth.restoring-XXXX` beside the data dir, while a restore builds it
INCOMPLETE = ".restore-incomplete"  # this machine's imported models stay with the data dir
_CHECK_LABEL = b"hearth backup key check v1"
CHOOSE_ANOTHER = "Choose a file made by `hearth backup create`. Nothing was changed."
_MB = 1024 * 1024
# A manifest is read before anything is verified: refuse a cost that would make scrypt eat memory.
_MAX_SCRYPT = {"n": 2**20, "r": 32, "p": 16}

Say = Callable[[str], None]


class BackupError(StorageError):
    kind = "backup"


class NotABackup(BackupError):
    kind = "not_a_backup"


class BackupDamaged(BackupError):
    kind = "backup_damaged"


class BackupTooNew(BackupError):
    kind = "backup_too_new"


class WrongBackupPassphrase(BackupError):
    kind = "wrong_backup_passphrase"


class DataExists(BackupError):
    kind = "data_exists"


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    seconds: float
    encrypted: bool
    counts: dict[str, int]

    @property
    def mb_per_s(self) -> float:
        return self.size / _MB / max(self.seconds, 1e-6)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    folder: Path
    seconds: float
    counts: dict[str, int]
    manifest: dict[str, Any]
    moved_aside: Path | None = None
    kept: tuple[str, ...] = ()
    to_reindex: int = 0  # ready documents whose vectors the library rebuilds from stored passages
    notes: list[str] = field(default_factory=list)


# -- keys


def new_kdf() -> dict[str, Any]:
    """A fresh salt with the stores' scrypt cost (database.SCRYPT_COST)."""
    return {"name": "scrypt", "salt": os.urandom(16).hex(), **database.SCRYPT_COST}


def _check_value(key: bytes) -> str:
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def backup_key(manifest: dict[str, Any], passphrase: str) -> bytes:
    """The backup's key from `passphrase`; WrongBackupPassphrase when it is not the one used."""
    kdf = manifest["kdf"]
    key = database.derive_key(passphrase, kdf)
    if not hmac.compare_digest(_check_value(key), str(manifest.get("check", ""))):
        raise WrongBackupPassphrase(
            "That passphrase does not open this backup.",
            "Type the passphrase chosen when the backup was made. Nothing was changed.",
        )
    return key


# -- copying one database


def _connect(path: Path, key: bytes | None) -> database.Connection:
    return database.raw_connect(path, key, timeout=30)


def _tables(conn: database.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    out: dict[str, int] = {}
    for name in sorted(str(r[0]) for r in rows):
        quoted = '"' + name.replace('"', '""') + '"'
        out[name] = int(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
    return out


def copy_database(
    src: database.Connection, src_key: bytes | None, dest: Path, dest_key: bytes | None
) -> None:
    """`src` into a new file `dest` (keyed `dest_key`; None: plain) through the backup API, as one
    step: a consistent snapshot even while other connections write.

    SQLCipher's backup API copies only between two encrypted or two plain databases; across forms
    the snapshot is taken in the source's form first (beside `dest`) and then exported."""
    if (src_key is None) == (dest_key is None):
        out = _connect(dest, dest_key)
        try:
            src.backup(out)  # pages=-1: everything in one step, under one read transaction
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            out.close()
        return
    snap = dest.with_name(dest.name + ".snapshot")
    snap_key = os.urandom(32) if src_key is not None else None
    try:
        copy_database(src, src_key, snap, snap_key)
        conn = _connect(snap, snap_key)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            target = "''" if dest_key is None else f"\"x'{dest_key.hex()}'\""
            conn.execute(f"ATTACH DATABASE ? AS target KEY {target}", (str(dest),))
            conn.execute("SELECT sqlcipher_export('target')")
            conn.execute(f"PRAGMA target.user_version = {version}")
            conn.execute("DETACH DATABASE target")
        finally:
            conn.close()
    finally:
        if snap.exists():
            from desktop.services import migration

            if snap_key is None:
                migration.wipe(snap)  # a plain snapshot of a plain store: zeros, then unlink
            else:
                snap.unlink()


def _verify(path: Path, key: bytes | None, expected: dict[str, int] | None = None) -> dict[str, int]:
    """Every page's HMAC (encrypted), quick_check, and each table's rows as `expected`."""
    conn = _connect(path, key)
    try:
        problems: list[str] = []
        if key is not None:
            problems += [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()[:3]]
        check = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()[:3]]
        if check != ["ok"]:
            problems += check
        counts = _tables(conn)
    finally:
        conn.close()
    if expected is not None and counts != expected:
        problems.append(f"row counts differ: {expected} != {counts}")
    if problems:
        raise DatabaseError("; ".join(problems))
    return counts


def _summary(tables: dict[str, dict[str, int]]) -> dict[str, int]:
    chats, library = tables.get("chats.sqlite", {}), tables.get("library.sqlite", {})
    return {
        "chats": chats.get("chats", 0),
        "messages": chats.get("messages", 0),
        "documents": library.get("documents", 0),
        "pages": library.get("pages", 0),
        "passages": library.get("chunks", 0),
    }


def _store_size(path: Path) -> int:
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            total += p.stat().st_size
    return total


def _check_space(where: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(where).free
    if free < need:
        raise BackupError(
            f"Not enough free disk space to {what}: it needs about {need / _MB:.0f} MB, "
            f"{free / _MB:.0f} MB are free on {where}.",
            "Free some space, or choose another disk. Nothing was changed.",
        )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


# -- create


def create(
    out: Path,
    passphrase: str | None,
    *,
    folder: Path | None = None,
    overwrite: bool = False,
    say: Say | None = None,
) -> BackupResult:
    """Back up every store and settings file of `folder` (the data dir) into `out`.

    `passphrase` None writes a plain backup (the caller has the user's explicit consent). The file
    is written to a temp name beside `out`, fsynced, made 0600, then renamed: a kill leaves no
    half backup under `out`'s name."""
    started = time.perf_counter()
    folder = Path(os.path.abspath(folder or _data_dir()))
    out = Path(os.path.abspath(out))
    tell = say or (lambda _msg: None)
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"A backup passphrase needs at least {MIN_PASSPHRASE} characters.", "Choose a longer one."
        )
    if out.exists() and not overwrite:
        raise BackupError(f"{out} already exists.", "Choose another file name, or add --force to replace it.")
    if out.is_dir():
        raise BackupError(f"{out} is a folder.", "Name the backup file to write, e.g. hearth.backup.")
    if not out.parent.is_dir():
        raise BackupError(f"There is no folder {out.parent}.", "Create it first, or choose another place.")
    stores = [
        folder / n for n in database.STORES if database.file_form(folder / n) not in ("absent", "empty")
    ]
    sides = [folder / n for n in SIDE_FILES if (folder / n).is_file()]
    if not stores and not sides:
        raise BackupError(
            f"There is nothing to back up in {folder} yet.", "Hearth has no chats or documents there."
        )
    size = sum(_store_size(p) for p in stores) + sum(p.stat().st_size for p in sides)
    _check_space(out.parent, 2 * size + 16 * _MB, f"write the backup ({size / _MB:.1f} MB of data)")

    kdf = new_kdf() if passphrase is not None else None
    key = database.derive_key(passphrase, kdf) if passphrase is not None and kdf is not None else None
    store_key = database.unlock(folder) if stores else None
    for stale in out.parent.glob(f".{out.name}.*.part"):  # a killed run's (a plain one holds text)
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        tables: dict[str, dict[str, int]] = {}
        for path in stores:
            tell(f"copying {path.name} ({_store_size(path) / _MB:.1f} MB)")
            src = database.connect(path)  # settles a pending conversion, says why it cannot open
            try:
                copy_database(src, store_key, work / path.name, key)
            except DatabaseError as exc:
                raise _copy_failed(path, exc) from exc
            finally:
                src.close()
            tables[path.name] = _verify(work / path.name, key)
        _pack_files(work / FILES_DB, key, sides)
        members = [*(p.name for p in stores), FILES_DB]
        manifest: dict[str, Any] = {
            "app": APP_NAME,
            "format": FORMAT,
            "hearth_version": __version__,
            "created": time.time(),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "encrypted": key is not None,
            "kdf": kdf,
            "check": _check_value(key) if key is not None else "",
            "counts": _summary(tables),
            "tables": tables,
            "files": [p.name for p in sides],
            "members": {
                m: {"size": (work / m).stat().st_size, "sha256": sha256_file(work / m)} for m in members
            },
            "vectors": "not included: the library rebuilds them from the stored passages after a restore",
        }
        part = work / "backup.zip"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
                zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True), zipfile.ZIP_DEFLATED)
                method = zipfile.ZIP_STORED if key is not None else zipfile.ZIP_DEFLATED
                for m in members:  # encrypted pages do not compress; plain text does
                    zf.write(work / m, m, method, compresslevel=1 if method == zipfile.ZIP_DEFLATED else None)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(part, 0o600)
        os.replace(part, out)
        database.fsync_dir(out.parent)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BackupError(
                "The disk filled up while writing the backup.",
                "Free some space and try again; nothing was changed.",
            ) from exc
        raise BackupError(
            f"Hearth could not write {out}.", "Check the folder's permissions.", detail=repr(exc)
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size_out = out.stat().st_size
    return BackupResult(out, size_out, time.perf_counter() - started, key is not None, manifest["counts"])


def _copy_failed(path: Path, exc: DatabaseError) -> StorageError:
    if database.is_unreadable(exc):
        return database.unreadable(path, database.unlock(path.parent), exc)
    return BackupError(
        f"Hearth could not copy {path.name}.", "Nothing was changed; try again.", detail=repr(exc)
    )


def _pack_files(path: Path, key: bytes | None, sides: list[Path]) -> None:
    conn = _connect(path, key)
    try:
        conn.execute("CREATE TABLE files (name TEXT PRIMARY KEY, data BLOB NOT NULL)")
        for p in sides:
            conn.execute("INSERT INTO files VALUES (?, ?)", (p.name, p.read_bytes()))
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


# -- reading a backup


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest, checked: NotABackup, BackupDamaged (truncated, altered) or BackupTooNew."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise BackupError(f"There is no file {path}.", "Check the name.") from None
    except OSError as exc:
        raise BackupError(f"Hearth cannot read {path}.", "Check its permissions.", detail=repr(exc)) from exc
    if head != b"PK\x03\x04":
        raise NotABackup(f"{path.name} is not a Hearth backup.", CHOOSE_ANOTHER)
    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(MANIFEST)
    except KeyError:
        raise NotABackup(
            f"{path.name} is a zip file, but not a Hearth backup (it has no {MANIFEST}).",
            CHOOSE_ANOTHER,
        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise _damaged(path, exc) from exc
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or manifest.get("app") != APP_NAME:
            raise ValueError("not Hearth's manifest")
        version = int(manifest["format"])
    except (ValueError, KeyError, TypeError) as exc:
        raise NotABackup(
            f"{path.name} is not a Hearth backup (its manifest is not Hearth's).",
            CHOOSE_ANOTHER,
            detail=repr(exc),
        ) from exc
    if version > FORMAT:
        raise BackupTooNew(
            f"{path.name} was made by a newer Hearth ({manifest.get('hearth_version', '?')}, backup format "
            f"{version}); this Hearth ({__version__}) reads format {FORMAT}.",
            "Update Hearth, then restore. Nothing was changed.",
        )
    try:
        if manifest.get("encrypted"):
            kdf = manifest["kdf"]
            bytes.fromhex(kdf["salt"])
            if kdf.get("name") != "scrypt" or any(
                int(kdf[k]) > v or int(kdf[k]) < 1 for k, v in _MAX_SCRYPT.items()
            ):
                raise ValueError(f"kdf {kdf}")
        if not isinstance(manifest["members"], dict) or not isinstance(manifest["tables"], dict):
            raise ValueError("members")
    except (ValueError, KeyError, TypeError) as exc:
        raise _damaged(path, exc) from exc
    return manifest


def _damaged(path: Path, exc: BaseException) -> BackupDamaged:
    return BackupDamaged(
        f"{path.name} is damaged or truncated (cut short), so it cannot be restored.",
        "Nothing was changed. Use another copy of the backup.",
        detail=repr(exc),
    )


# -- restore


def has_data(folder: Path) -> bool:
    """Whether `folder` holds anything of the user's (not only caches a command left)."""
    names = (*database.STORES, database.STATE_FILE, *SIDE_FILES, "vectors")
    return any((folder / n).exists() for n in names)


@contextlib.contextmanager
def _no_other_hearth(folder: Path) -> Iterator[None]:
    """Hold the library's lock (what a running window or command holds) while the folder is swapped."""
    lock = folder / "library.lock"
    if not folder.is_dir():
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: the window is single-instance there
        yield
        return
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise BackupError(
                "Hearth is running on this data (the window or another command).",
                "Close it, then restore. Nothing was changed.",
                detail=repr(exc),
            ) from exc
        yield


def restore(
    path: Path,
    passphrase: str | None,
    *,
    folder: Path | None = None,
    replace: bool = False,
    say: Say | None = None,
    manifest: dict[str, Any] | None = None,
) -> RestoreResult:
    """Restore a backup into `folder` (the data dir). Refuses when it holds data, unless `replace`:
    then the current data is moved aside to `<folder>.before-restore-<time>`, never deleted.
    Every error leaves `folder` as it was."""
    started = time.perf_counter()
    path = Path(os.path.abspath(path))
    folder = Path(os.path.abspath(folder or _data_dir(create=False)))
    tell = say or (lambda _msg: None)
    manifest = manifest or read_manifest(path)
    key: bytes | None = None
    if manifest.get("encrypted"):
        if passphrase is None:
            raise WrongBackupPassphrase(
                "This backup is encrypted: it needs its passphrase.", f"Type it, or set {PASSPHRASE_ENV}."
            )
        key = backup_key(manifest, passphrase)
    if folder.is_dir() and has_data(folder) and not replace:
        raise DataExists(
            f"{folder} already holds Hearth data; restoring would replace it.",
            "Add --replace to move the current data aside (it is kept, not deleted) and restore, "
            "or set HEARTH_DATA_DIR to restore into another folder. Nothing was changed.",
        )
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    need = 2 * sum(int(m.get("size", 0)) for m in manifest["members"].values()) + 16 * _MB
    _check_space(parent, need, "restore this backup")
    try:
        prior = database.read_state(folder) if folder.is_dir() else None
    except StorageError:  # a damaged record: the restore replaces it (the old one goes aside)
        prior = None
    with _no_other_hearth(folder):  # said now, not after minutes of work (and again at the swap)
        pass
    notes = _tidy(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}{STAGING}", dir=parent))
    swapped = False
    try:
        os.chmod(staging, 0o700)
        (staging / INCOMPLETE).touch()  # until the swap: this folder holds only an unfinished restore
        unpacked = staging / ".unpacked"
        unpacked.mkdir(mode=0o700)
        _unpack(path, manifest, unpacked)
        # The restored stores get a key of this machine, set up as at a first start (keyring, or
        # the passphrase); a folder kept plain by the user's choice stays plain.
        if prior is not None and prior.get("method") == database.PLAIN:
            database.set_up(staging, database.PLAIN, reason=str(prior.get("reason") or "chosen by the user"))
        new_key = database.unlock(staging)
        tables: dict[str, dict[str, int]] = {}
        for name in database.STORES:
            if name not in manifest["members"]:
                continue
            tell(f"restoring {name}")
            expected = manifest["tables"].get(name)
            try:
                _verify(unpacked / name, key, expected)
                src = _connect(unpacked / name, key)
                try:
                    copy_database(src, key, staging / name, new_key)
                finally:
                    src.close()
                tables[name] = _verify(staging / name, new_key, expected)
            except DatabaseError as exc:
                raise _damaged(path, exc) from exc
        _unpack_files(unpacked / FILES_DB, key, staging, path)
        shutil.rmtree(unpacked)
        for p in staging.iterdir():
            if p.is_file():
                os.chmod(p, 0o600)
        database.fsync_dir(staging)
        (staging / INCOMPLETE).unlink()
        database.fsync_dir(staging)
        with _no_other_hearth(folder):
            aside, kept = _swap_in(staging, folder)
            swapped = True
    except BaseException:
        if not swapped:
            if prior is None or prior.get("method") != database.PLAIN:
                _drop_staging_key(staging)
            shutil.rmtree(staging, ignore_errors=True)
            database.forget_keys()  # among them the staging folder's
        raise
    database.folder_moved(staging, folder)  # the restored data's key, held by path, moves with it
    counts = _summary(tables)
    result = RestoreResult(folder, time.perf_counter() - started, counts, manifest, aside, kept, notes=notes)
    return _count_reindex(result)


def _drop_staging_key(staging: Path) -> None:
    """A restore that failed before the swap: its new keyring entry opens nothing any more."""
    with contextlib.suppress(Exception):
        state = database.read_state(staging)
        if state is not None and state.get("method") == database.KEYRING:
            from desktop.services import secrets

            secrets.delete_secret(f"data key {state['install']}")


def _unpack(path: Path, manifest: dict[str, Any], into: Path) -> None:
    """Extract each member (the zip checks its CRC) and check it against the manifest's SHA-256."""
    try:
        with zipfile.ZipFile(path) as zf:
            for name, info in manifest["members"].items():
                if name not in (*database.STORES, FILES_DB):
                    raise ValueError(f"unexpected member {name!r}")
                target = into / name
                h = hashlib.sha256()
                with zf.open(name) as src, open(target, "xb") as dst:
                    for block in iter(lambda: src.read(_MB), b""):
                        h.update(block)
                        dst.write(block)
                if h.hexdigest() != info.get("sha256"):
                    raise ValueError(f"{name}: SHA-256 differs from the manifest's")
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
        raise _damaged(path, exc) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BackupError(
                "The disk filled up while restoring.", "Free some space; nothing was changed."
            ) from exc
        raise _damaged(path, exc) from exc


def _unpack_files(db: Path, key: bytes | None, staging: Path, backup: Path) -> None:
    if not db.exists():
        return
    try:
        conn = _connect(db, key)
        try:
            rows = conn.execute("SELECT name, data FROM files").fetchall()
        finally:
            conn.close()
    except DatabaseError as exc:
        raise _damaged(backup, exc) from exc
    for name, data in rows:
        if name in SIDE_FILES:
            _write_private(staging / name, bytes(data))


def _swap_in(staging: Path, folder: Path) -> tuple[Path | None, tuple[str, ...]]:
    """Put the restored `staging` at `folder`; the old folder (if any) goes aside, and this
    machine's imported models come back into the new one. Atomic where the OS allows."""
    if not folder.exists():
        os.rename(staging, folder)
        database.fsync_dir(folder.parent)
        return None, ()
    try:
        folder.rmdir()  # an empty data dir: nothing to keep
    except OSError:
        pass
    else:
        os.rename(staging, folder)
        database.fsync_dir(folder.parent)
        return None, ()
    aside = _aside_name(folder)
    if _exchange(staging, folder):
        os.rename(staging, aside)  # staging now holds the old data: give it its name
    else:
        os.rename(folder, aside)
        os.rename(staging, folder)
    database.fsync_dir(folder.parent)
    kept = []
    for name in KEPT_ON_RESTORE:
        if (aside / name).exists() and not (folder / name).exists():
            os.rename(aside / name, folder / name)
            kept.append(name)
    return aside, tuple(kept)


def _aside_name(folder: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, n = folder.with_name(f"{folder.name}.before-restore-{stamp}"), 1
    while aside.exists():
        n += 1
        aside = folder.with_name(f"{folder.name}.before-restore-{stamp}-{n}")
    return aside


def _tidy(folder: Path) -> list[str]:
    """What a killed restore left beside `folder`: an unfinished one (marked) is deleted; one killed
    between the exchange and the rename holds the previous data, which gets its aside name."""
    notes: list[str] = []
    for p in sorted(folder.parent.glob(f".{folder.name}{STAGING}*")):
        if not p.is_dir():
            continue
        if (p / INCOMPLETE).exists():
            _drop_staging_key(p)
            shutil.rmtree(p, ignore_errors=True)
            notes.append(f"removed {p.name}, left by a restore that did not finish")
        else:
            aside = _aside_name(folder)
            os.rename(p, aside)
            notes.append(f"data moved aside by an interrupted restore is now {aside}")
    return notes


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE). False: not available here."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _count_reindex(result: RestoreResult) -> RestoreResult:
    """How many ready documents the library re-embeds (their vectors are not in the backup)."""
    path = result.folder / "library.sqlite"
    if not path.exists():
        return result
    conn = database.connect(path)
    try:
        n = int(conn.execute("SELECT count(DISTINCT sha256) FROM files WHERE status='ready'").fetchone()[0])
    finally:
        conn.close()
    return dataclasses.replace(result, to_reindex=n)


def rebuild_index(folder: Path, embedder: Any = None, on_event: Callable[[Any], None] | None = None) -> Any:
    """Rebuild the restored library's vectors from its stored passages (no document is read again):
    the library sees its index missing, queues its ready documents and re-embeds them. AddResult."""
    from desktop.core.jobs import run_job
    from desktop.services.library import Library

    with Library(folder, embedder) as lib:
        return run_job(lib.resume_job(), on_event)


def _data_dir(create: bool = True) -> Path:
    from desktop.services.paths import data_dir

    return data_dir(create=create)

"""The one place Hearth opens its databases: SQLCipher, keyed from the OS keyring or a passphrase.

chats.sqlite and library.sqlite open through `connect(path)`. A folder's data is protected as
recorded in `encryption.json` beside it: the method (keyring, passphrase, or plain by the user's
explicit choice), a check value of the key (an HMAC of it, never the key), the scrypt salt and
cost when a passphrase is used, and each store's SQLCipher salt (which tells a file from another
install apart from a damaged one). The 256-bit key itself is either in the keyring (service
"Hearth", one entry per data folder) or nowhere: derived from the passphrase at every start.

SQLCipher is given the raw key (`PRAGMA key = "x'…'"`), so its own PBKDF2 is skipped and opening
costs about what plain SQLite does; the slow KDF is scrypt, once per process and folder.

A store found in the other form than the folder's method (plain databases from before the
upgrade, or after the user's choice changed) is converted in place on open, with progress, by
`migration.convert`: safe against a kill -9 at any point.

sqlcipher3's dbapi2 is sqlite3's API over SQLCipher, but its exceptions are classes of its own:
catch this module's `Error`, `DatabaseError` and `OperationalError`, never sqlite3's.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.core.errors import SecretsUnavailable, StorageError
from desktop.core.events import Progress

if TYPE_CHECKING:  # the same API as sqlite3; at run time the classes are SQLCipher's
    from sqlite3 import Connection, DatabaseError, Error, IntegrityError, OperationalError, Row
    from sqlite3 import connect as _driver_connect
else:
    from sqlcipher3.dbapi2 import Connection, DatabaseError, Error, IntegrityError, OperationalError, Row
    from sqlcipher3.dbapi2 import connect as _driver_connect

__all__ = [
    "Connection",
    "DataLocked",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "KeyMissing",
    "OperationalError",
    "Row",
    "StoreUnreadable",
    "UnlockCancelled",
    "WrongPassphrase",
    "at_rest_status",
    "connect",
    "unlock",
]

log = logging.getLogger("desktop.database")

STATE_FILE = "encryption.json"
STORES = ("chats.sqlite", "library.sqlite")
PASSPHRASE_ENV = "HEARTH_PASSPHRASE"  # non-interactive use (scripts, tests): the passphrase itself
KEYRING = "keyring"
PASSPHRASE = "passphrase"
PLAIN = "plain"
# scrypt at the cost OWASP names for it (128 MiB, about 0.4 s on one core of this class of CPU;
# measured in the report). Stored per folder, so a later, stronger default never locks anyone out.
SCRYPT_COST = {"n": 2**17, "r": 8, "p": 1}
MIN_PASSPHRASE = 8
_PLAIN_HEADER = b"SQLite format 3\x00"
_CHECK_LABEL = b"hearth data key check v1"

VECTORS_NOTE = (
    "The vector index (the vectors/ folder) is not encrypted. It holds numbers computed from each "
    "passage, the passages' ids (a document's SHA-256 fingerprint and a passage number) and page "
    "numbers, never the text or titles. Such vectors can hint at what the documents are about, and "
    "research attacks can partly reconstruct short passages from them, but they do not contain "
    "the text; someone holding a document can also check whether it is in your library."
)


class DataLocked(StorageError):
    """The data is encrypted and no key could be had: no passphrase given, or the user cancelled."""

    kind = "locked"


class WrongPassphrase(DataLocked):
    kind = "wrong_passphrase"


class UnlockCancelled(DataLocked):
    """The user closed the passphrase prompt (Quit, Ctrl-C, end of input)."""

    kind = "unlock_cancelled"


class KeyMissing(StorageError):
    """The keyring does not have (or will not give) the key of encrypted data. Nothing is touched."""

    kind = "key_missing"


class StoreUnreadable(StorageError):
    """A store that the right key does not open: damaged, truncated, or from another install."""

    kind = "store_unreadable"


@dataclass(frozen=True, slots=True)
class PassphraseRequest:
    """What a front end is asked for. `new`: choose one (ask twice); `retry`: why the last was refused."""

    folder: Path
    new: bool = False
    retry: str = ""
    recovery: bool = False  # the keyring lost the key: the recovery passphrase set for that case


PassphrasePrompt = Callable[[PassphraseRequest], "str | None"]
ProgressSink = Callable[[Progress], None]

_lock = threading.RLock()
_keys: dict[Path, bytes | None] = {}  # folder → key (None: plain by choice), for this process
_held: dict[Path, int] = {}  # folders whose flock this process holds, and how deeply
_prompt: PassphrasePrompt | None = None
_progress: ProgressSink | None = None


def use_prompt(prompt: PassphrasePrompt | None) -> None:
    """The front end's way to ask for a passphrase (the terminal's getpass, the window's dialog)."""
    global _prompt
    _prompt = prompt


def use_progress(sink: ProgressSink | None) -> None:
    """Where conversions started by `connect` report progress (the terminal's progress line)."""
    global _progress
    _progress = sink


def forget_keys() -> None:
    """Drop every key this process holds (the next open unlocks again)."""
    with _lock:
        _keys.clear()


def folder_moved(old: Path, new: Path) -> None:
    """A data folder was renamed (a restore swapped one in): the key this process holds for it
    goes with it, and whatever it held for the folder it replaced is dropped."""
    old, new = _folder(old), _folder(new)
    with _lock:
        _keys.pop(new, None)
        if old in _keys:
            _keys[new] = _keys.pop(old)


def delete_key(folder: Path | None = None) -> None:
    """Before deleting all of a folder's data: its key leaves the keyring and this process."""
    folder = _folder(folder)
    with _lock:
        _keys.pop(folder, None)
        state = read_state(folder)
        if state is not None and state["method"] == KEYRING:
            from desktop.services import secrets

            with contextlib.suppress(SecretsUnavailable):
                secrets.delete_secret(_entry(state))


def _folder(folder: Path | None) -> Path:
    if folder is None:
        from desktop.services.paths import data_dir

        folder = data_dir()
    return Path(os.path.abspath(folder))


# -- the state file


def read_state(folder: Path | None = None) -> dict[str, Any] | None:
    path = _folder(folder) / STATE_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(
            f"Hearth cannot read {path}.", "Check the data folder's permissions.", detail=repr(exc)
        ) from exc
    try:
        state = json.loads(raw)
        if not isinstance(state, dict) or state.get("method") not in (KEYRING, PASSPHRASE, PLAIN):
            raise ValueError("not a Hearth encryption record")
    except ValueError as exc:
        raise StoreUnreadable(
            f"Hearth's record of how your data is protected ({path.name}) is damaged.",
            f"Nothing was changed. Restore {path} from a backup; without it the encrypted data "
            "cannot be opened.",
            detail=repr(exc),
        ) from exc
    return state


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    """Atomically: a temp file, fsync, rename, fsync of the folder (a crash leaves old or new)."""
    path = folder / STATE_FILE
    tmp = folder / (STATE_FILE + ".tmp")
    data = json.dumps(state, indent=2, sort_keys=True).encode("utf-8")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno == errno.ENOSPC:
            raise StorageError(
                "The disk is full, so Hearth cannot set up its encrypted storage.",
                "Free some space and try again.",
                detail=repr(exc),
            ) from exc
        raise StorageError(
            f"Hearth cannot write {path}.", "Check the data folder's permissions.", detail=repr(exc)
        ) from exc


def fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One process (and one thread) at a time sets up or converts a folder's stores: an flock on
    the folder itself (no lock file; none on Windows, where the window is single-instance),
    re-entrant within the process."""
    folder = Path(os.path.abspath(folder))
    with _lock:
        if folder in _held:
            _held[folder] += 1
            try:
                yield
            finally:
                _held[folder] -= 1
            return
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            import fcntl
        except ImportError:
            fcntl = None  # type: ignore[assignment]
        fd = os.open(folder, os.O_RDONLY) if fcntl is not None else -1
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            _held[folder] = 1
            try:
                yield
            finally:
                del _held[folder]
        finally:
            if fd >= 0:
                os.close(fd)  # closing the descriptor releases the flock


# -- keys


def _check_value(key: bytes) -> str:
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def _key_ok(key: bytes, state: dict[str, Any]) -> bool:
    return hmac.compare_digest(_check_value(key), str(state.get("check", "")))


def _new_kdf() -> dict[str, Any]:
    return {"name": "scrypt", "salt": os.urandom(16).hex(), **SCRYPT_COST}


def derive_key(passphrase: str, kdf: dict[str, Any]) -> bytes:
    """scrypt of the passphrase (NFC, UTF-8) with the folder's salt and cost: the 256-bit key."""
    n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return hashlib.scrypt(
        secret, salt=bytes.fromhex(kdf["salt"]), n=n, r=r, p=p, maxmem=256 * n * r + (1 << 24), dklen=32
    )


def _entry(state: dict[str, Any]) -> str:
    return f"data key {state['install']}"


def key_pragma(key: bytes) -> str:
    return f"PRAGMA key = \"x'{key.hex()}'\""


def file_form(path: Path) -> str:
    """'absent', 'empty', 'plain' (an SQLite header) or 'encrypted' (anything else)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return "absent"
    if not head:
        return "empty"
    return "plain" if head == _PLAIN_HEADER else "encrypted"


def unlock(folder: Path | None = None, prompt: PassphrasePrompt | None = None) -> bytes | None:
    """The folder's key (None when the user chose plain storage), set up on first use.

    Set-up, when the folder has no record yet: HEARTH_PASSPHRASE if set, else a random key in
    the keyring, else a passphrase chosen through `prompt`. Raises DataLocked, WrongPassphrase,
    KeyMissing or StoreUnreadable; never changes or deletes a store.
    """
    folder = _folder(folder)
    ask = prompt or _prompt
    with _lock:
        if folder in _keys:
            if (folder / STATE_FILE).exists():
                return _keys[folder]
            del _keys[folder]  # the data was deleted ("delete all my data"): set up afresh
        with folder_lock(folder):
            state = read_state(folder)
            key = _set_up(folder, ask) if state is None else _open_key(folder, state, ask)
        _keys[folder] = key
        return key


def set_up(folder: Path | None, method: str, passphrase: str | None = None, *, reason: str = "") -> None:
    """Record how a folder without a record is protected (the window's set-up dialog, `eval`'s
    own index of public documents). `method` PLAIN is the user's explicit choice."""
    folder = _folder(folder)
    if method == PLAIN:
        from desktop.services import policy

        policy.check_plain_storage()  # an administrator may require encryption at rest
    with _lock, folder_lock(folder):
        if read_state(folder) is not None:
            raise StorageError(f"{folder} is already set up.", "Use `hearth storage` to change it.")
        _refuse_orphans(folder)
        if method == PLAIN:
            _write_state(folder, _plain_state(reason))
            _keys[folder] = None
        elif method == PASSPHRASE and passphrase is not None:
            _keys[folder] = _new_passphrase(folder, passphrase)
        elif method == KEYRING:
            _keys[folder] = _new_keyring_key(folder)
        else:
            raise ValueError(f"set_up: {method!r} needs a passphrase" if method == PASSPHRASE else method)


def _plain_state(reason: str = "") -> dict[str, Any]:
    return {"format": 1, "method": PLAIN, "since": time.time(), "reason": reason or "chosen by the user"}


def _refuse_orphans(folder: Path) -> None:
    """Encrypted stores with no record: set-up would make a new key that cannot open them."""
    orphans = [name for name in STORES if file_form(folder / name) == "encrypted"]
    if orphans:
        raise StoreUnreadable(
            f"Hearth's record of how your data is encrypted ({STATE_FILE}) is missing, "
            f"but {', '.join(orphans)} is encrypted.",
            f"Nothing was changed. Restore {folder / STATE_FILE} from a backup, or move "
            f"{'it' if len(orphans) == 1 else 'them'} aside to start afresh.",
            detail=str(folder),
        )


def _set_up(folder: Path, ask: PassphrasePrompt | None) -> bytes | None:
    _refuse_orphans(folder)
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return _new_passphrase(folder, env)
    from desktop.services import secrets

    if secrets.available():
        try:
            return _new_keyring_key(folder)
        except SecretsUnavailable as exc:  # locked, dismissed: a passphrase still protects the data
            log.warning("the keyring refused the new key (%s); asking for a passphrase", exc.detail)
    if ask is None:
        raise DataLocked(
            "There is no keyring on this computer to keep the key of Hearth's encrypted data, "
            "so it needs a passphrase.",
            f"Run hearth in a terminal (or the window) once to choose one, or set {PASSPHRASE_ENV}. "
            "To store without encryption instead: hearth storage plain",
        )
    retry = ""
    for _ in range(3):
        passphrase = ask(PassphraseRequest(folder, new=True, retry=retry))
        if passphrase is None:
            raise UnlockCancelled(
                "No passphrase was chosen, so Hearth's data stays locked.", "Start Hearth again."
            )
        if len(passphrase) >= MIN_PASSPHRASE:
            return _new_passphrase(folder, passphrase)
        retry = f"A passphrase needs at least {MIN_PASSPHRASE} characters."
    raise DataLocked(retry, "Start Hearth again and choose a longer passphrase.")


def _new_keyring_key(folder: Path) -> bytes:
    from desktop.services import secrets

    key = os.urandom(32)
    state = {"format": 1, "method": KEYRING, "install": os.urandom(8).hex(), "check": _check_value(key)}
    state["since"] = time.time()
    # The keyring first: a record whose key was never saved would lock the data it protects.
    secrets.set_secret(_entry(state), key.hex())
    _write_state(folder, state)
    log.info("data in %s is encrypted with a key kept in the keyring", folder)
    return key


def _new_passphrase(folder: Path, passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise DataLocked(
            f"The passphrase is too short: it needs at least {MIN_PASSPHRASE} characters.",
            "Choose a longer one.",
        )
    kdf = _new_kdf()
    key = derive_key(passphrase, kdf)
    state = {"format": 1, "method": PASSPHRASE, "install": os.urandom(8).hex(), "kdf": kdf}
    state.update(check=_check_value(key), since=time.time())
    _write_state(folder, state)
    log.info("data in %s is encrypted with a key derived from a passphrase", folder)
    return key


def _open_key(folder: Path, state: dict[str, Any], ask: PassphrasePrompt | None) -> bytes | None:
    method = state["method"]
    if method == PLAIN:
        return None
    if method == PASSPHRASE:
        return _ask_passphrase(folder, state, ask)
    from desktop.services import secrets

    try:
        stored = secrets.get_secret(_entry(state))
    except SecretsUnavailable as exc:
        return _recover(
            folder,
            state,
            ask,
            KeyMissing(
                "Your chats and library are encrypted with a key kept in the keyring, "
                "and the keyring is not available now.",
                "Start or unlock your keyring (GNOME Keyring, KWallet, Keychain, Credential "
                "Manager), then start Hearth again. Nothing was changed or deleted.",
                detail=exc.detail,
            ),
        )
    key = _hex_key(stored)
    if key is not None and _key_ok(key, state):
        return key
    why = "is missing from" if stored is None else "in the keyring does not match"
    return _recover(
        folder,
        state,
        ask,
        KeyMissing(
            f"The key of your encrypted chats and library {why} the keyring.",
            "Nothing was changed or deleted. If this data came from another computer, its key is "
            "in that computer's keyring. Without the key (or a recovery passphrase) it cannot be read.",
            detail=f"{STATE_FILE} install {state.get('install')}",
        ),
    )


def _hex_key(text: str | None) -> bytes | None:
    try:
        key = bytes.fromhex(text or "")
    except ValueError:
        return None
    return key if len(key) == 32 else None


def _ask_passphrase(folder: Path, state: dict[str, Any], ask: PassphrasePrompt | None) -> bytes:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        key = derive_key(env, state["kdf"])
        if _key_ok(key, state):
            return key
        raise WrongPassphrase(
            f"The passphrase in {PASSPHRASE_ENV} does not unlock Hearth's data.",
            "Nothing was changed. Set the right passphrase, or unset the variable to type it.",
        )
    if ask is None:
        raise DataLocked(
            "Hearth's data is encrypted with a passphrase.",
            f"Run hearth in a terminal (or the window) to type it, or set {PASSPHRASE_ENV} for scripts.",
        )
    retry = ""
    for _ in range(3):
        passphrase = ask(PassphraseRequest(folder, retry=retry))
        if passphrase is None:
            raise UnlockCancelled(
                "Hearth's data stays locked: no passphrase was given.", "Start Hearth again."
            )
        key = derive_key(passphrase, state["kdf"])
        if _key_ok(key, state):
            return key
        retry = "That passphrase does not unlock Hearth's data."
    raise WrongPassphrase(
        "Three wrong passphrases: Hearth's data stays locked.", "Nothing was changed. Try again."
    )


# -- the recovery passphrase: a second way in for data whose key lives in the keyring


def set_recovery_passphrase(folder: Path | None, passphrase: str) -> None:
    """Keep the keyring's key also wrapped by a passphrase (key XOR scrypt(passphrase, new salt)):
    if the keyring loses the key, this passphrase opens the data and puts the key back."""
    folder = _folder(folder)
    if len(passphrase) < MIN_PASSPHRASE:
        raise DataLocked(f"A passphrase needs at least {MIN_PASSPHRASE} characters.", "Choose a longer one.")
    key = unlock(folder)
    with _lock, folder_lock(folder):
        state = read_state(folder)
        if key is None or state is None or state["method"] != KEYRING:
            raise StorageError(
                "A recovery passphrase is for data whose key is in the keyring.",
                "With passphrase storage, the passphrase itself is the way in.",
            )
        kdf = _new_kdf()  # a fresh salt every time: the pad is never used twice
        pad = derive_key(passphrase, kdf)
        state["recovery"] = {"kdf": kdf, "wrapped": bytes(a ^ b for a, b in zip(key, pad, strict=True)).hex()}
        _write_state(folder, state)


def _recover(folder: Path, state: dict[str, Any], ask: PassphrasePrompt | None, error: KeyMissing) -> bytes:
    recovery = state.get("recovery")
    if not recovery or ask is None:
        if recovery:
            error.hint += " Run hearth in a terminal to type your recovery passphrase."
        raise error
    retry = error.user_message
    for _ in range(3):
        passphrase = ask(PassphraseRequest(folder, retry=retry, recovery=True))
        if passphrase is None:
            raise error
        pad = derive_key(passphrase, recovery["kdf"])
        key = bytes(a ^ b for a, b in zip(bytes.fromhex(recovery["wrapped"]), pad, strict=True))
        if _key_ok(key, state):
            _put_back(state, key)
            return key
        retry = "That recovery passphrase does not unlock Hearth's data."
    raise WrongPassphrase("Three wrong recovery passphrases.", "Nothing was changed or deleted.")


def _put_back(state: dict[str, Any], key: bytes) -> None:
    from desktop.services import secrets

    try:
        secrets.set_secret(_entry(state), key.hex())
        log.warning("the data key was missing from the keyring; restored from the recovery passphrase")
    except SecretsUnavailable:
        log.warning("the data key was opened with the recovery passphrase; the keyring is still unavailable")


# -- opening


def raw_connect(
    path: Path | str,
    key: bytes | None,
    *,
    check_same_thread: bool = True,
    timeout: float = 5.0,
    uri: bool = False,
) -> Connection:
    """A connection with the key applied and checked (no conversion): DatabaseError if it fails.
    For `database` and `migration` only; everything else opens stores with `connect`."""
    conn: Connection = _driver_connect(
        str(path), isolation_level=None, check_same_thread=check_same_thread, timeout=timeout, uri=uri
    )
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to report, not stderr's
        if key is not None:
            conn.execute(key_pragma(key))
        conn.execute("PRAGMA temp_store = MEMORY")  # no plain temp files for big sorts
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def connect(
    path: Path, *, check_same_thread: bool = True, timeout: float = 5.0, wal: bool = True
) -> Connection:
    """Open a store: unlock its folder, finish or start any conversion, apply the key.

    Autocommit (isolation_level=None), rows as `Row`; with `wal`, WAL journal, synchronous=NORMAL
    and foreign keys on. Raises StorageError kinds with a user message; a store is never
    overwritten or deleted when it cannot be opened.
    """
    from desktop.services import migration

    path = Path(os.path.abspath(path))
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = unlock(folder)
    migration.settle(path, key, progress=_progress)
    try:
        conn = raw_connect(path, key, check_same_thread=check_same_thread, timeout=timeout)
    except DatabaseError as exc:
        if not is_unreadable(exc):
            raise  # a full disk, another program's lock: each store says it in its own words
        raise unreadable(path, key, exc) from exc
    conn.row_factory = Row
    if wal:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
    if key is not None:
        _remember_salt(path)
    return conn


def _remember_salt(path: Path) -> None:
    """Record the store's SQLCipher salt (its first 16 bytes, public) once, to recognize the file."""
    try:
        with open(path, "rb") as fh:
            salt = fh.read(16).hex()
    except OSError:
        return
    if len(salt) != 32:
        return
    state = read_state(path.parent) or {}
    if state.get("stores", {}).get(path.name, {}).get("salt") == salt or not state.get("method"):
        return
    with folder_lock(path.parent):
        state = read_state(path.parent) or {}
        if not state.get("method"):
            return
        state.setdefault("stores", {})[path.name] = {"salt": salt}
        with contextlib.suppress(StorageError):  # only a diagnosis aid: never fail an open for it
            _write_state(path.parent, state)


def is_unreadable(exc: BaseException) -> bool:
    """The file's content is the problem (a wrong key reads as garbage), not the disk or a lock."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def unreadable(path: Path, key: bytes | None, exc: BaseException) -> StorageError:
    """Why a store does not open, in words: a full disk, another program's lock, a truncated or
    damaged file, or one from another install. The file is left as it is."""
    text = str(exc).lower()
    if "full" in text:
        return StorageError(
            f"The disk is full, so Hearth cannot open {path.name}.",
            "Free some space and try again; nothing was lost.",
            detail=repr(exc),
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            f"Another program is using {path.name}.",
            "Close the other Hearth window or command and try again.",
            detail=repr(exc),
        )
    keep = f"Nothing was changed or deleted; {path} is kept as it is."
    form = file_form(path)
    if key is None:
        why = (
            ": it is encrypted, but this folder is set to store without encryption."
            if form == "encrypted"
            else " (it may be damaged)."
        )
        return StoreUnreadable(
            f"{path.name} cannot be opened{why}",
            f"{keep} Move it aside to start afresh.",
            detail=repr(exc),
        )
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            salt = fh.read(16).hex()
    except OSError:
        size, salt = 0, ""
    state = read_state(path.parent) or {}
    recorded = state.get("stores", {}).get(path.name, {}).get("salt")
    if recorded and salt != recorded:
        return StoreUnreadable(
            f"{path.name} was not written by this Hearth: it comes from another install, whose key "
            "is not this one.",
            f"{keep} Put back the file this install made, or open this one on the install it came from.",
            detail=f"salt {salt} != recorded {recorded}: {exc!r}",
        )
    if size % 1024:
        return StoreUnreadable(
            f"{path.name} is truncated (cut short), so Hearth cannot open it.",
            f"{keep} Restore it from a backup.",
            detail=f"{size} bytes: {exc!r}",
        )
    return StoreUnreadable(
        f"{path.name} is damaged: the right key does not open it.",
        f"{keep} Restore it from a backup, or move it aside to start afresh.",
        detail=repr(exc),
    )


def quick_check(path: Path) -> str:
    """SQLite's quick_check of a store, read-only, through its key when it is encrypted (a plain
    one, not converted yet or plain by choice, needs none): 'ok' when healthy."""
    path = Path(os.path.abspath(path))
    key = unlock(path.parent) if file_form(path) == "encrypted" else None
    try:
        conn = raw_connect(f"{path.as_uri()}?mode=ro", key, uri=True, timeout=5)
    except DatabaseError as exc:
        raise unreadable(path, key, exc) from exc
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    finally:
        conn.close()
    return ", ".join(str(r[0]) for r in rows[:3])


# -- what the privacy panel shows


def at_rest_status(folder: Path | None = None) -> dict[str, Any]:
    """How the data in `folder` is kept on disk, without unlocking or prompting. A dict of plain
    values: `encrypted`, `method`, `key_location`, `kdf`, `recovery_passphrase`, `unlocked`,
    `stores` (name → form), `converting`, `chose_plain`, `vectors` (encrypted: False, note), `summary`."""
    folder = _folder(folder)
    try:
        state = read_state(folder)
    except StoreUnreadable as exc:
        state, problem = None, exc.user_message
    else:
        problem = ""
    method = state["method"] if state else "not set up"
    stores = {name: file_form(folder / name) for name in STORES}
    from desktop.services import migration

    converting = [name for name in STORES if migration.leftovers(folder / name)]
    want = "plain" if method == PLAIN else "encrypted"
    present = [form for form in stores.values() if form in ("plain", "encrypted")]
    encrypted = method in (KEYRING, PASSPHRASE) and all(f == "encrypted" for f in present)
    if method == KEYRING:
        from desktop.services import secrets

        where = f"in the OS keyring ({secrets.backend_name()})"
    elif method == PASSPHRASE:
        where = "nowhere on disk: it is derived from your passphrase at each start"
    else:
        where = ""
    kdf = state.get("kdf") if state else None
    if problem:
        summary = problem
    elif method == PLAIN:
        summary = "Chats and document text are stored WITHOUT encryption (your choice)."
    elif method == "not set up":
        summary = "Nothing stored yet: chats and document text will be encrypted."
    elif encrypted and not converting:
        summary = f"Chats and document text are encrypted; the key is {where}."
    else:
        pending = [n for n, f in stores.items() if f not in ("absent", "empty", want)]
        summary = f"Encrypting {', '.join(pending or converting)}: finishes on the next start."
    return {
        "encrypted": encrypted,
        "method": method,
        "key_location": where,
        "kdf": f"scrypt (N={kdf['n']}, r={kdf['r']}, p={kdf['p']})" if kdf else "",
        "recovery_passphrase": bool(state and state.get("recovery")),
        "unlocked": folder in _keys,
        "stores": stores,
        "converting": converting,
        "chose_plain": method == PLAIN,
        "plain_reason": state.get("reason", "") if state and method == PLAIN else "",
        "state_file": str(folder / STATE_FILE),
        "vectors": {"encrypted": False, "path": str(folder / "vectors"), "note": VECTORS_NOTE},
        "summary": summary,
    }


# -- changing the choice


def conversions_pending(folder: Path | None = None) -> list[str]:
    """Stores that the next open converts (plain ones before the upgrade, killed conversions)."""
    from desktop.services import migration

    folder = _folder(folder)
    state = read_state(folder)
    want = "plain" if state is not None and state["method"] == PLAIN else "encrypted"
    return [
        name
        for name in STORES
        if migration.leftovers(folder / name) or file_form(folder / name) not in ("absent", "empty", want)
    ]


def prepare(folder: Path | None = None, progress: ProgressSink | None = None) -> None:
    """Unlock the folder and bring every store to its form now (at start, with progress shown)."""
    from desktop.services import migration

    folder = _folder(folder)
    key = unlock(folder)
    for name in STORES:
        migration.settle(folder / name, key, progress=progress or _progress)


def choose_plain(folder: Path | None = None, progress: ProgressSink | None = None) -> None:
    """The user's explicit choice to store without encryption: decrypt every store in place,
    then record the choice and drop the key from the keyring. Killed halfway, the next start
    encrypts again (the choice takes effect when this returns)."""
    from desktop.services import migration, policy

    policy.check_plain_storage()  # before anything is decrypted
    folder = _folder(folder)
    state = read_state(folder)
    if state is None:
        set_up(folder, PLAIN)
        return
    if state["method"] == PLAIN:
        return
    key = unlock(folder)
    with _lock:
        for name in STORES:
            migration.convert(folder / name, key, None, progress=progress or _progress)
        with folder_lock(folder):
            _write_state(folder, _plain_state())
            _keys[folder] = None
        if state["method"] == KEYRING:
            from desktop.services import secrets

            with contextlib.suppress(SecretsUnavailable):
                secrets.delete_secret(_entry(state))


def choose_encrypted(
    folder: Path | None = None, passphrase: str | None = None, progress: ProgressSink | None = None
) -> None:
    """Undo the plain choice: a new key (keyring, or `passphrase`, or the usual set-up), then
    every store is encrypted in place."""
    folder = _folder(folder)
    with _lock:
        state = read_state(folder)
        if state is not None and state["method"] != PLAIN:
            prepare(folder, progress)
            return
        with folder_lock(folder):
            if state is not None:
                (folder / STATE_FILE).unlink()
            _keys.pop(folder, None)
        try:
            if passphrase is not None:
                set_up(folder, PASSPHRASE, passphrase)
            prepare(folder, progress)
        except BaseException:
            if read_state(folder) is None and state is not None:
                _write_state(folder, state)  # the set-up failed: still plain, as chosen before
            raise

"""One window per data folder: a second `hearth` (or `hearth FILE…`) hands its files to the window
already running there, over a local socket, and exits.

Who is first is decided by an flock, not by whether a socket answers: a window killed with -9
leaves its socket file behind but not its lock, so the next start knows that file is stale,
removes it and listens; and two launches at the same moment cannot both become first.

The socket and the lock live in a folder only this user can enter ($XDG_RUNTIME_DIR, else a
private folder under the temp dir), named after the data folder's identity (device and inode: the
same folder however it is reached). A name in the shared /tmp (where QLocalServer puts a bare
name) could be taken first by another user, who would then be sent the paths of this user's
files. A Unix socket (a named pipe on Windows), never TCP.

Nothing here delays the first frame: the lock is a few system calls, and QtNetwork is imported
and the server listens only once the window has painted. A launch in between waits for it.

The message is one line of JSON, `{"hearth": 1, "paths": ["/abs/file.pdf", …], "activation": "…"}`
(`activation`: the launcher's XDG activation token, so Wayland lets the window come to the front),
answered `ok` (`closing` from a window on its way out). Anything else is answered `error`, logged
and dropped; the window never sees it.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QObject, QTimer

from desktop.core.errors import AppError

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("desktop.ui.instance")

PROTOCOL = 1
MAX_MESSAGE = 64 * 1024  # a few hundred paths; a longer line is junk
MAX_PATHS = 1000
READ_TIMEOUT_MS = 2000  # a client that connects and says nothing is dropped after this
HANDOVER_TIMEOUT_S = 15.0  # the first window may still be starting (its lock taken, not yet listening)


class Handover(NamedTuple):
    """What a second launch asked for: files to open (none: only come to the front)."""

    paths: tuple[Path, ...]
    activation: str = ""


class Endpoint(NamedTuple):
    """Where the first window listens (a socket path; a pipe name on Windows) and what it locks."""

    server: str
    lock: Path | None  # None: no flock here (Windows); whoever answers on `server` is first


def endpoint(folder: Path) -> Endpoint | None:
    """The socket and lock for the data folder `folder`; None when no folder private to this user
    can hold them (then each launch is its own window, and the library lock refuses the second)."""
    info = folder.stat()
    key = f"{info.st_dev:x}-{info.st_ino:x}"
    if sys.platform == "win32":  # named pipes share one namespace: the user's name keeps them apart
        import hashlib

        user = hashlib.sha256(os.environ.get("USERNAME", "").encode()).hexdigest()[:12]
        return Endpoint(f"hearth-{user}-{key}", None)
    home = _private_dir()
    if home is None:
        return None
    return Endpoint(str(home / f"hearth-{key}.sock"), home / f"hearth-{key}.lock")


def _candidates() -> Iterator[Path]:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        yield Path(runtime)
    import tempfile  # only without a usable runtime folder: it is not needed before most first frames

    yield Path(tempfile.gettempdir()) / f"hearth-{os.getuid()}"


def _private_dir() -> Path | None:
    for path in _candidates():
        try:
            if path.name.startswith("hearth-"):
                path.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(path)
        except OSError:
            continue
        owned = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        # 104 bytes: the shortest limit on a socket's path (macOS); the name adds at most 46.
        if owned and not info.st_mode & 0o077 and len(os.fsencode(path)) < 104 - 46:
            return path
    log.warning("no private folder for the window's socket: a second launch opens a second window")
    return None


def encode(paths: list[Path], activation: str = "") -> bytes:
    import json

    message = {"hearth": PROTOCOL, "paths": [str(p) for p in paths], "activation": activation}
    return json.dumps(message).encode() + b"\n"


def decode(line: bytes) -> Handover | None:
    """The hand-over in `line`, or None for anything that is not one (wrong version, relative
    paths, wrong types, too many)."""
    import json

    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(message, dict) or message.get("hearth") != PROTOCOL:
        return None
    paths = message.get("paths")
    activation = message.get("activation", "")
    if not isinstance(paths, list) or len(paths) > MAX_PATHS or not isinstance(activation, str):
        return None
    if not all(isinstance(p, str) and p and "\0" not in p and Path(p).is_absolute() for p in paths):
        return None
    if len(activation) > 512 or not activation.isprintable():
        activation = ""
    return Handover(tuple(Path(p) for p in paths), activation)


class WindowInstance(QObject):
    """The first window's claim on its data folder: the lock, held for the process's life, and the
    server that receives what later launches hand over. `deliver_to` names who handles them (and
    says whether it took them: a closing window does not, and the launch then becomes the next
    window); what arrives before that waits for it. Runs on the GUI thread."""

    def __init__(self, where: Endpoint | None, lock_fd: int | None) -> None:
        super().__init__()
        self.endpoint = where
        self._lock_fd = lock_fd
        self._server: QLocalServer | None = None
        self._receiver: Callable[[Handover], bool] | None = None
        self._pending: list[Handover] = []

    def listen(self) -> bool:
        """Start serving later launches (the window calls this once it has painted)."""
        if self.endpoint is None or self._server is not None:
            return self._server is not None
        from PySide6.QtNetwork import QLocalServer

        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if self.endpoint.lock is not None:
            QLocalServer.removeServer(self.endpoint.server)  # we hold the lock: any socket is stale
        if not server.listen(self.endpoint.server):
            log.warning("the window's socket could not listen: %s", server.errorString())
            return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def deliver_to(self, receiver: Callable[[Handover], bool]) -> None:
        self._receiver = receiver
        pending, self._pending = self._pending, []
        for handover in pending:
            receiver(handover)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()  # removes the socket file
            self._server = None
        if self._lock_fd is not None:
            if self.endpoint is not None and self.endpoint.lock is not None:
                # Removed while still held (a launch that opened it meanwhile sees it is stale).
                self.endpoint.lock.unlink(missing_ok=True)
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if socket is not None:
                _Connection(socket, self._received)

    def _received(self, handover: Handover) -> bool:
        log.info("a second launch handed over %d file(s)", len(handover.paths))
        if self._receiver is None:
            self._pending.append(handover)
            return True
        return self._receiver(handover)


class _Connection(QObject):
    """One client: read one line (within the size and time limits), answer, close."""

    def __init__(self, socket: QLocalSocket, on_handover: Callable[[Handover], bool]) -> None:
        super().__init__(socket)  # lives as long as its socket
        self.socket = socket
        self.on_handover = on_handover
        self.buffer = bytearray()
        self.done = False
        socket.readyRead.connect(self._read)
        socket.disconnected.connect(socket.deleteLater)
        QTimer.singleShot(READ_TIMEOUT_MS, self, lambda: self._finish(None, "said nothing in time"))
        self._read()  # bytes may have arrived with the connection

    def _read(self) -> None:
        if self.done:
            return
        self.buffer += bytes(self.socket.readAll().data())
        line, newline, _ = bytes(self.buffer).partition(b"\n")
        if newline:
            handover = decode(line)
            self._finish(handover, "" if handover else "sent something that is not a hand-over")
        elif len(self.buffer) > MAX_MESSAGE:
            self._finish(None, "sent too much")

    def _finish(self, handover: Handover | None, why: str) -> None:
        if self.done:
            return
        self.done = True
        if handover is None:
            log.warning("ignored a connection to the window's socket: it %s", why)
            reply = b"error\n"
        else:
            reply = b"ok\n" if self.on_handover(handover) else b"closing\n"
        self.socket.write(reply)
        self.socket.flush()
        self.socket.disconnectFromServer()


class HandoverFailed(AppError):
    """A window runs on this data folder but did not take the files."""

    kind = "handover_failed"


def claim_or_hand_over(
    folder: Path, paths: list[Path], timeout: float = HANDOVER_TIMEOUT_S
) -> WindowInstance | None:
    """Become the window for the data folder `folder`, listening for later launches (this starts
    once `listen()` is called); or, when a window already runs there, hand it `paths` and return
    None. Raises HandoverFailed when that window does not take them in time."""
    where = endpoint(folder)
    if where is None:
        return WindowInstance(None, None)
    deadline = time.monotonic() + timeout
    while True:
        lock_fd = _try_lock(where)
        if lock_fd is not None or (where.lock is None and not _answers(where.server)):
            return WindowInstance(where, lock_fd)
        if _hand_over(where, paths, deadline):
            return None
        if time.monotonic() >= deadline:
            log.warning("the running window did not answer on %s", where.server)
            raise HandoverFailed(
                "Hearth is already open, but its window did not answer.",
                "Switch to the Hearth window (it may be asking for your passphrase), or close it "
                "and open the file again.",
                detail=f"no answer on {where.server}",
            )
        # Not taken yet: it may still be starting, or closing (then its lock is soon free).
        time.sleep(0.1)


def _try_lock(where: Endpoint) -> int | None:
    """The lock's descriptor, now held; None when another process holds it (or there is none)."""
    if where.lock is None:
        return None
    import fcntl

    while True:
        fd = os.open(where.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            current = os.stat(where.lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            return fd
        os.close(fd)  # a closing window removed that file after we opened it: lock the new one


def _answers(server: str) -> bool:
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(server)
    connected = socket.waitForConnected(300)
    socket.abort()
    return connected


def _hand_over(where: Endpoint, paths: list[Path], deadline: float) -> bool:
    """One try: connect, send, wait for `ok`, giving up at `deadline` or after half a second
    without a listener (the caller then checks the lock again)."""
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(where.server)
    if not socket.waitForConnected(min(500, _ms_left(deadline))):
        socket.abort()
        return False
    socket.write(encode(paths, os.environ.get("XDG_ACTIVATION_TOKEN", "")))
    reply = bytearray()
    while b"\n" not in reply and time.monotonic() < deadline:
        if socket.bytesToWrite():
            socket.waitForBytesWritten(_ms_left(deadline))
        elif socket.waitForReadyRead(_ms_left(deadline)):
            reply += bytes(socket.readAll().data())
        elif socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
            reply += bytes(socket.readAll().data())
            break
    socket.abort()
    return bytes(reply).startswith(b"ok\n")


def _ms_left(deadline: float) -> int:
    return max(1, int((deadline - time.monotonic()) * 1000))


def tell(exc: AppError) -> None:
    """Say why the window did not open: on stderr, and in a dialog (a file manager shows no terminal)."""
    print(f"hearth: {exc}", file=sys.stderr)
    from PySide6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is None:
        QApplication(sys.argv)
    QMessageBox.critical(None, "Hearth", f"{exc.user_message}\n\n{exc.hint}")

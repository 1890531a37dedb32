"""Child processes: a fresh interpreter running one of Hearth's modules, where native code that
reads untrusted input (a GGUF, a PDF, a Chroma index) can crash without taking Hearth down.

Hearth has three: the model runtime (services/llm.py), the PDF and Word workers (services/pdf.py)
and the vector index's health check (services/library_vectors.py). Each is `python -m MODULE`,
never a multiprocessing spawn, which would re-import the caller's `__main__` (a Qt app, pytest, a
script).

Parent side: `Child` starts one with its ends of `channels` socketpairs (passed as the first
arguments, file descriptor numbers), in its own session (Ctrl-C in a terminal reaches Hearth, not
the child), stdin closed. Each channel is a `multiprocessing.connection.Connection`: length-framed
messages (`send`/`recv` of tuples, `send_bytes`/`recv_bytes`). `wait`, `kill` and `quit` reap it;
a child that died of a signal reports `-signal` as its exit code (the model runtime's kernel-crash
ladder reads it). `run` is the one-shot form: its answer is what it prints.

Child side: `connections(argv, n)` takes the channels back; `become_child()` ignores SIGINT (the
parent decides when a child ends), forbids core files (one would hold the user's documents and
prompts, and can be gigabytes), optionally caps the address space, and ends the child within half
a second of its parent's death.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

# ----------------------------------------------------------------------------- parent side


def command(module: str, *args: str) -> list[str]:
    """The command line of a fresh interpreter running `module` (this interpreter, this venv)."""
    return [sys.executable, "-m", module, *args]


def _env(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if not extra else {**os.environ, **extra}


class Child:
    """One child process and the parent's ends of its channels (`conn` is the first)."""

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        channels: int = 1,
        env: Mapping[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        """Start `python -m module FD… ARGS…`. `env`: variables added to this process's;
        `quiet`: the child's stdout goes nowhere (stderr is always Hearth's, for its tracebacks)."""
        pairs = [socket.socketpair() for _ in range(channels)]
        fds = [child.fileno() for _, child in pairs]
        try:
            self.proc = subprocess.Popen(
                command(module, *map(str, fds), *args),
                pass_fds=fds,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if quiet else None,
                env=_env(env),
            )
        except BaseException:
            for parent, _ in pairs:
                parent.close()
            raise
        finally:
            for _, child in pairs:
                child.close()
        self.conns = tuple(Connection(parent.detach()) for parent, _ in pairs)

    @property
    def conn(self) -> Connection:
        return self.conns[0]

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int | None:
        """Its exit code once it has ended (-N: killed by signal N); None if it still runs after
        `timeout` seconds (a closed pipe comes a moment before the process can be reaped)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, timeout: float = 10.0) -> None:
        """End it now (SIGKILL), reap it and close the channels."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(timeout)
        for conn in self.conns:
            conn.close()

    def quit(self, message: tuple[Any, ...] = ("quit",), timeout: float = 3.0) -> None:
        """Ask it to end (`message` on the first channel), give it `timeout` seconds, then kill."""
        if self.alive:
            try:
                self.conn.send(message)
            except OSError:
                pass
            self.wait(timeout)
        self.kill()


def run(
    module: str, args: Sequence[str] = (), *, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module ARGS…` to its end; its stdout and stderr come back as text.
    Raises subprocess.TimeoutExpired (after killing it) when it takes longer than `timeout`."""
    return subprocess.run(
        command(module, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
        stdin=subprocess.DEVNULL,
    )


# ----------------------------------------------------------------------------- child side


def connections(argv: Sequence[str], n: int = 1) -> tuple[list[Connection], list[str]]:
    """The child's ends of the parent's `n` channels, and the arguments that follow them."""
    return [Connection(int(fd)) for fd in argv[:n]], list(argv[n:])


def requests(conn: Connection, quit: str = "quit") -> Iterator[tuple[Any, ...]]:
    """The parent's requests, one at a time, until it sends (`quit`,) or its end of the channel
    closes (Hearth gone: the child ends quietly)."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == quit:
            return
        yield msg


def no_core_dumps() -> None:
    """A native crash must not write a core file: it would hold the user's documents and prompts
    (privacy) and can be gigabytes. The parent reports the crash instead."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # Windows has no resource module
        pass


def limit_memory(max_bytes: int) -> None:
    """Cap the address space (RLIMIT_AS): a compression bomb fails to allocate instead of swapping."""
    if max_bytes <= 0:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform; the parent's timeout still guards
        pass


def die_with_parent(code: int = 3) -> None:
    """A child must never outlive Hearth (a runaway decode or parse would keep a core and memory
    busy). The channel's EOF ends an idle child; this watch ends a busy one: when the parent is
    gone, the child is re-parented and `getppid()` changes. It runs in a daemon thread, which
    Python schedules even while the main thread is busy, and native code (llama.cpp's decode)
    releases the GIL while it works."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(code)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def become_child(memory_limit: int = 0) -> None:
    """What every child does first: SIGINT ignored (the parent decides when it ends), no core
    files, the address space capped when `memory_limit` > 0, and an end with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    no_core_dumps()
    limit_memory(memory_limit)
    die_with_parent()

"""A real Chroma server (`chroma run`, the binary chromadb installs) on a free loopback port, in a
folder of its own: the team library's tests and the load test run against it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path, port: int | None = None, timeout: float = 60) -> tuple[subprocess.Popen[bytes], int]:
    """Start `chroma run --path folder --host 127.0.0.1 --port P`; returns once it listens."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder.parent / f"{folder.name}.log").open("ab")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (folder.parent / f"{folder.name}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"chroma run exited ({proc.returncode}): {text}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    raise RuntimeError(f"chroma run did not answer on port {port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@contextmanager
def running(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = start(folder)
    try:
        yield proc, port
    finally:
        stop(proc)

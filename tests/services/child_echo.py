"""A child for tests/services/test_child.py: `python -m tests.services.child_echo FD MODE`."""

from __future__ import annotations

import os
import signal
import sys

from desktop.services import child


def main(argv: list[str]) -> None:
    (conn,), (mode,) = child.connections(argv)
    child.become_child(memory_limit=1 << 31)
    conn.send(("ready", os.getpid()))
    for msg in child.requests(conn):
        if msg[0] == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        conn.send(("echo", *msg[1:], mode))


if __name__ == "__main__":
    main(sys.argv[1:])

"""services/child.py: the one way Hearth starts, talks to and ends a child interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop.services import child

ECHO = "tests.services.child_echo"
ROOT = Path(__file__).resolve().parents[2]


def test_a_child_answers_over_its_channel_and_quits() -> None:
    c = child.Child(ECHO, ("plain",), quiet=True)
    try:
        assert c.conn.poll(30)
        kind, pid = c.conn.recv()
        assert (kind, pid) == ("ready", c.pid) and c.alive
        c.conn.send(("say", "hello"))
        assert c.conn.recv() == ("echo", "hello", "plain")
        if sys.platform.startswith("linux"):
            limits = Path(f"/proc/{c.pid}/limits").read_text()
            assert any(
                ln.startswith("Max core file size") and ln.split()[4] == "0" for ln in limits.splitlines()
            )
            assert any(
                ln.startswith("Max address space") and "2147483648" in ln for ln in limits.splitlines()
            )
    finally:
        c.quit()
    assert not c.alive and c.wait(1) == 0


def test_a_native_crash_is_reported_by_its_signal() -> None:
    c = child.Child(ECHO, ("plain",), quiet=True)
    try:
        c.conn.recv()
        c.conn.send(("crash",))
        with pytest.raises((EOFError, OSError)):
            c.conn.recv()
        assert c.wait(10) == -11  # the kernel ladder (services/kernels.py) reads this
    finally:
        c.kill()


def test_kill_reaps_and_closes() -> None:
    c = child.Child(ECHO, ("plain",), quiet=True)
    c.conn.recv()
    c.kill()
    assert c.proc.returncode == -9 and c.conn.closed


@pytest.mark.skipif(os.name != "posix", reason="re-parenting is POSIX")
def test_a_child_ends_with_its_parent() -> None:
    """Hearth killed: its children must not stay behind (a runaway parse would keep a core busy)."""
    parent = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from desktop.services import child
        c = child.Child({ECHO!r}, ("plain",), quiet=True)
        c.conn.recv()
        print(c.pid, flush=True)
        os._exit(0)  # no cleanup: as if killed
        """
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60, cwd=ROOT)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    pytest.fail("the child outlived its parent")


def test_run_returns_what_the_child_printed() -> None:
    done = child.run("platform", timeout=60, env={"HEARTH_TEST": "1"})
    assert done.returncode == 0 and done.stdout.strip()

"""Waiting on a child process with a deadline: a test fails with the child's story, never hangs.

A test that blocks on a pipe read while the program it drives has crashed, or is waiting for
input the test will never send, used to hang until pytest's global timeout (600 s) and then
said nothing useful. These helpers poll with short timeouts and, at the deadline, kill the
process group and fail with the exit code (or signal), stdout so far and stderr.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest


def describe_exit(code: int | None) -> str:
    """`exit 0`, `exit 2`, `killed by SIGSEGV`, or `still running`."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait(timeout=10)


def _stderr_of(proc: subprocess.Popen[bytes]) -> str:
    if proc.stderr is None:
        return ""
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        data = os.read(proc.stderr.fileno(), 1 << 20) if ready else b""
    except (OSError, ValueError):
        data = b""
    return data.decode("utf-8", "replace")


def fail_with(proc: subprocess.Popen[bytes], why: str, stdout: bytes = b"") -> None:
    """Kill the process (group) and fail the test with what it printed and how it ended."""
    still_running = proc.poll() is None
    if still_running:
        _kill_group(proc)
    status = "still running, killed" if still_running else describe_exit(proc.returncode)
    err = _stderr_of(proc)
    pytest.fail(
        f"{why} ({status}).\n--- stdout so far ---\n{stdout.decode('utf-8', 'replace')[-4000:]}"
        f"\n--- stderr ---\n{err[-4000:]}",
        pytrace=False,
    )


def read_until(proc: subprocess.Popen[bytes], done: object, timeout: float) -> bytes:
    """Read the child's stdout until `done(seen) -> bool` holds; fail at the deadline or at EOF."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while not done(seen):  # type: ignore[operator]
        left = deadline - time.monotonic()
        if left <= 0:
            fail_with(proc, f"no expected output within {timeout:.0f} s", seen)
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            proc.wait(timeout=10)
            fail_with(proc, "the program closed its output before the expected text", seen)
        seen += chunk
    return seen


def communicate_within(
    proc: subprocess.Popen[bytes], timeout: float, stdin: bytes | None = None
) -> tuple[bytes, bytes]:
    """`proc.communicate` with a deadline that fails the test (with stderr) instead of hanging."""
    try:
        return proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(
            f"still running after {timeout:.0f} s, killed.\n--- stdout ---\n"
            f"{(exc.stdout or out or b'').decode('utf-8', 'replace')[-4000:]}\n--- stderr ---\n"
            f"{(exc.stderr or err or b'').decode('utf-8', 'replace')[-4000:]}",
            pytrace=False,
        )

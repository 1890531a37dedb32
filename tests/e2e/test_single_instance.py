"""One window per data folder, with real processes: a second `python -m desktop FILE.pdf` hands the
file to the running window and exits 0; a window killed with -9 leaves a stale socket that does not
block the next start; junk on the socket is ignored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop.ui.single_instance import endpoint
from tests import pdfs
from tests.procs import communicate_within, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
StartWindow = Callable[[], subprocess.Popen[bytes]]

# The real entry point (desktop.app.main, as `hearth` runs it), with two lines printed: when the
# window has painted and filled in, and each hand-over with the chat it opened.
WINDOW_SCRIPT = """
import json, sys
from desktop.ui.main_window import MainWindow
after_first_show = MainWindow._after_first_show
def shown(self):
    after_first_show(self)
    print("SHOWN", flush=True)
open_handed_over = MainWindow.open_handed_over
def handed_over(self, paths, activation=""):
    taken = open_handed_over(self, paths, activation)
    if self._first_frame_done:
        chat = self.chat.store.chat(self.chat.chat_id) if self.chat.chat_id else None
        print("HANDED " + json.dumps({"paths": [str(p) for p in paths],
                                      "chat": chat.title if chat else None}), flush=True)
    return taken
MainWindow._after_first_show = shown
MainWindow.open_handed_over = handed_over
from desktop.app import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def env(data_dir: Path, tmp_path: Path) -> dict[str, str]:
    from desktop.services.selftest import CheckResult, save_results

    # The first-start self-test (an embedder, seconds) and the model are not what this is about:
    # no model is found, so the summary stops at once, after its chat is made.
    save_results([CheckResult("stores", True, 0.0, "tests: pre-recorded")])
    (tmp_path / "no-models").mkdir()
    return {
        **os.environ,
        "HEARTH_DATA_DIR": str(data_dir),
        "HEARTH_BUNDLED_MODELS": str(tmp_path / "no-models"),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_window(env: dict[str, str], tmp_path: Path) -> Iterator[StartWindow]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"window-{len(started)}.log", "wb")  # noqa: SIM115 (the child's stderr)
        proc = subprocess.Popen(
            [sys.executable, "-c", WINDOW_SCRIPT],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        log.close()
        started.append(proc)
        read_until(proc, lambda s: b"SHOWN" in s, timeout=120)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        communicate_within(proc, timeout=10)
    where = endpoint(Path(env["HEARTH_DATA_DIR"]))  # killed windows leave these in the shared folder
    if where is not None and where.lock is not None:
        Path(where.server).unlink(missing_ok=True)
        where.lock.unlink(missing_ok=True)


def _second_launch(env: dict[str, str], *files: Path) -> tuple[subprocess.CompletedProcess[bytes], float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "desktop", *map(str, files)],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    return done, time.monotonic() - began


def _handed(proc: subprocess.Popen[bytes]) -> dict[str, object]:
    seen = read_until(proc, lambda s: b"HANDED " in s and s.split(b"HANDED ", 1)[1].count(b"\n"), timeout=30)
    handed: dict[str, object] = json.loads(seen.split(b"HANDED ", 1)[1].split(b"\n", 1)[0])
    return handed


def _send_raw(server: str, data: bytes, close_early: bool = False) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(server)
        sock.sendall(data)
        if close_early:
            return b""
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(100)
            if not chunk:
                break
            reply += chunk
        return reply


def test_a_second_launch_hands_its_file_to_the_running_window_and_exits(
    env: dict[str, str], start_window: StartWindow, data_dir: Path, tmp_path: Path
) -> None:
    report = pdfs.normal(tmp_path / "Quarterly report.pdf")
    first = start_window()

    done, seconds = _second_launch(env, report)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    print(f"second launch handed over and exited in {seconds:.2f} s")
    assert seconds < 10
    handed = _handed(first)
    assert handed == {"paths": [str(report.resolve())], "chat": "Quarterly report.pdf"}
    assert first.poll() is None, "the first window still runs: one window process"

    # A plain second `hearth` only brings the window to the front: no files, no new chat.
    done, _ = _second_launch(env)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _handed(first)["paths"] == []

    os.killpg(first.pid, signal.SIGKILL)
    communicate_within(first, timeout=10)
    from desktop.services.chats import ChatStore

    store = ChatStore(data_dir / "chats.sqlite")
    try:
        assert [c.title for c in store.chats()] == ["Quarterly report.pdf"]
    finally:
        store.close()


def test_junk_on_the_socket_is_ignored_and_the_window_keeps_serving(
    env: dict[str, str], start_window: StartWindow, data_dir: Path, tmp_path: Path
) -> None:
    first = start_window()
    where = endpoint(data_dir)
    assert where is not None
    assert os.stat(where.server).st_mode & 0o077 == 0, "only this user may connect"
    for junk in (
        b"hello\n",
        b"\xff\xfe\n",
        b'{"hearth": 2, "paths": []}\n',
        b'{"hearth": 1, "paths": ["relative.pdf"]}\n',
        b'{"hearth": 1, "paths": "/etc/passwd"}\n',
        b"[1, 2, 3]\n",
    ):
        assert _send_raw(where.server, junk) == b"error\n", junk
    _send_raw(where.server, b'{"hearth": 1, "paths": [', close_early=True)  # cut off mid-message
    assert _send_raw(where.server, b"x" * 200_000) == b"error\n"  # too long, and no newline

    # Paths that are not regular files are named in the usual error (and open nothing).
    missing = tmp_path / "gone.pdf"
    message = json.dumps({"hearth": 1, "paths": [str(missing), str(tmp_path)]}).encode() + b"\n"
    assert _send_raw(where.server, message) == b"ok\n"
    assert _handed(first)["chat"] is None

    report = pdfs.normal(tmp_path / "after junk.pdf")
    done, _ = _second_launch(env, report)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _handed(first)["chat"] == "after junk.pdf"
    assert first.poll() is None


def test_a_window_killed_with_9_leaves_a_stale_socket_that_does_not_block_the_next_start(
    env: dict[str, str], start_window: StartWindow, data_dir: Path, tmp_path: Path
) -> None:
    crashed = start_window()
    os.killpg(crashed.pid, signal.SIGKILL)
    communicate_within(crashed, timeout=10)
    where = endpoint(data_dir)
    assert where is not None and Path(where.server).exists(), "the crash left its socket file"

    second = start_window()  # it became the window: it painted
    report = pdfs.normal(tmp_path / "after the crash.pdf")
    done, _ = _second_launch(env, report)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _handed(second)["chat"] == "after the crash.pdf"

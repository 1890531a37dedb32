"""The real `hearth chat` in a terminal session: Ctrl-C stops the answer, not the program."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.procs import communicate_within, describe_exit, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_ctrl_c_stops_the_answer_and_the_chat_goes_on(tmp_path: Path) -> None:
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path), "HEARTH_NO_GUI": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", "chat", "--max-tokens", "2000", "--seed", "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(b"Write a very long story about a ship, chapter by chapter.\n")
    proc.stdin.flush()
    # Wait until the answer is streaming, then press Ctrl-C (SIGINT to the whole process group).
    seen = read_until(
        proc, lambda s: b"hearth> " in s and len(s.split(b"hearth> ", 1)[1]) >= 20, timeout=90
    )
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    proc.stdin.write(b"Say hello.\n/quit\n")
    proc.stdin.flush()
    out, err = communicate_within(proc, timeout=60)
    assert proc.returncode == 0, f"{describe_exit(proc.returncode)}: {err.decode()}"
    assert b"[stopped]" in err
    # The second question was answered by the same program (the model was not killed by Ctrl-C).
    assert (seen + out).count(b"hearth> ") == 2


def test_on_a_cpu_whose_fast_kernels_crash_a_chat_still_answers(tmp_path: Path) -> None:
    """The AMX machine, by fault injection: the first start falls back and says so, the second is quiet."""
    env = {
        **os.environ,
        "HEARTH_DATA_DIR": str(tmp_path),
        "HEARTH_NO_GUI": "1",
        "HEARTH_FAULT_KERNEL_CRASH": "load",
    }
    cmd = [sys.executable, "-m", "desktop", "chat", "--once", "Say hello.", "--max-tokens", "12"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    out, err = communicate_within(first, timeout=120)
    assert first.returncode == 0, f"{describe_exit(first.returncode)}: {err.decode()}"
    assert out.strip(), "no answer"
    assert b"portable kernels" in err and b"stopped unexpectedly" not in err

    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    out, err = communicate_within(second, timeout=120)
    assert second.returncode == 0 and out.strip()
    assert b"crashed" not in err, "the second start must go straight to the kernels that work"


def test_kill_9_mid_answer_keeps_what_was_streamed_marked_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path), "HEARTH_NO_GUI": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", "chat", "--max-tokens", "2000", "--seed", "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    assert proc.stdin
    proc.stdin.write(b"Write a very long story about a ship, chapter by chapter.\n")
    proc.stdin.flush()
    seen = read_until(proc, lambda s: b"hearth> " in s and len(s.split(b"hearth> ", 1)[1]) >= 120, timeout=90)
    time.sleep(0.8)  # more than one save interval
    os.killpg(proc.pid, signal.SIGKILL)
    communicate_within(proc, timeout=10)

    from desktop.services.chats import ChatStore

    store = ChatStore(tmp_path / "chats.sqlite")
    (chat,) = store.chats()
    user, answer = store.messages(chat.id)
    assert user.content.startswith("Write a very long story")
    assert answer.role == "assistant" and answer.meta.get("interrupted") is True
    shown = seen.split(b"hearth> ", 1)[1].decode("utf-8", "replace")
    assert len(answer.content) >= 60 and shown.startswith(answer.content[:60])
    assert "interrupted" in store.export_markdown(chat.id)
    store.close()

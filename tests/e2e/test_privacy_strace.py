"""The real `hearth` program, watched from outside with strace, never tries to reach another machine."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.e2e.netwatch import IDLE_S, clean_env, hearth_command, outside_attempts, privacy_marks

pytestmark = privacy_marks()

REPO = Path(__file__).resolve().parents[2]


def test_the_detector_sees_an_outside_connection(tmp_path: Path) -> None:
    """The check itself can fail: a program that does connect outside is caught."""
    from tests.e2e.netwatch import run_traced

    log = tmp_path / "trace.log"
    code = (
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.connect(('192.0.2.1', 53)); s.close()"
    )
    run_traced(["python3", "-c", code], log, env=clean_env())
    assert outside_attempts(log.read_text())


def test_full_chat_then_idle_makes_no_outside_attempt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env({"HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"})
    env.pop("DISPLAY", None)
    log = tmp_path / "trace.log"
    cmd = [
        "strace",
        "-f",
        "-qq",
        "-s",
        "200",
        "-e",
        "trace=network",
        "-o",
        str(log),
        *hearth_command("chat", "--max-tokens", "24", "--seed", "1"),
    ]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdin is not None
    proc.stdin.write("What is a lighthouse?\n")
    proc.stdin.flush()
    time.sleep(IDLE_S)  # the program sits idle with the model loaded, as a user would leave it
    proc.stdin.write("/quit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "hearth>" in out and len(out.split("hearth>", 1)[1].strip()) > 0, (out, err)
    text = log.read_text()
    assert "connect(" in text or "socket(" in text or text, "strace produced no log"
    attempts = outside_attempts(text)
    assert attempts == [], "\n".join(attempts[:20])

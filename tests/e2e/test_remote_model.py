"""A real `python -m llama_cpp.server` with the bundled model on loopback, and the real `hearth`
program answering through it, watched with strace: the only connections go to the named port,
no name is looked up, and killing the server mid-answer gives a clear message and then the local
model's answer."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pdfs
from tests.e2e.netwatch import clean_env, hearth_command, privacy_marks
from tests.e2e.test_privacy_library import host_lookups

pytestmark = privacy_marks()

REPO = Path(__file__).resolve().parents[2]
CONNECT = re.compile(
    r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)"
    r'.*?(?:inet_addr|inet_pton)\((?:AF_INET6, )?"([^"]+)"'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def model_server(model_path: Path, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The real llama.cpp server (tests/e2e/llama_server.py: the server, with the kernels this CPU
    runs). Listening means loaded: it binds only after the model is in memory."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests/e2e/llama_server.py"), "--model", str(model_path),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the model server exited: {(tmp_path / 'server.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the model server did not start in 60 s")
    yield port, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    log.close()


def hearth_env(tmp_path: Path, port: int) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "settings.json").write_text(json.dumps({"model_server_url": f"http://127.0.0.1:{port}"}))
    env = clean_env({"HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"})
    env["HEARTH_POLICY_FILE"] = str(tmp_path / "no-policy.json")  # this machine's /etc is not the test's
    env.pop("DISPLAY", None)
    return env


def strace(log: Path) -> list[str]:
    # Network calls plus file opens: a host lookup reads /etc/hosts or /etc/resolv.conf.
    return ["strace", "-f", "-qq", "-s", "200", "-e", "trace=network,openat", "-o", str(log)]


def assert_only_the_server(trace: str, port: int) -> None:
    """Every TCP connect went to the named loopback port, and no host name was looked up."""
    assert inet_connects(trace) == {("127.0.0.1", port)}, sorted(inet_connects(trace))
    assert host_lookups(trace) == [], host_lookups(trace)[:10]
    assert "htons(53)" not in trace  # no DNS, not even to a resolver on loopback


def inet_connects(log_text: str) -> set[tuple[str, int]]:
    return {(addr, int(port)) for port, addr in CONNECT.findall(log_text)}


def test_chat_streams_through_the_server_and_reaches_nothing_else(
    model_server: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, _ = model_server
    log = tmp_path / "trace.log"
    cmd = [*strace(log), *hearth_command("chat", "--once", "What is a lighthouse?", "--json",
                                          "--max-tokens", "24", "--seed", "1", "--no-save")]  # fmt: skip
    env = hearth_env(tmp_path, port)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["answer"].strip() and answer["stats"]["backend"] == "remote", answer
    assert answer["stats"]["ttft_s"] > 0 and answer["stats"]["tokens_per_s"] > 0
    assert answer["stats"]["completion_tokens"] >= 2
    assert_only_the_server(log.read_text(), port)


def test_ask_answers_from_the_library_through_the_server(
    model_server: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, _ = model_server
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {"harbour": ["The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."]})
    env = hearth_env(tmp_path, port)
    add = subprocess.run(hearth_command("library", "add", str(docs)), capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=180)  # fmt: skip
    assert add.returncode == 0, add.stderr
    log = tmp_path / "ask.trace"
    cmd = [*strace(log), *hearth_command("ask", "Who built the Zanthor lighthouse?", "--json")]
    ask = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=180)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["found"] and answer["citations"][0]["title"] == "harbour", answer
    trace = log.read_text()
    assert_only_the_server(trace, port)  # the embedder and Chroma stay on this computer too
    served = (tmp_path / "server.log").read_text()
    assert "POST /v1/chat/completions" in served, served[-1500:]


class Reader:
    """Everything a pipe says, collected by a thread (so the test can wait on partial output)."""

    def __init__(self, stream: object) -> None:
        self.text = ""
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            piece = os.read(self._stream.fileno(), 4096)  # type: ignore[attr-defined]
            if not piece:
                return
            self.text += piece.decode("utf-8", "replace")

    def join(self) -> None:
        self._thread.join(10)

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text, re.S)
            if found:
                return found.group(0)
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in {self.text[-1500:]!r} (within {timeout} s)")


def test_killing_the_server_mid_answer_says_so_then_the_local_model_answers(
    model_server: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, server = model_server
    log = tmp_path / "trace.log"
    proc = subprocess.Popen(
        [*strace(log), *hearth_command("chat", "--max-tokens", "400", "--seed", "1", "--no-save")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=hearth_env(tmp_path, port), cwd=REPO,
    )  # fmt: skip
    assert proc.stdin is not None
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    try:
        proc.stdin.write(b"Tell me a long story about a lighthouse keeper.\n")
        proc.stdin.flush()
        out.wait_for(r"hearth> \S+\s+\S+\s+\S+", 60)  # the server's answer is streaming
        server.send_signal(signal.SIGKILL)
        message = err.wait_for(r"hearth: The model server [\d.:]+ stopped in the middle[^\n]*\n[^\n]*", 30)
        assert "Ask again" in message and "model on this computer" in message
        before = len(out.text)
        proc.stdin.write(b"What is a lighthouse?\n")
        proc.stdin.flush()
        err.wait_for(r"\[The model server 127\.0\.0\.1:\d+ did not answer earlier; Hearth answers with the "
                     r"model on this computer\.\]", 60)  # fmt: skip
        deadline = time.monotonic() + 90  # the local model loads, then answers
        while time.monotonic() < deadline and not re.search(r"hearth> \S+.*\n", out.text[before:], re.S):
            time.sleep(0.1)
        proc.stdin.write(b"/quit\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0, err.text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for reader in (out, err):
            reader.join()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    local_answer = out.text[before:].split("hearth>", 1)[1].strip()
    assert local_answer, out.text
    assert_only_the_server(log.read_text(), port)

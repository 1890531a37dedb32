"""The team library end to end: a real `chroma run` on a free loopback port, and three real
`hearth` programs with their own data dirs, as three people. Two add the same documents to the
team library at the same moment (`hearth library add --shared`); the server then holds each
passage once. The third, who added only a document of their own, asks: the answer cites the
shared document by its file name and page. Under strace (an add and the ask) the only connections
go to the server's port and no name is looked up. The server is killed while that answer streams:
it ends normally, and the next question says the team library did not answer and is answered from
the person's own documents. (A server that accepts and never answers is tested in
tests/services/test_library_team.py: a timeout, then the same fallback.)"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.core.policy import parse_server_url
from desktop.services.library_remote import TeamLibrary
from tests import chroma_server, pdfs
from tests.e2e.netwatch import clean_env, hearth_command, privacy_marks
from tests.e2e.test_remote_model import Reader, assert_only_the_server, strace

pytestmark = privacy_marks()

REPO = Path(__file__).resolve().parents[2]
PREFIX = "e2e"
HARBOUR = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."
MILL = "The Brackwater mill ground barley for the valley until 1931."
GARDEN = "The Quillon garden holds 412 rose bushes planted by Ada Voss."


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with chroma_server.running(tmp_path / "chroma") as running:
        yield running


def person(tmp_path: Path, name: str, port: int) -> dict[str, str]:
    data = tmp_path / name
    data.mkdir()
    settings = {"library_server_url": f"http://127.0.0.1:{port}", "library_server_prefix": PREFIX}
    (data / "settings.json").write_text(json.dumps(settings))
    env = clean_env({"HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"})
    env["HEARTH_POLICY_FILE"] = str(tmp_path / "no-policy.json")  # this machine's /etc is not the test's
    env.pop("DISPLAY", None)
    return env


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def test_two_people_share_a_third_asks_and_a_dead_server_falls_back(
    server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    chroma, port = server
    docs, own = tmp_path / "docs", tmp_path / "own"
    pdfs.corpus(docs, {"harbour": [HARBOUR], "mill": [MILL]})
    pdfs.corpus(own, {"garden": [GARDEN]})
    alice, bob, carol = (person(tmp_path, n, port) for n in ("alice", "bob", "carol"))

    # Alice and Bob share the same two files at the same moment (Alice's run watched by strace);
    # Carol adds a document of her own, to her own library only.
    add_log = tmp_path / "add.trace"
    adds = [
        start([*strace(add_log), *hearth_command("library", "add", "--shared", str(docs))], alice),
        start(hearth_command("library", "add", "--shared", "--json", str(docs)), bob),
        start(hearth_command("library", "add", str(own)), carol),
    ]
    results = [finish(p) for p in adds]
    assert json.loads(results[1][0])["ready"] == 2, results[1]
    assert_only_the_server(add_log.read_text(), port)

    probe = TeamLibrary(parse_server_url(f"http://127.0.0.1:{port}"), PREFIX)
    try:
        ids = probe.ids("default")
        documents = probe.documents("default")
    finally:
        probe.close()
    assert len(documents) == 2
    assert len(ids) == len(set(ids)) == sum(d.chunks for d in documents.values()), ids

    # Carol asks (watched by strace): the shared document is found and cited by its file name and
    # page. The server is killed while her answer streams: the answer still ends normally (its
    # passages were already read), and nothing hangs.
    ask_log = tmp_path / "ask.trace"
    proc = subprocess.Popen(
        [*strace(ask_log), *hearth_command("ask", "Who built the Zanthor lighthouse?")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=carol, cwd=REPO,
    )  # fmt: skip
    stdout, stderr = Reader(proc.stdout), Reader(proc.stderr)
    try:
        stderr.wait_for(r"\[1\] harbour p\.1 — harbour\.pdf\n", 150)
        chroma.send_signal(signal.SIGKILL)
        chroma.wait(10)
        assert proc.wait(150) == 0, stderr.text[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for reader in (stdout, stderr):
            reader.join()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert "Mira Okafor" in stdout.text, stdout.text
    assert_only_the_server(ask_log.read_text(), port)

    # The next question: the team library does not answer, Carol's own documents do.
    out, err = finish(start(hearth_command("ask", "How many rose bushes are in the Quillon garden?"), carol))
    assert (
        f"hearth: The team library at 127.0.0.1:{port} did not answer; answered from your own documents only."
        in err
    ), err[-2000:]
    assert re.search(r"^\[1\] garden p\.1 — .*garden\.pdf$", err, re.M), err[-2000:]
    assert "412" in out, out

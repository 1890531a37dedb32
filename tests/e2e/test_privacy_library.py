"""The library path, watched from outside with strace, never tries to reach another machine.

ChromaDB (with its telemetry and ONNX Runtime) and sentence-transformers (with the Hugging Face
hub) are the risky parts. Both real commands run as subprocesses with CI-type variables removed:
`hearth library add DIR`, then `hearth ask "…"`. Meanwhile a second process keeps a library
open after a query and sits idle for a minute, because ONNX Runtime was seen looking up a
telemetry host within a minute of starting.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

from tests import pdfs
from tests.e2e.netwatch import IDLE_S, clean_env, hearth_command, outside_attempts, privacy_marks

pytestmark = privacy_marks()

REPO = Path(__file__).resolve().parents[2]

# What the window does with the library: the guard first (as app.main does), open, query, stay open.
IDLE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from desktop.services import privacy
    privacy.install()
    from desktop.core.jobs import run_job
    from desktop.services.library import Library
    with Library() as lib:
        run_job(lib.add_job([sys.argv[1]]))
        hits = lib.vector_search("when does the tower open?", lib.collections(), 3)
        assert hits and lib.keyword_search("lighthouse", lib.collections(), 3), "no hits"
        print("queried", len(hits), flush=True)
        time.sleep(float(sys.argv[2]))
    print("refused", privacy.refused_count(), flush=True)
    """
)


# Files glibc reads to answer a *host* lookup; user and group lookups read /etc/passwd, /etc/group.
_HOST_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/host.conf", "/etc/gai.conf")
_OPEN = re.compile(r'^(\d+) +openat\(AT_FDCWD, "([^"]+)"')


def _strace(log: Path, cmd: list[str]) -> list[str]:
    # Network calls plus file opens: the opens tell a user-name lookup from a host lookup.
    return ["strace", "-f", "-qq", "-s", "200", "-e", "trace=network,openat", "-o", str(log), *cmd]


def host_lookups(log_text: str) -> list[str]:
    """Outside attempts, minus name-service connects that turn out to be user/group lookups.

    glibc asks nscd first for every lookup kind (passwd, group, hosts); with no nscd it reads
    the files. torch looks up the user name (getpass.getuser) when $USER is unset, which
    `outside_attempts` counts as a resolver call. A connect is kept unless that process next
    opens /etc/passwd or /etc/group; any open of a host-lookup file counts as an attempt itself.
    """
    lines = log_text.splitlines()
    flagged = set(outside_attempts(log_text))
    found: list[str] = []
    for i, line in enumerate(lines):
        m = _OPEN.match(line)
        if m and m.group(2) in _HOST_FILES:
            found.append(line.strip())
            continue
        if line.strip() not in flagged:
            continue
        pid = line.split()[0]
        if "nscd" in line:
            following = [_OPEN.match(x) for x in lines[i + 1 : i + 400] if x.startswith(pid + " ")]
            files = [f.group(2) for f in following if f]
            user_lookup = next((f for f in files if f in ("/etc/passwd", "/etc/group", *_HOST_FILES)), "")
            if user_lookup in ("/etc/passwd", "/etc/group"):
                continue
        found.append(line.strip())
    return found


def _traced(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_strace(log, cmd), text=True, capture_output=True, env=env, timeout=300, cwd=REPO)


def test_the_classifier_tells_host_lookups_from_user_lookups(tmp_path: Path) -> None:
    """The check can fail: a host lookup is caught; a user-name lookup is not mistaken for one."""
    env = clean_env()
    env.pop("USER", None)
    env.pop("LOGNAME", None)
    host, user = tmp_path / "host.trace", tmp_path / "user.trace"
    code = "import socket\ntry: socket.getaddrinfo('telemetry.example.invalid', 443)\nexcept OSError: pass"
    subprocess.run(_strace(host, ["python3", "-c", code]), env=env, capture_output=True, timeout=60)
    assert host_lookups(host.read_text())
    code = "import getpass; print(getpass.getuser())"
    subprocess.run(_strace(user, ["python3", "-c", code]), env=env, capture_output=True, timeout=60)
    assert host_lookups(user.read_text()) == []


def _env(data: Path) -> dict[str, str]:
    env = clean_env({"HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"})
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def test_library_add_ask_and_an_idle_open_library_make_no_outside_attempt(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(
        docs,
        {
            "harbour": [
                "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor.",
                "The tower is open on weekends from April to October.",
            ],
            "baking": ["Sourdough bread needs a starter culture, flour, water and salt."],
        },
    )
    # The idle process gets its own data dir (one Hearth per data dir) and runs alongside.
    idle_data = tmp_path / "idle-data"
    idle_log = tmp_path / "idle.trace"
    script = tmp_path / "idle_library.py"
    script.write_text(IDLE_SCRIPT)
    idle = subprocess.Popen(
        _strace(idle_log, [hearth_command()[0], str(script), str(docs / "harbour.pdf"), str(IDLE_S)]),
        cwd=REPO,
        env={**_env(idle_data), "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        data = tmp_path / "data"
        data.mkdir()
        (data / "settings.json").write_text(json.dumps({"max_answer_tokens": 32, "threads": 1}))
        add_log = tmp_path / "add.trace"
        add = _traced(hearth_command("library", "add", str(docs)), add_log, _env(data))
        assert add.returncode == 0, add.stderr
        assert add.stdout.startswith("2 indexed"), add.stdout

        ask_log = tmp_path / "ask.trace"
        ask = _traced(
            hearth_command("ask", "Who built the Zanthor lighthouse?", "--json"), ask_log, _env(data)
        )
        assert ask.returncode == 0, ask.stderr
        answer = json.loads(ask.stdout)
        assert answer["found"] and answer["citations"][0]["title"] == "harbour"

        out, err = idle.communicate(timeout=IDLE_S + 240)
    finally:
        if idle.poll() is None:
            idle.kill()
            idle.wait()
    assert idle.returncode == 0, err
    assert "queried" in out and "refused 0" in out, (out, err)

    for name, log in (("library add", add_log), ("ask", ask_log), ("idle library", idle_log)):
        assert log.exists(), f"strace did not run for {name}"
        text = log.read_text()
        attempts = host_lookups(text)
        assert attempts == [], f"{name}:\n" + "\n".join(attempts[:20])

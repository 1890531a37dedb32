"""A canary session: nothing a user said or added is readable in any file Hearth leaves behind.

The real program, as subprocesses: a chat, `library add` of a generated PDF, a question to the
library and a summary of the document already in the library. Unique strings sit in the chat
message, in the document's text and in its title. Then every file under the data dir (the stores,
their -wal and -shm, vectors/, settings, the encryption record) and every file written to the
temp dir is searched: zero hits. Once with a passphrase, once with the key in a real GNOME Keyring
under dbus-run-session.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import pdfs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Tell me about the Quorvath brass astrolabe, briefly."
TITLE = "Zephyrine Lindqvist Observatory Papers"
SENTENCE = "The archivist Quorvath buried the brass astrolabe beneath the Lindqvist observatory in 1791."
ASK = "Where did the archivist Quorvath bury the brass astrolabe?"
CANARIES = ["Quorvath", "Lindqvist", "Zephyrine", "brass astrolabe", "archivist"]

SESSION = textwrap.dedent("""
    set -e
    hearth() {{ {python} -m desktop "$@"; }}
    hearth chat --once "{question}" --json --max-tokens 24 --seed 1 > {out}/chat.json
    hearth library add {docs} --json > {out}/add.json
    hearth ask "{ask}" --json > {out}/ask.json
    hearth summarize --document observatory --json > {out}/summary.json
    hearth storage status --json > {out}/status.json
""")


def _session(tmp_path: Path, keyring: bool) -> tuple[Path, Path, dict[str, object]]:
    docs = tmp_path / "docs"
    docs.mkdir()
    filler = "The reading room keeps its ledgers in oak cabinets. " * 6
    pdfs.normal(docs / "observatory.pdf", [SENTENCE + " " + filler, filler + SENTENCE], title=TITLE)
    data, tmp, out = tmp_path / "data", tmp_path / "tmp", tmp_path / "out"
    for folder in (data, tmp, out):
        folder.mkdir()
    (data / "settings.json").write_text(json.dumps({"max_answer_tokens": 24, "threads": 1}))
    script = SESSION.format(python=sys.executable, question=QUESTION, ask=ASK, docs=docs, out=out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    env.update(HEARTH_DATA_DIR=str(data), HEARTH_NO_GUI="1", TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    if keyring:
        env.pop("HEARTH_PASSPHRASE", None)
        env["HOME"] = str(tmp_path / "home")
        (tmp_path / "home").mkdir()
        script = "echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n" + script
        cmd = ["dbus-run-session", "--", "bash", "-c", script]
    else:
        cmd = ["bash", "-c", script]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    status = json.loads((out / "status.json").read_text())
    return data, tmp, status


def _secrets(out: Path) -> list[str]:
    """The canaries, plus what the model said (its answer and summary as stored, when distinctive)."""
    found = [*CANARIES, QUESTION, SENTENCE, TITLE, ASK]
    answer = str(json.loads((out / "chat.json").read_text())["answer"]).strip()
    if len(answer) >= 16:
        found.append(answer[:40])
    return found


def _hits(folders: list[Path], secrets: list[str]) -> list[str]:
    hits = []
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            content = path.read_bytes()
            for secret in secrets:
                for encoded in (secret.encode(), secret.encode("utf-16-le")):
                    if encoded in content:
                        hits.append(f"{secret!r} in {path}")
    return hits


@pytest.mark.parametrize("key_source", ["passphrase", "keyring"])
def test_no_question_answer_passage_or_title_is_readable_on_disk(tmp_path: Path, key_source: str) -> None:
    if key_source == "keyring" and not (
        shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")
    ):
        pytest.skip("GNOME Keyring is not installed (packaging/system_deps.sh installs it)")
    data, tmp, status = _session(tmp_path, keyring=key_source == "keyring")
    assert status["method"] == key_source and status["encrypted"], status
    added = json.loads((tmp_path / "out" / "add.json").read_text())
    assert added["ready"] == 1, added
    asked = json.loads((tmp_path / "out" / "ask.json").read_text())
    assert "1791" in json.dumps(asked) or asked.get("citations"), asked  # the library really answered
    names = {p.name for p in data.iterdir()}
    assert {"chats.sqlite", "library.sqlite", "vectors"} <= names, names
    assert (data / "vectors").is_dir() and any((data / "vectors").rglob("*.sqlite3"))
    secrets = _secrets(tmp_path / "out")
    # Vectors: ids and numbers only, no passage text and no title, metadata included. (The search
    # reads Chroma's real files: the document's id, its sha256, is there.)
    sha = hashlib.sha256((tmp_path / "docs" / "observatory.pdf").read_bytes()).hexdigest()
    assert any(sha.encode() in p.read_bytes() for p in (data / "vectors").rglob("*") if p.is_file())
    assert _hits([data / "vectors"], secrets) == []
    # Everything else: the stores, their WAL and -shm files, settings, the encryption record, temp files.
    assert _hits([data, tmp], secrets) == []

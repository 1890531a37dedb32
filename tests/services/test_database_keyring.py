"""The key in a real Secret Service (GNOME Keyring under dbus-run-session): set up, reopened by a new
process without a prompt, never in a file; a key lost from the keyring is said clearly, nothing is
touched, and the recovery passphrase opens the data and puts the key back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="GNOME Keyring is not installed (packaging/system_deps.sh installs it)",
)

REPO = Path(__file__).resolve().parents[2]
CANARY = "Ombrellino festival budget for the Ziggurat choir"

PHASES = textwrap.dedent(f"""
    import hashlib, json, os, sys
    from pathlib import Path
    from desktop.services import database, secrets
    from desktop.services.chats import ChatStore

    data = Path(os.environ["HEARTH_DATA_DIR"])
    phase = sys.argv[1]
    state = lambda: json.loads((data / database.STATE_FILE).read_text())
    digest = lambda: hashlib.sha256((data / "chats.sqlite").read_bytes()).hexdigest()

    if phase == "set-up":
        store = ChatStore(data / "chats.sqlite")
        store.add_message(store.create_chat("Choir").id, "user", {CANARY!r})
        store.close()
        status = database.at_rest_status(data)
        assert status["method"] == "keyring" and status["encrypted"], status
        assert "SecretService" in status["key_location"], status
        key = secrets.get_secret("data key " + state()["install"])
        assert key and len(key) == 64, key
        print("KEY", key)
    elif phase == "reopen":  # a new process: the key comes from the keyring, no prompt
        database.use_prompt(lambda request: sys.exit("asked for a passphrase"))
        assert [c.title for c in ChatStore(data / "chats.sqlite").chats()] == ["Choir"]
        database.set_recovery_passphrase(data, "recovery words here")
        assert database.at_rest_status(data)["recovery_passphrase"]
    elif phase == "lose-key":
        assert secrets.delete_secret("data key " + state()["install"])
        before = digest()
        try:
            ChatStore(data / "chats.sqlite")
        except database.KeyMissing as exc:
            assert "missing from the keyring" in exc.user_message, exc.user_message
            assert "Nothing was changed" in exc.hint and "recovery passphrase" in exc.hint, exc.hint
        else:
            raise AssertionError("opened without its key")
        assert digest() == before
        asked = []
        database.use_prompt(lambda request: asked.append(request.recovery) or "recovery words here")
        assert [c.title for c in ChatStore(data / "chats.sqlite").chats()] == ["Choir"]
        assert asked == [True], asked
    elif phase == "key-back":  # the recovery put the key back into the keyring
        database.use_prompt(lambda request: sys.exit("asked for a passphrase"))
        assert len(ChatStore(data / "chats.sqlite").messages(1)) == 1
    print("ok", phase)
""")


def test_the_key_round_trips_through_a_real_secret_service(tmp_path: Path) -> None:
    (tmp_path / "phases.py").write_text(PHASES)
    data = tmp_path / "data"
    script = textwrap.dedent(f"""
        set -e
        export HOME={tmp_path} HEARTH_DATA_DIR={data} PYTHONPATH={REPO}
        unset HEARTH_PASSPHRASE
        echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        for phase in set-up reopen lose-key key-back; do
            {sys.executable} {tmp_path / "phases.py"} $phase
        done
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("ok")] == [
        "ok set-up",
        "ok reopen",
        "ok lose-key",
        "ok key-back",
    ]
    key = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("KEY"))
    # Neither the key nor the chat is readable in any file: the keyring's own file included.
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "phases.py":
            content = path.read_bytes()
            assert key.encode() not in content and bytes.fromhex(key) not in content, path
            assert CANARY.encode() not in content, path

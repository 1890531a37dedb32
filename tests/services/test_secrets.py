"""Secrets go to a real keyring or nowhere: never a plain file, and a clear message when there is none."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from desktop.core.errors import SecretsUnavailable
from desktop.services import secrets


def test_without_a_keyring_backend_the_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert not secrets.available()
    assert secrets.backend_name() == "none"
    with pytest.raises(SecretsUnavailable) as err:
        secrets.set_secret("server-token", "s3cret")
    assert "keyring" in err.value.user_message and "works without" in err.value.hint


def test_a_plain_file_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    class PlaintextKeyring:  # what keyrings.alt.file.PlaintextKeyring looks like to us
        def set_password(self, *a: object) -> None:
            raise AssertionError("must not be used")

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    monkeypatch.setattr(keyring, "get_keyring", lambda: PlaintextKeyring())
    with pytest.raises(SecretsUnavailable):
        secrets.set_secret("server-token", "s3cret")


@pytest.mark.skipif(
    not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")),
    reason="GNOME Keyring is not installed (packaging/system_deps.sh installs it)",
)
def test_round_trip_through_a_real_secret_service(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = textwrap.dedent(f"""
        set -e
        export HOME={tmp_path}
        echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        {sys.executable} - <<'PY'
        from desktop.services import secrets
        assert secrets.available(), secrets.backend_name()
        secrets.set_secret("server-token", "s3cret value")
        assert secrets.get_secret("server-token") == "s3cret value"
        assert secrets.delete_secret("server-token")
        assert secrets.get_secret("server-token") is None
        print("ok", secrets.backend_name())
        PY
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok keyring.backends.SecretService" in result.stdout
    # The value never reached a file in plain text.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"s3cret value" not in path.read_bytes(), path

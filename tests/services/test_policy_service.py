"""The policy file as Hearth reads it, the guard's allowlist from settings, and `hearth settings`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.core.settings import SettingsStore
from desktop.services import policy, privacy
from desktop.services.paths import data_dir


@pytest.fixture(autouse=True)
def no_servers_after() -> Iterator[None]:
    yield
    privacy.set_allowed_hosts([])  # leave the guard as every other test expects it


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policy.json"
    monkeypatch.setenv(policy.POLICY_ENV, str(path))
    return path


def store() -> SettingsStore:
    return SettingsStore(data_dir() / "settings.json")


def refused(event: str, address: object) -> bool:
    try:
        privacy._audit(event, (None, address))
    except privacy.NetworkBlocked:
        return True
    return False


def test_no_policy_file_means_no_policy(policy_file: Path) -> None:
    assert not policy.load_policy().active and policy.load_policy().locks() == {}


def test_a_malformed_policy_fails_closed_and_says_why(policy_file: Path) -> None:
    policy_file.write_text('{"forbid_remote_servers": tru')
    pol = policy.load_policy()
    assert pol.active and pol.forbid_remote_servers and "not JSON" in pol.error
    settings = store()
    settings.set("model_server_url", "http://127.0.0.1:8080")
    servers = policy.allow_named_servers(settings)
    assert servers == []  # the setting reads as locked to empty
    assert settings.locked_by("model_server_url") == str(policy_file)


def test_the_guard_allows_exactly_the_servers_named_in_settings(policy_file: Path) -> None:
    settings = store()
    settings.update(
        {"model_server_url": "https://gpu-box.lab:8443", "library_server_url": "https://10.0.0.9"}
    )
    servers = policy.allow_named_servers(settings)
    assert [s.address.host for s in servers if s.address] == ["gpu-box.lab", "10.0.0.9"]
    assert "questions" in servers[0].sends and "passages" in servers[1].sends
    assert privacy.allowed_hosts() == ["10.0.0.9", "gpu-box.lab"]
    assert not refused("socket.connect", ("10.0.0.9", 443))
    assert refused("socket.connect", ("10.0.0.10", 443))
    try:
        privacy._audit("socket.getaddrinfo", ("gpu-box.lab", 8443))  # the named server may be looked up
    except privacy.NetworkBlocked:
        pytest.fail("the named server's lookup was refused")
    assert refused("socket.connect", ("192.0.2.7", 8443))  # not yet: only what the name resolves to
    privacy.allow_resolved("gpu-box.lab", ["192.0.2.7"])
    assert not refused("socket.connect", ("192.0.2.7", 8443))
    privacy.allow_resolved("elsewhere.lab", ["192.0.2.8"])  # a name not allowed widens nothing
    assert refused("socket.connect", ("192.0.2.8", 443))
    settings.update({"model_server_url": "", "library_server_url": ""})
    policy.allow_named_servers(settings)
    assert privacy.allowed_hosts() == [] and refused("socket.connect", ("10.0.0.9", 443))


def test_plain_http_to_another_computer_is_not_allowed_through(policy_file: Path) -> None:
    settings = store()
    settings.set("model_server_url", "http://10.0.0.9:8080")
    servers = policy.allow_named_servers(settings)
    assert servers[0].address is None and "plain http://" in servers[0].refused
    assert privacy.allowed_hosts() == []
    settings.set("allow_plain_http", True)
    servers = policy.allow_named_servers(settings)
    assert servers[0].address is not None and "unencrypted" in servers[0].warning


def test_pinned_hosts_keep_other_servers_out(policy_file: Path) -> None:
    policy_file.write_text('{"allowed_hosts": ["gpu-box.lab"]}')
    settings = store()
    settings.update({"model_server_url": "https://gpu-box.lab", "library_server_url": "https://other.lab"})
    servers = policy.allow_named_servers(settings)
    assert servers[0].address is not None and servers[1].address is None
    assert "not one of the hosts" in servers[1].refused and privacy.allowed_hosts() == ["gpu-box.lab"]


def test_the_cli_says_what_locks_a_setting(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy_file.write_text('{"forbid_remote_servers": true, "settings": {"temperature": 0.1}}')
    assert main(["settings", "set", "model_server_url", "http://127.0.0.1:8080"]) == 1
    err = capsys.readouterr().err
    assert f"model_server_url is locked by {policy_file}" in err
    assert main(["settings", "set", "temperature", "0.9"]) == 1
    assert f"locked by {policy_file}" in capsys.readouterr().err
    assert main(["settings", "list"]) == 0
    out = capsys.readouterr().out
    assert f"temperature = 0.1   (locked by {policy_file})" in out
    assert main(["settings", "set", "theme", "dark"]) == 0  # what the policy does not name is free


def test_the_cli_refuses_plain_http_to_another_computer(
    policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["settings", "set", "model_server_url", "http://10.0.0.9:8080"]) == 1
    assert "plain http://" in capsys.readouterr().err
    assert main(["settings", "set", "model_server_url", "http://127.0.0.1:8080"]) == 0
    assert "questions" in capsys.readouterr().err  # what will be sent there, said once


def test_doctor_lists_the_servers_and_what_each_receives(
    policy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_file.write_text('{"allowed_hosts": ["gpu-box.lab"], "require_encryption": true}')
    store().set("model_server_url", "https://gpu-box.lab:8443")
    import json

    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["privacy"]
    assert data["allowed_hosts"] == ["gpu-box.lab"]
    assert data["servers"][0]["host"] == "gpu-box.lab:8443" and "questions" in data["servers"][0]["sends"]
    assert data["policy"]["present"] and any("encrypted" in r for r in data["policy"]["rules"])
    assert main(["doctor"]) in (0, 1)
    out = capsys.readouterr().out
    assert "Model server gpu-box.lab:8443 (allowed): Hearth sends it your questions" in out
    assert f"administrator's policy {policy_file}" in out


def test_model_imports_from_outside_the_policy_folder_are_refused(policy_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    policy_file.write_text(f'{{"model_import_folder": "{folder}"}}')
    policy.check_import(folder / "a.gguf")
    from desktop.core.policy import PolicyError

    with pytest.raises(PolicyError):
        policy.check_import(tmp_path / "elsewhere" / "a.gguf")
    (folder / "link").symlink_to(tmp_path)  # a link out of the folder does not get around it
    with pytest.raises(PolicyError):
        policy.check_import(folder / "link" / "a.gguf")


def test_plain_storage_is_refused_when_the_policy_requires_encryption(policy_file: Path) -> None:
    from desktop.core.policy import PolicyError

    policy.check_plain_storage()  # no policy: the user's choice
    policy_file.write_text('{"require_encryption": true}')
    with pytest.raises(PolicyError, match="requires chats and the library to be stored encrypted"):
        policy.check_plain_storage()


def test_the_policy_is_enforced_where_imports_and_plain_storage_happen(
    policy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checks above, through the real entry points: `hearth models import`, choosing plain
    storage, and every settings store the CLI opens (the pins apply without `hearth settings`)."""
    from desktop.cli.common import open_settings
    from desktop.core.policy import PolicyError
    from desktop.services import database

    allowed = tmp_path / "approved-models"
    allowed.mkdir()
    rules = {
        "model_import_folder": str(allowed),
        "require_encryption": True,
        "settings": {"temperature": 0.1},
    }
    policy_file.write_text(json.dumps(rules))
    outside = tmp_path / "downloads" / "x.gguf"
    outside.parent.mkdir()
    outside.write_bytes(b"GGUF" + bytes(64))
    assert main(["models", "import", str(outside)]) != 0
    err = capsys.readouterr().err
    assert "Your administrator allows models only from" in err, err
    with pytest.raises(PolicyError):
        database.set_up(tmp_path / "fresh", database.PLAIN)
    with pytest.raises(PolicyError):
        database.choose_plain(tmp_path / "fresh2")
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").iterdir())
    assert open_settings()["temperature"] == 0.1

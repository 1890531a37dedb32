"""The administrator's policy (parsing, locks, fail-closed) and the rules a server URL must pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core.policy import (
    Policy,
    PolicyError,
    check_model_import,
    check_server,
    closed,
    is_loopback_host,
    parse_policy,
    parse_server_url,
)
from desktop.core.settings import SettingLocked, SettingsStore

SRC = "/etc/hearth/policy.json"


def test_a_full_policy_is_read_and_locks_what_it_names() -> None:
    policy = parse_policy(
        json.dumps(
            {
                "allowed_hosts": ["GPU-box.lab", "[fd00::5]"],
                "model_import_folder": "/srv/models",
                "require_encryption": True,
                "settings": {"model_server_url": "https://gpu-box.lab:8443", "temperature": "0.1"},
            }
        ),
        SRC,
    )
    assert policy.active and not policy.error and not policy.forbid_remote_servers
    assert policy.allowed_hosts == ("fd00::5", "gpu-box.lab")
    assert policy.require_encryption and policy.model_import_folder == "/srv/models"
    assert policy.locks() == {"model_server_url": "https://gpu-box.lab:8443", "temperature": 0.1}
    assert policy.host_allowed("gpu-box.lab") and policy.host_allowed("127.0.0.1")
    assert not policy.host_allowed("other.lab")
    assert any("gpu-box.lab" in line for line in policy.describe())


def test_forbidding_remote_servers_pins_both_server_settings_empty() -> None:
    policy = parse_policy('{"forbid_remote_servers": true}', SRC)
    assert policy.locks() == {"model_server_url": "", "library_server_url": "", "allow_plain_http": False}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not JSON"),
        ("[]", "JSON object"),
        ('{"forbid_remote": true}', "unknown key 'forbid_remote'"),
        ('{"forbid_remote_servers": "yes"}', "true or false"),
        ('{"allowed_hosts": "gpu-box"}', "list of host names"),
        ('{"model_import_folder": "models"}', "absolute path"),
        ('{"settings": {"no_such": 1}}', "unknown setting 'no_such'"),
        ('{"settings": {"temperature": 9}}', "at most"),
        (
            '{"allowed_hosts": ["a.lab"], "settings": {"model_server_url": "https://b.lab"}}',
            "allowed_hosts does not list",
        ),
    ],
)
def test_a_malformed_policy_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, SRC)
    assert why in err.value.user_message and SRC in err.value.user_message


def test_a_policy_that_fails_closes_every_server() -> None:
    policy = closed(SRC, "not JSON")
    assert policy.forbid_remote_servers and policy.error
    with pytest.raises(PolicyError, match="policy file has an error"):
        check_server("model_server_url", "http://127.0.0.1:8080", policy=policy, allow_plain_http=False)
    assert "error" in policy.describe()[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://LOCALHOST:8080/v1/", "http://localhost:8080"),
        ("https://gpu-box.lab", "https://gpu-box.lab:443"),
        ("https://gpu-box.lab:8443/llm/v1", "https://gpu-box.lab:8443/llm"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_server_urls_are_normalized(url: str, expected: str) -> None:
    assert parse_server_url(url).url == expected


@pytest.mark.parametrize(
    "url", ["gpu-box:8080", "ftp://gpu-box", "https://user:pw@gpu-box", "https://gpu-box:99999", "http://:80"]
)
def test_malformed_server_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_server_url(url)


def test_loopback_is_told_without_a_lookup() -> None:
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.2") and is_loopback_host("[::1]")
    assert not is_loopback_host("gpu-box.lab") and not is_loopback_host("10.0.0.5")
    assert parse_server_url("http://localhost:8080").connect_host == "127.0.0.1"
    assert parse_server_url("https://gpu-box.lab").connect_host == "gpu-box.lab"


def test_plain_http_is_for_loopback_or_an_explicit_choice_with_a_warning() -> None:
    none = Policy()
    key = "model_server_url"
    address, warning = check_server(key, "http://127.0.0.1:8080", policy=none, allow_plain_http=False)
    assert address.loopback and warning is None
    with pytest.raises(PolicyError, match="plain http://") as err:
        check_server("model_server_url", "http://10.0.0.5:8080", policy=none, allow_plain_http=False)
    assert "allow_plain_http" in err.value.hint
    _, warning = check_server("model_server_url", "http://10.0.0.5:8080", policy=none, allow_plain_http=True)
    assert warning and "unencrypted" in warning
    _, warning = check_server("library_server_url", "https://10.0.0.5", policy=none, allow_plain_http=False)
    assert warning is None


def test_the_policy_pins_hosts_and_can_forbid_servers() -> None:
    pinned = parse_policy('{"allowed_hosts": ["gpu-box.lab"]}', SRC)
    check_server("model_server_url", "https://gpu-box.lab", policy=pinned, allow_plain_http=False)
    check_server("model_server_url", "http://localhost:8080", policy=pinned, allow_plain_http=False)
    with pytest.raises(PolicyError, match="not one of the hosts"):
        check_server("model_server_url", "https://elsewhere.lab", policy=pinned, allow_plain_http=False)
    forbid = parse_policy('{"forbid_remote_servers": true}', SRC)
    with pytest.raises(PolicyError, match="forbids remote servers"):
        check_server("library_server_url", "https://gpu-box.lab", policy=forbid, allow_plain_http=False)


def test_model_imports_only_from_the_policy_folder() -> None:
    policy = parse_policy('{"model_import_folder": "/srv/models"}', SRC)
    check_model_import(policy, "/srv/models/team/a.gguf")
    for outside in ("/home/me/a.gguf", "/srv/models-evil/a.gguf", "/srv/a.gguf"):
        with pytest.raises(PolicyError, match="/srv/models"):
            check_model_import(policy, outside)
    check_model_import(Policy(), "/anywhere/a.gguf")


def test_a_locked_setting_reads_pinned_and_cannot_be_changed(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.set("model_server_url", "http://127.0.0.1:9")
    store.lock("model_server_url", "", SRC)
    assert store["model_server_url"] == "" and store.locked_by("model_server_url") == SRC
    with pytest.raises(SettingLocked, match=f"locked by {SRC}"):
        store.set("model_server_url", "http://127.0.0.1:10")
    with pytest.raises(SettingLocked):
        store.update({"model_server_url": "http://127.0.0.1:10", "temperature": 0.5})
    store.update({"model_server_url": "", "temperature": 0.5})  # the pinned value itself is no change
    # The user's own value is kept on disk: removing the policy gives it back.
    assert SettingsStore(tmp_path / "settings.json")["model_server_url"] == "http://127.0.0.1:9"
    assert store.locked_by("temperature") is None

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core.settings import BY_KEY, SETTINGS, SettingsStore, defaults


def test_every_setting_is_declared_once_with_title_help_and_a_valid_default() -> None:
    assert len(BY_KEY) == len(SETTINGS)
    for s in SETTINGS:
        assert s.title and s.help and s.section
        assert s.validate(s.default) == s.default


def test_values_are_validated_against_the_declaration() -> None:
    assert BY_KEY["temperature"].validate("0.7") == 0.7
    assert BY_KEY["theme"].validate("dark") == "dark"
    with pytest.raises(ValueError, match="must be one of"):
        BY_KEY["gpu"].validate("always")
    with pytest.raises(ValueError, match="at most"):
        BY_KEY["temperature"].validate(9)
    with pytest.raises(ValueError, match="expected int"):
        BY_KEY["threads"].validate("many")


def test_store_round_trips_and_writes_atomically(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    store.set("temperature", 0.9)
    assert SettingsStore(path)["temperature"] == 0.9
    assert not list(tmp_path.glob(".settings-*")), "no temp file left behind"


def test_a_damaged_or_hand_edited_file_falls_back_to_defaults_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    store = SettingsStore(path)
    assert store.as_dict() == defaults() and store.problems
    path.write_text(json.dumps({"temperature": 7, "threads": 2, "unknown": 1}))
    store = SettingsStore(path)
    assert store["temperature"] == defaults()["temperature"]  # out of range: default kept
    assert store["threads"] == 2
    assert any("temperature" in p for p in store.problems)


def test_a_file_with_a_removed_setting_loads_quietly_and_drops_it_on_save(tmp_path: Path) -> None:
    # allow_remote was declared but never did anything; files written then still carry it.
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"allow_remote": True, "theme": "dark", "future_key": [1, 2]}))
    store = SettingsStore(path)
    assert store.problems == [] and store["theme"] == "dark"
    assert "allow_remote" not in store.as_dict() and "allow_remote" not in BY_KEY
    store.set("temperature", 0.5)
    saved = json.loads(path.read_text())
    assert "allow_remote" not in saved and "future_key" not in saved and saved["theme"] == "dark"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(KeyError):
        SettingsStore(Path("/nonexistent/settings.json")).set("nope", 1)

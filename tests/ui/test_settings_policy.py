"""The window shows what an administrator's policy locks, and by whom; and which servers Hearth
may reach, with what each receives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from desktop.core.settings import SettingsStore
from desktop.services import policy, privacy
from desktop.services.paths import data_dir
from desktop.ui.privacy.panel import servers_text
from desktop.ui.settings.dialog import SettingsDialog


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "policy.json"
    monkeypatch.setenv(policy.POLICY_ENV, str(path))
    yield path
    privacy.set_allowed_hosts([])


def test_locked_settings_are_disabled_and_say_who_locked_them(qtbot: Any, policy_file: Path) -> None:
    policy_file.write_text('{"forbid_remote_servers": true, "settings": {"temperature": 0.1}}')
    store = SettingsStore(data_dir() / "settings.json")
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    for key in ("model_server_url", "library_server_url", "allow_plain_http", "temperature"):
        assert not dialog.editors[key].isEnabled(), key
    assert dialog.editors["theme"].isEnabled()
    helps = [w.text() for w in dialog.findChildren(QLabel) if w.objectName() == "settingHelp"]
    assert sum(f"Locked by your administrator ({policy_file})" in h for h in helps) == 4
    assert dialog.editors["temperature"].value() == pytest.approx(0.1)
    dialog.restore_defaults()
    assert dialog.editors["temperature"].value() == pytest.approx(0.1)  # a locked value stays
    dialog.accept()
    assert SettingsStore(data_dir() / "settings.json").as_dict()["temperature"] == 0.3  # user's own kept


def test_a_plain_http_server_on_another_computer_is_refused_inline(qtbot: Any, policy_file: Path) -> None:
    store = SettingsStore(data_dir() / "settings.json")
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.editors["model_server_url"].setText("http://10.0.0.9:8080")
    dialog.accept()
    assert dialog.error.isVisibleTo(dialog) and "plain http://" in dialog.error.text()
    assert store["model_server_url"] == ""
    dialog.editors["model_server_url"].setText("http://127.0.0.1:8080")
    with qtbot.waitSignal(dialog.applied):
        dialog.accept()
    assert store["model_server_url"] == "http://127.0.0.1:8080"


def test_the_privacy_panel_lists_the_servers_and_what_each_receives(policy_file: Path) -> None:
    store = SettingsStore(data_dir() / "settings.json")
    assert "nothing leaves this computer" in servers_text(store)
    store.update({"model_server_url": "https://gpu-box.lab:8443", "library_server_url": "http://10.0.0.9"})
    text = servers_text(store)
    assert "https://gpu-box.lab:8443" in text and "your questions and the passages" in text
    assert "Not used: Team library server 10.0.0.9:80 uses plain http://" in text
    policy_file.write_text('{"allowed_hosts": ["gpu-box.lab"]}')
    assert "Set by your administrator" in servers_text(store) and "gpu-box.lab" in servers_text(store)

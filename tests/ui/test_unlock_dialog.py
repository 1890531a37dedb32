"""Before the window: the passphrase dialog (new, unlock, the explicit plain choice) and the progress
dialog while plain stores from before the upgrade are encrypted."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.services import database, secrets
from desktop.services.chats import SCHEMA as CHATS_SCHEMA
from desktop.services.chats import ChatStore
from desktop.services.database import PassphraseRequest
from desktop.ui import unlock_dialog
from desktop.ui.unlock_dialog import PassphraseDialog


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    database.forget_keys()
    yield
    database.use_prompt(None)  # unlock_at_start leaves the dialog as the prompt: not for other tests


def test_a_new_passphrase_must_be_long_enough_and_typed_the_same_twice(qtbot: Any, tmp_path: Path) -> None:
    dialog = PassphraseDialog(PassphraseRequest(tmp_path, new=True))
    qtbot.addWidget(dialog)
    assert dialog.again is not None and dialog.plain_button is None  # plain only where offered
    dialog.field.setText("short")
    dialog.again.setText("short")
    dialog.ok.click()
    assert "at least 8" in dialog.problem.text() and dialog.passphrase is None
    dialog.field.setText("long enough words")
    dialog.again.setText("long enough wordz")
    dialog.ok.click()
    assert "do not match" in dialog.problem.text()
    dialog.again.setText("long enough words")
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok.click()
    assert dialog.passphrase == "long enough words"


def test_a_retry_says_why_and_unlock_asks_once(qtbot: Any, tmp_path: Path) -> None:
    dialog = PassphraseDialog(
        PassphraseRequest(tmp_path, retry="That passphrase does not unlock Hearth's data.")
    )
    qtbot.addWidget(dialog)
    assert dialog.again is None and dialog.problem.text().startswith("That passphrase")
    dialog.field.setText("anything")
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok.click()
    assert dialog.passphrase == "anything"


def test_storing_without_encryption_is_offered_at_set_up_and_confirmed(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warned: list[str] = []

    def warning(parent: Any, title: str, text: str, *a: Any) -> QMessageBox.StandardButton:
        warned.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warning)
    dialog = PassphraseDialog(PassphraseRequest(tmp_path, new=True), allow_plain=True)
    qtbot.addWidget(dialog)
    assert dialog.plain_button is not None and "without encryption" in dialog.plain_button.text()
    with qtbot.waitSignal(dialog.accepted):
        dialog.plain_button.click()
    assert dialog.chose_plain and dialog.passphrase is None
    assert "can read every chat" in warned[0]


def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(database.PASSPHRASE_ENV)
    monkeypatch.setattr(secrets, "available", lambda: False)


def test_first_start_without_a_keyring_sets_up_a_passphrase_from_the_dialog(
    qtbot: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_keyring(monkeypatch)

    def fill(self: PassphraseDialog) -> int:
        self.field.setText("a good passphrase")
        assert self.again is not None
        self.again.setText("a good passphrase")
        self.ok.click()
        return int(self.result())

    monkeypatch.setattr(PassphraseDialog, "exec", fill)
    assert unlock_dialog.unlock_at_start(data_dir)
    status = database.at_rest_status(data_dir)
    assert status["method"] == "passphrase" and status["unlocked"]
    ChatStore(data_dir / "chats.sqlite").create_chat("after set-up")
    assert database.file_form(data_dir / "chats.sqlite") == "encrypted"


def test_quitting_the_dialog_keeps_the_window_closed_and_the_data_untouched(
    qtbot: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ChatStore(data_dir / "chats.sqlite").create_chat("kept")
    database.forget_keys()
    before = (data_dir / "chats.sqlite").read_bytes()
    _no_keyring(monkeypatch)

    def quit_(self: PassphraseDialog) -> int:
        self.reject()
        return 0

    monkeypatch.setattr(PassphraseDialog, "exec", quit_)
    assert unlock_dialog.unlock_at_start(data_dir) is False
    assert (data_dir / "chats.sqlite").read_bytes() == before


def test_plain_stores_from_before_the_upgrade_are_encrypted_behind_a_progress_dialog(
    qtbot: Any, data_dir: Path
) -> None:
    conn = sqlite3.connect(data_dir / "chats.sqlite")
    conn.executescript(CHATS_SCHEMA)
    conn.execute("INSERT INTO chats(title, created, updated) VALUES ('Before the upgrade', 1, 1)")
    conn.commit()
    conn.close()
    assert database.conversions_pending(data_dir) == ["chats.sqlite"]
    assert unlock_dialog.unlock_at_start(data_dir)
    assert database.conversions_pending(data_dir) == []
    assert database.file_form(data_dir / "chats.sqlite") == "encrypted"
    assert ChatStore(data_dir / "chats.sqlite").chats()[0].title == "Before the upgrade"

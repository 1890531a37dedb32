"""Before the window: the data passphrase when one is needed, and progress while plain stores are encrypted.

`unlock_at_start()` runs on the GUI thread before the main window is built (app.py calls it):
with a keyring it shows nothing (the key comes from the keyring; the OS may ask to unlock it);
without one it asks for the passphrase (a new one, typed twice, on the first start, with an
explicit "Store without encryption…" choice); plain stores from before the upgrade are then
encrypted on a worker thread while a progress dialog shows how far it got.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core.errors import AppError
from desktop.core.events import Progress
from desktop.services import database
from desktop.services.database import PassphraseRequest
from desktop.ui.qtcompat import emit

PLAIN_WARNING = (
    "Without encryption, anyone who gets this computer's disk, a backup of it or a synced copy of "
    "Hearth's data folder can read every chat and the text of every document you added.\n\n"
    "You can turn encryption on later (hearth storage encrypt)."
)


class PassphraseDialog(QDialog):
    """Asks for the data passphrase. `new`: choose one (typed twice); with `allow_plain`, the
    explicit choice to store without encryption is offered too (confirmed by a warning).

    After `exec()`: `passphrase` (str or None) and `chose_plain`."""

    def __init__(
        self, request: PassphraseRequest, parent: QWidget | None = None, *, allow_plain: bool = False
    ) -> None:
        super().__init__(parent)
        self.request = request
        self.passphrase: str | None = None
        self.chose_plain = False
        self.setWindowTitle(f"{APP_NAME}: protect your data" if request.new else f"Unlock {APP_NAME}")
        layout = QVBoxLayout(self)
        if request.new:
            text = (
                "Hearth encrypts your chats and the text of your documents on disk. There is no "
                "keyring on this computer to keep the key, so choose a passphrase (at least "
                f"{database.MIN_PASSPHRASE} characters). Without it the data cannot be read: "
                "not by Hearth, not by anyone."
            )
        elif request.recovery:
            text = "Type the recovery passphrase you set for Hearth's data."
        else:
            text = "Your chats and documents are encrypted. Type the passphrase to open them."
        intro = QLabel(text)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("Passphrase")
        self.field.setAccessibleName("Passphrase")
        layout.addWidget(self.field)
        self.again: QLineEdit | None = None
        if request.new:
            self.again = QLineEdit()
            self.again.setEchoMode(QLineEdit.EchoMode.Password)
            self.again.setPlaceholderText("Type it again")
            self.again.setAccessibleName("Passphrase again")
            layout.addWidget(self.again)
        self.problem = QLabel(request.retry)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.setVisible(bool(request.retry))
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox()
        self.ok = buttons.addButton(
            "Encrypt with this passphrase" if request.new else "Unlock",
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.plain_button: QPushButton | None = None
        if request.new and allow_plain:
            self.plain_button = buttons.addButton(
                "Store without encryption…", QDialogButtonBox.ButtonRole.ActionRole
            )
            self.plain_button.clicked.connect(self._choose_plain)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.field.setFocus()

    def _say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)

    def _accept(self) -> None:
        text = self.field.text()
        if not text:
            self._say("Type the passphrase.")
            return
        if self.again is not None:
            if len(text) < database.MIN_PASSPHRASE:
                self._say(f"A passphrase needs at least {database.MIN_PASSPHRASE} characters.")
                return
            if self.again.text() != text:
                self._say("The two passphrases do not match.")
                return
        self.passphrase = text
        self.accept()

    def _choose_plain(self) -> None:
        sure = QMessageBox.warning(
            self,
            "Store without encryption?",
            PLAIN_WARNING,
            QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Ok,
            QMessageBox.StandardButton.Cancel,
        )
        if sure == QMessageBox.StandardButton.Ok:
            self.chose_plain = True
            self.accept()


def ask_passphrase(request: PassphraseRequest) -> str | None:
    """The window's `database.PassphrasePrompt`: a modal dialog (GUI thread only)."""
    dialog = PassphraseDialog(request)
    dialog.exec()
    return dialog.passphrase


class _Bridge(QObject):
    """Carries the conversion thread's progress and end to the GUI thread (queued)."""

    progress = Signal(object)  # Progress, emitted on the conversion thread, delivered on the GUI thread
    ended = Signal(object)  # None or the exception that stopped it


def convert_with_progress(folder: Path, parent: QWidget | None = None) -> None:
    """Bring every store to its form (`database.prepare`) on a worker thread; a progress dialog
    shows the MB done. Blocks (with a local event loop) until it ends; re-raises its error."""
    if not database.conversions_pending(folder):
        return
    dialog = QProgressDialog("Encrypting your data (once, after the upgrade)…", "", 0, 100, parent)
    dialog.setWindowTitle(APP_NAME)
    dialog.setCancelButton(None)  # a conversion is kill-safe, but it does not stop halfway
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setMinimumDuration(0)
    dialog.setValue(0)
    bridge = _Bridge()
    loop = QEventLoop()
    outcome: list[BaseException | None] = []

    def show(event: Any) -> None:
        if isinstance(event, Progress):
            dialog.setLabelText(f"{event.label}: {event.done} of {event.total} MB")
            dialog.setValue(int(100 * event.fraction))

    def ended(error: Any) -> None:
        outcome.append(error)
        loop.quit()

    bridge.progress.connect(show, Qt.ConnectionType.QueuedConnection)
    bridge.ended.connect(ended, Qt.ConnectionType.QueuedConnection)

    def work() -> None:
        error: BaseException | None = None
        try:
            database.prepare(folder, progress=lambda e: emit(bridge.progress, e))
        except BaseException as exc:  # handed to the GUI thread, raised there
            error = exc
        emit(bridge.ended, error)

    worker = threading.Thread(target=work, name="hearth-encrypt", daemon=True)
    worker.start()
    if not outcome:
        loop.exec()
    worker.join()
    dialog.close()
    dialog.deleteLater()
    if outcome and outcome[0] is not None:
        raise outcome[0]


def unlock_at_start(folder: Path | None = None) -> bool:
    """Unlock (or set up) the data folder and finish any conversion. False: the user quit, or it
    failed (the reason was shown); the window should not start."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert app is not None
    from desktop.services.paths import data_dir

    folder = folder or data_dir()
    try:
        if _needs_set_up_dialog(folder):
            from desktop.services import policy

            # An administrator's policy may require encryption at rest: then there is no plain choice.
            plain_allowed = not policy.load_policy().require_encryption
            dialog = PassphraseDialog(PassphraseRequest(folder, new=True), allow_plain=plain_allowed)
            if not dialog.exec():
                return False
            if dialog.chose_plain:
                database.set_up(folder, database.PLAIN)
            else:
                database.set_up(folder, database.PASSPHRASE, dialog.passphrase)
        database.unlock(folder, prompt=ask_passphrase)
        convert_with_progress(folder)
    except database.UnlockCancelled:
        return False  # the user pressed Quit
    except AppError as exc:
        QMessageBox.critical(None, APP_NAME, f"{exc.user_message}\n\n{exc.hint}")
        return False
    database.use_prompt(ask_passphrase)  # another folder opened later (an eval index) asks here too
    return True


def _needs_set_up_dialog(folder: Path) -> bool:
    if database.read_state(folder) is not None or os.environ.get(database.PASSPHRASE_ENV):
        return False
    from desktop.services import secrets

    return not secrets.available()

"""The privacy panel: network attempts refused, where the data lives, and "delete all my data"."""

from __future__ import annotations

from html import escape as _esc
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import AppError
from desktop.core.settings import SettingsStore
from desktop.services import privacy
from desktop.services.paths import data_dir
from desktop.ui.qtcompat import emit
from desktop.ui.scrolling import fitting, scrolling
from desktop.ui.session import Session


def folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class PrivacyDialog(QDialog):
    """Signals (GUI thread): data_deleted() — every file in the data folder was deleted."""

    data_deleted = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Privacy")
        self.setAccessibleName("Privacy")
        outer = QVBoxLayout(self)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)

        count = privacy.refused_count()
        self.refused = QLabel(
            f"<h3>Network attempts refused: {count}</h3>"
            "Hearth makes no network calls. A guard refuses every connection to another machine and "
            "counts the attempts; models and the embedder come with the install."
        )
        self.refused.setWordWrap(True)
        self.refused.setAccessibleName(f"Network attempts refused: {count}")
        layout.addWidget(self.refused)
        self.attempts = QListWidget()
        self.attempts.setAccessibleName("Refused attempts")
        self.attempts.addItems(privacy.refused_attempts()[-50:])
        self.attempts.setVisible(count > 0)
        layout.addWidget(self.attempts)

        self.guard = QLabel(
            "Offline switches set for Hugging Face, transformers, Chroma and ONNX Runtime telemetry."
        )
        self.guard.setWordWrap(True)
        self.guard.setAccessibleName("Offline switches and secrets")
        layout.addWidget(self.guard)

        self.servers = QLabel(servers_text(session.settings))
        self.servers.setWordWrap(True)
        self.servers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.servers.setAccessibleName("Servers Hearth may reach")
        layout.addWidget(self.servers)
        layout.addSpacing(10)

        folder = data_dir()
        self.where = QLabel(
            f"<h3>Where your data lives</h3><code>{folder}</code> — readable only by you "
            f"({human_size(folder_size(folder))}): chats, settings, your library's text and index, "
            "imported models."
        )
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where.setAccessibleName("Where your data lives")
        layout.addWidget(self.where)

        self.at_rest = QLabel(_at_rest_text(folder))
        self.at_rest.setWordWrap(True)
        self.at_rest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.at_rest.setAccessibleName("How your data is kept on disk")
        layout.addWidget(self.at_rest)

        self.delete_button = QPushButton("Delete all my data…")
        self.delete_button.setAccessibleName("Delete all my data")
        self.delete_button.setProperty("danger", True)
        # Enter must never start a destructive action: this button is never the dialog's default,
        # not even while it has the focus (a dialog's push buttons are "auto-default" otherwise).
        self.delete_button.setAutoDefault(False)
        self.delete_button.setDefault(False)
        self.delete_button.clicked.connect(self.confirm_delete)
        layout.addWidget(self.delete_button)
        self.status = QLabel()
        self.status.setAccessibleName("Result")
        layout.addWidget(self.status)
        layout.addStretch(1)  # spare height goes below the content, not between its lines
        outer.addWidget(scrolling(content))  # a small screen scrolls it rather than cutting text
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        close.setDefault(True)  # Enter closes the panel
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        close.setFocus()
        self.resize(fitting(self, 600, 560))

    def confirm_delete(self) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete all my data")
        box.setText("Delete every chat, your library, imported models and settings from this computer?")
        box.setInformativeText(
            "This cannot be undone. Your original PDFs and model files elsewhere are not touched."
        )
        delete = box.addButton("Delete everything", QMessageBox.ButtonRole.DestructiveRole)
        delete.setAutoDefault(False)
        delete.setProperty("danger", True)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)  # Enter and Esc both keep the data
        box.setEscapeButton(cancel)
        box.exec()
        if box.clickedButton() is delete:
            self.delete_all()

    def delete_all(self) -> None:
        try:
            removed = self.session.delete_all_data()
        except AppError as exc:
            self.status.setText(f"{exc.user_message} {exc.hint}")
            return
        self.status.setText(f"Deleted {removed} file(s). Hearth starts afresh.")
        self.where.setText(f"<h3>Where your data lives</h3><code>{data_dir()}</code> — now empty.")
        emit(self.data_deleted)


def _at_rest_text(folder: Path) -> str:
    """services.database.at_rest_status() in words: encrypted or not (a plain choice stands out),
    where the key is, and what the unencrypted vector index can and cannot reveal."""
    from desktop.services import database

    try:
        status = database.at_rest_status(folder)
    except Exception as exc:  # never keep the panel from opening
        return f"<b>On disk:</b> could not be checked ({_esc(str(exc))})."
    summary = _esc(str(status["summary"]))
    if status.get("chose_plain"):
        summary = f"<b style='color:#b3261e'>{summary}</b>"
    extra = ""
    if status.get("kdf"):
        extra += f" Passphrase key derivation: {_esc(str(status['kdf']))}."
    if status.get("recovery_passphrase"):
        extra += " A recovery passphrase is set."
    note = _esc(str(status["vectors"]["note"]))
    return f"<b>On disk:</b> {summary}{extra}<p>{note}</p>"


def servers_text(settings: SettingsStore) -> str:
    """The only computers Hearth may reach (the servers named in settings that the administrator's
    policy allows), what it sends to each, and the policy itself. Reads files only: no network."""
    from desktop.services import policy

    pol = policy.load_policy()
    try:
        servers = policy.named_servers(settings, pol)
    except Exception as exc:  # never keep the panel from opening
        return f"<b>Servers:</b> could not be checked ({_esc(str(exc))})."
    used = [s for s in servers if s.address is not None]
    if not used:
        text = "<h3>Servers</h3>None: nothing leaves this computer."
    else:
        rows = "".join(
            f"<li><b>{_esc(s.title)}</b> <code>{_esc(s.address.url if s.address else s.url)}</code> receives "
            f"{_esc(s.sends)}.{' <b>' + _esc(s.warning) + '</b>' if s.warning else ''}</li>"
            for s in used
        )
        text = (
            "<h3>Servers</h3>The privacy guard lets Hearth reach only these computers, named in your "
            f"settings:<ul>{rows}</ul>"
        )
    for s in servers:
        if s.address is None:
            text += f"<br>Not used: {_esc(s.refused)}"
    if pol.active:
        rules = "".join(f"<li>{_esc(r)}</li>" for r in pol.describe())
        text += f"<br><b>Set by your administrator</b> (<code>{_esc(pol.source)}</code>):<ul>{rules}</ul>"
    return text

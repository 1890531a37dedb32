"""The dialog a bug reaches the user in (desktop/ui/errors.py routes uncaught exceptions to it)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget


class BugDialog(QDialog):
    """A plain explanation, and the technical details in a box the user can copy from."""

    def __init__(self, text: str, hint: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hearth ran into a problem")
        self.setAccessibleName("Problem details")
        layout = QVBoxLayout(self)
        label = QLabel(f"<b>{text}</b><br>{hint}")
        label.setWordWrap(True)
        label.setAccessibleName("What happened")
        layout.addWidget(label)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Technical details")
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setAccessibleName("Copy details")
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())

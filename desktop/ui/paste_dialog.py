"""Summarize pasted text: the window's `hearth summarize -` (an email, a web page's text, notes).

The box starts with the clipboard's text, if any, so Ctrl+Shift+V then Enter summarizes what was
copied. Nothing is summarized until the user presses Summarize.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

MIN_WORDS = 20  # shorter text has nothing to summarize


class PasteDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Summarize pasted text")
        self.setAccessibleName("Summarize pasted text")
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        intro = QLabel("Paste the text to summarize. It stays on this computer, like everything else.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.text = QPlainTextEdit(self)
        self.text.setAccessibleName("Text to summarize")
        self.text.setPlaceholderText("Paste an email, an article's text, meeting notes…")
        layout.addWidget(self.text, 1)
        self.count = QLabel(self)
        self.count.setAccessibleName("Word count")
        layout.addWidget(self.count)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.summarize_button = self.buttons.addButton("Summarize", QDialogButtonBox.ButtonRole.AcceptRole)
        self.summarize_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.text.textChanged.connect(self._update)
        clip = QGuiApplication.clipboard().text() if QGuiApplication.clipboard() is not None else ""
        if clip.strip():
            self.text.setPlainText(clip)
        self._update()
        self.text.setFocus()

    def words(self) -> int:
        return len(self.text.toPlainText().split())

    def _update(self) -> None:
        n = self.words()
        enough = n >= MIN_WORDS
        self.summarize_button.setEnabled(enough)
        if n == 0:
            self.count.setText("")
        elif enough:
            self.count.setText(f"{n:,} words")
        else:
            self.count.setText(f"{n} words — paste at least {MIN_WORDS} to summarize")

    def pasted(self) -> str:
        return self.text.toPlainText()

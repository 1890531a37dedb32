"""The chat view: the scrolling list of messages, a first-run welcome, and the composer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.qtcompat import emit

if TYPE_CHECKING:  # the first frame shows no message: the module loads with the first one
    from desktop.ui.chat.message_view import MessageWidget

WELCOME = """
<h2>Welcome to Hearth</h2>
<p>Everything here runs on this computer. Nothing you type or drop leaves it.</p>
<ul>
<li><b>Chat</b>: type below and press Enter (Shift+Enter for a new line, Esc stops an answer).</li>
<li><b>Summarize a PDF</b>: drop it on this window.</li>
<li><b>Ask your documents</b>: add files or a folder in the Library (Ctrl+Shift+L), tick the
collections this chat should ask, and every answer cites the page it rests on.</li>
</ul>
<p><b>Want better answers?</b> Hearth starts with a small built-in model so it works at once.
If you already have a stronger model as a <code>.gguf</code> file (from LM Studio, GPT4All,
Ollama's blobs or Hugging Face), drop it on this window or choose <i>Import a model…</i> in the
model menu of the toolbar. Hearth copies nothing from the internet: it tells you whether the model
fits this machine and whether it will run on the CPU or the GPU.</p>
"""


class Composer(QPlainTextEdit):
    """The question box: Enter sends, Shift+Enter adds a line. Signal submitted(str) on the GUI thread."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Ask anything, or drop a PDF here to summarize it…")
        self.setAccessibleName("Message")
        self.setAccessibleDescription("Type a question; Enter sends it, Shift+Enter adds a new line")
        self.setTabChangesFocus(True)
        self.setMaximumHeight(84)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            text = self.toPlainText().strip()
            if text:
                emit(self.submitted, text)
            return
        super().keyPressEvent(event)


class ChatView(QWidget):
    """Messages of one chat plus the composer. Knows nothing of jobs: the panel drives it.

    Signals (GUI thread):
        send_requested(str)  the user submitted a question
        stop_requested()     the user pressed Stop (or Esc)
    """

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setAccessibleName("Conversation")
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self._list = QWidget()
        self._list.setObjectName("messageList")
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(12, 12, 12, 12)
        self._list_layout.setSpacing(8)
        self.welcome = QLabel(WELCOME)
        self.welcome.setObjectName("welcome")
        self.welcome.setWordWrap(True)
        self.welcome.setTextFormat(Qt.TextFormat.RichText)
        self.welcome.setAccessibleName("How to use Hearth")
        self._list_layout.addWidget(self.welcome)
        self._list_layout.addStretch(1)
        self.scroll_area.setWidget(self._list)
        layout.addWidget(self.scroll_area, 1)
        self._follow = True
        bar = self.scroll_area.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range)

        row = QHBoxLayout()
        row.setContentsMargins(12, 0, 12, 12)
        self.composer = Composer()
        self.composer.submitted.connect(self._submit)
        row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send message")
        self.send_button.setToolTip("Send (Enter)")
        self.send_button.clicked.connect(lambda: self._submit(self.composer.toPlainText().strip()))
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop answer")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setVisible(False)
        row.addWidget(self.send_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)

    # -- messages

    def clear(self) -> None:
        for w in self.messages():
            self._list_layout.removeWidget(w)
            w.deleteLater()
        self.welcome.setVisible(True)

    def add_message(self, role: str, text: str = "", *, page_links: bool = False) -> MessageWidget:
        from desktop.ui.chat.message_view import MessageWidget

        self.welcome.setVisible(False)
        widget = MessageWidget(role, text, page_links=page_links)
        self._list_layout.insertWidget(self._list_layout.count() - 1, widget)
        self._follow = True
        return widget

    def remove_message(self, widget: MessageWidget) -> None:
        self._list_layout.removeWidget(widget)
        widget.deleteLater()
        if not self.messages():
            self.welcome.setVisible(True)

    def messages(self) -> list[MessageWidget]:
        out: list[Any] = []
        for i in range(self._list_layout.count()):
            item = self._list_layout.itemAt(i)
            w = item.widget() if item is not None else None
            if w is not None and w is not self.welcome and not w.property("removed"):
                out.append(w)
        return out

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setVisible(busy)
        self.send_button.setVisible(not busy)

    # -- scrolling: stay at the bottom while the answer grows, unless the user scrolled up to read

    def _on_scrolled(self, value: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self._follow = value >= bar.maximum() - 24

    def _on_range(self, _min: int, maximum: int) -> None:
        if self._follow:
            QTimer.singleShot(0, self.scroll_to_bottom)

    def scroll_to_bottom(self) -> None:
        bar = self.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _submit(self, text: str) -> None:
        if text:
            self.composer.clear()
            emit(self.send_requested, text)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Escape:
            emit(self.stop_requested)
            return
        super().keyPressEvent(event)

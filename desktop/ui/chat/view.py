"""The chat view: a centred reading column of messages, a first-run welcome, and the composer."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.ui import icons
from desktop.ui.labels import WrappedLabel
from desktop.ui.lazy_qt import Qt, set_by_name
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:  # the first frame shows no message: the module loads with the first one
    from PySide6.QtGui import QKeyEvent

    from desktop.ui.chat.message_view import MessageWidget

READING_WIDTH = 780  # the column's widest: lines stay readable on a wide screen

# The first-run welcome: a heading, the privacy promise, what Hearth does and how, and a word on
# models. Plain-text labels, not one rich-text label: rich text costs the first frame an HTML parse
# and a text document laid out at every width the layouts ask about (11% of a bare window's start).
WELCOME_TITLE = "What shall we look at today?"
WELCOME_LEAD = "Everything runs on this computer. Nothing you type or open leaves it."
WELCOME_ITEMS = (
    ("Chat", "Type below. Enter sends, Shift+Enter adds a line, Esc stops an answer."),
    ("Summarize a document", "File → Open… (Ctrl+O), or drop a PDF on this window."),
    (
        "Ask your documents",
        "Add files in the Library (Ctrl+Shift+L) and tick the collections a chat asks. Every answer "
        "shows the page it rests on, with the evidence highlighted.",
    ),
)
WELCOME_MODELS = (
    "Hearth starts with a small built-in model. A stronger .gguf you already have (LM Studio, "
    "GPT4All, Hugging Face) can be imported from the model menu or dropped here."
)


def _welcome() -> QWidget:
    """The welcome page's widget: plain-text labels in the reading column."""
    page = QWidget()
    page.setObjectName("welcome")
    page.setAccessibleName("How to use Hearth")
    layout = QVBoxLayout(page)
    layout.setContentsMargins(8, 24, 8, 8)
    layout.setSpacing(4)

    def label(text: str, name: str) -> WrappedLabel:
        widget = WrappedLabel(text)
        widget.setObjectName(name)
        set_by_name(widget, "textFormat", "PlainText")
        layout.addWidget(widget)
        return widget

    label(WELCOME_TITLE, "welcomeTitle")
    layout.addSpacing(4)
    label(WELCOME_LEAD, "welcomeLead")
    for title, text in WELCOME_ITEMS:
        layout.addSpacing(10)
        label(title, "welcomeItem")
        label(text, "welcomeText")
    layout.addSpacing(14)
    label(WELCOME_MODELS, "welcomeNote")
    return page


class Composer(QPlainTextEdit):
    """The question box: Enter sends, Shift+Enter adds a line. Signal submitted(str) on the GUI thread."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setPlaceholderText("Ask anything, or open a document to summarize it…")
        self.setAccessibleName("Message")
        self.setAccessibleDescription("Type a question; Enter sends it, Shift+Enter adds a new line")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(160)
        set_by_name(self, "verticalScrollBarPolicy", "ScrollBarAlwaysOff")
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_: Any) -> None:
        """One line when empty, growing with the text up to six lines."""
        line = self.fontMetrics().lineSpacing()
        wanted = max(1, int(self.document().size().height()))
        lines = min(6, wanted)
        set_by_name(
            self, "verticalScrollBarPolicy", "ScrollBarAsNeeded" if wanted > 6 else "ScrollBarAlwaysOff"
        )
        margin = (
            2 * int(self.document().documentMargin()) + 2 * self.frameWidth() + 18
        )  # + the sheet's padding
        self.setFixedHeight(lines * line + margin)

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
        self.setMinimumWidth(320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("conversation")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setAccessibleName("Conversation")
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        set_by_name(self.scroll_area, "focusPolicy", "NoFocus")  # its messages take the focus instead
        self._list = QWidget()
        self._list.setObjectName("messageList")
        outer = QHBoxLayout(self._list)
        outer.setContentsMargins(16, 16, 16, 16)
        self.column = QWidget()
        self.column.setObjectName("readingColumn")
        self.column.setMaximumWidth(READING_WIDTH)
        self.column.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        outer.addStretch(0)
        outer.addWidget(self.column, 1)
        outer.addStretch(0)
        self._list_layout = QVBoxLayout(self.column)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(12)
        self.welcome = _welcome()
        self._list_layout.addWidget(self.welcome)
        self._list_layout.addStretch(1)
        self.scroll_area.setWidget(self._list)
        layout.addWidget(self.scroll_area, 1)
        self._follow = True
        self.tab_before: QWidget | None = None  # what Tab visits just before the first message
        bar = self.scroll_area.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range)

        box = QWidget()
        box.setObjectName("composerBox")
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(16, 6, 16, 12)
        box_layout.setSpacing(4)
        self.source_label = QLabel()
        self.source_label.setObjectName("composerSource")
        self.source_label.setAccessibleName("Answers come from")
        self.source_label.setWordWrap(True)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.composer = Composer()
        self.composer.submitted.connect(self._submit)
        row.addWidget(self.composer, 1)
        self.send_button = self._round_button("send", "Send message", "Send (Enter)")
        self.send_button.setProperty("primary", True)
        self.send_button.clicked.connect(lambda: self._submit(self.composer.toPlainText().strip()))
        self.stop_button = self._round_button("stop", "Stop answer", "Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setVisible(False)
        buttons = QVBoxLayout()  # at the bottom of the row, beside the composer's last line
        buttons.addStretch(1)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row.addLayout(buttons)
        inner = QWidget()
        inner.setMaximumWidth(READING_WIDTH)
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(0, 0, 0, 0)
        inner_layout.setSpacing(4)
        inner_layout.addLayout(row)
        inner_layout.addWidget(self.source_label)
        centre = QHBoxLayout()
        centre.addStretch(0)
        centre.addWidget(inner, 1)
        centre.addStretch(0)
        box_layout.addLayout(centre)
        layout.addWidget(box)
        self.set_answer_source("")
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    def _round_button(self, icon_name: str, name: str, tip: str) -> QPushButton:
        button = QPushButton()
        button.setIcon(icons.icon(icon_name))
        button.setIconSize(QSize(18, 18))
        button.setAccessibleName(name)
        button.setToolTip(tip)
        button.setFixedSize(QSize(40, 36))
        button.setAutoDefault(False)
        return button

    def set_answer_source(self, text: str) -> None:
        """What the next question will be answered from, shown under the composer."""
        self.source_label.setText(text)
        self.source_label.setVisible(bool(text))

    # -- messages

    def clear(self) -> None:
        for w in self.messages():
            self._list_layout.removeWidget(w)
            w.setProperty("removed", True)
            w.deleteLater()
        self.welcome.setVisible(True)

    def add_message(self, role: str, text: str = "", *, page_links: bool = False) -> MessageWidget:
        from desktop.ui.chat.message_view import MessageWidget

        self.welcome.setVisible(False)
        widget = MessageWidget(role, text, page_links=page_links)
        self._list_layout.insertWidget(self._list_layout.count() - 1, widget)
        self._follow = True
        self.fix_tab_order()
        return widget

    def remove_message(self, widget: MessageWidget) -> None:
        self._list_layout.removeWidget(widget)
        widget.setProperty("removed", True)
        widget.deleteLater()
        if not self.messages():
            self.welcome.setVisible(True)
        self.fix_tab_order()

    def messages(self) -> list[MessageWidget]:
        out: list[Any] = []
        for i in range(self._list_layout.count()):
            item = self._list_layout.itemAt(i)
            w = item.widget() if item is not None else None
            if w is not None and w is not self.welcome and not w.property("removed"):
                out.append(w)
        return out

    def fix_tab_order(self) -> None:
        """Tab follows the reading order: each message's chips, text and actions, then the composer.
        (Widgets join the focus chain as they are created, so later messages would come last.)"""
        chain: list[QWidget] = [self.tab_before] if self.tab_before is not None else []
        for m in self.messages():
            chain += m.focusables()
        chain += [self.composer, self.send_button, self.stop_button]
        for a, b in itertools.pairwise(chain):
            QWidget.setTabOrder(a, b)

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setVisible(busy)
        self.send_button.setVisible(not busy)

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        for w in (old, new):
            message = self._message_of(w)
            if message is not None and hasattr(message, "set_focus_inside"):  # not one being destroyed
                message.set_focus_inside(self._message_of(new) is message)

    def _message_of(self, w: QWidget | None) -> MessageWidget | None:
        while w is not None and w is not self:  # by name: the message module may not be loaded yet
            if w.objectName() in ("userMessage", "assistantMessage"):
                return w  # type: ignore[return-value]
            w = w.parentWidget()
        return None

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

"""One message in the chat view: a header with actions, source chips, Markdown body, inline error."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.chat.markdown import close_open_fence, linkify
from desktop.ui.qtcompat import emit


class MarkdownView(QTextBrowser):
    """A read-only Markdown view as tall as its text (the chat's scroll area does the scrolling)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)

    def _fit_height(self, *_: Any) -> None:
        height = int(self.document().size().height()) + 4
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.document().setTextWidth(self.viewport().width())
        self._fit_height()

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.document().size().height()) + 4)


class MessageWidget(QFrame):
    """A user question or an assistant answer.

    Signals (GUI thread):
        link_activated(str)   a cite:N or page:N link in the body was clicked
        source_clicked(int)   source chip N was clicked
        copy_requested() / regenerate_requested() / edit_requested()
    """

    link_activated = Signal(str)
    source_clicked = Signal(int)
    regenerate_requested = Signal()
    edit_requested = Signal()

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None, *, page_links: bool = False):
        super().__init__(parent)
        self.role = role
        self.text = text
        self.page_links = page_links
        self.citations: list[dict[str, Any]] = []
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        who = "You" if role == "user" else "Hearth"
        self.setAccessibleName(f"{who} message")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(4)
        header = QHBoxLayout()
        self.who = QLabel(f"<b>{who}</b>")
        self.who.setAccessibleName(f"{who} said")
        header.addWidget(self.who)
        self.state = QLabel("")
        self.state.setAccessibleName("Answer state")
        self.state.setStyleSheet("color: palette(placeholder-text);")
        header.addWidget(self.state)
        header.addStretch(1)
        self.copy_button = self._action("Copy", "Copy this message as text", self.copy_to_clipboard)
        header.addWidget(self.copy_button)
        self.regenerate_button = self._action("Regenerate", "Answer this question again (Ctrl+R)", None)
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.edit_button = self._action("Edit", "Edit and resend this question (Ctrl+Up)", None)
        self.edit_button.clicked.connect(self.edit_requested)
        header.addWidget(self.regenerate_button)
        header.addWidget(self.edit_button)
        self.regenerate_button.setVisible(False)
        self.edit_button.setVisible(False)
        layout.addLayout(header)

        self.chips = QWidget()
        self.chips.setAccessibleName("Sources")
        self.chips_layout = QHBoxLayout(self.chips)
        self.chips_layout.setContentsMargins(0, 0, 0, 0)
        self.chips.setVisible(False)
        layout.addWidget(self.chips)

        self.body = MarkdownView()
        self.body.setAccessibleName(f"{who} message text")
        self.body.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.body)

        self.error = QLabel()
        self.error.setObjectName("inlineError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setAccessibleName("Error")
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self._render()

    def _action(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(f"{text} message" if text == "Copy" else text)
        button.setAutoRaise(True)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    # -- content

    def append(self, text: str) -> None:
        self.text += text
        self._render(streaming=True)

    def set_text(self, text: str) -> None:
        self.text = text
        self._render()

    def _render(self, streaming: bool = False) -> None:
        if self.role == "user":
            self.body.setPlainText(self.text)
            return
        shown = close_open_fence(self.text) if streaming else self.text
        self.body.setMarkdown(linkify(shown, citations=bool(self.citations), pages=self.page_links))

    def set_streaming(self, label: str = "thinking…") -> None:
        self.state.setText(label)

    def finish(self, stats: dict[str, Any] | None = None, note: str = "") -> None:
        """The answer is complete (or stopped): render it whole and put its stats in the tooltip."""
        self._render()
        self.state.setText(note)
        if stats:
            self.setToolTip(stats_tooltip(stats))

    def show_error(self, message: str, hint: str = "") -> None:
        self.state.setText("")
        text = f"<b>{_esc(message)}</b>" + (f"<br>{_esc(hint)}" if hint else "")
        self.error.setText(text)
        self.error.setVisible(True)

    def set_sources(self, citations: list[dict[str, Any]]) -> None:
        """Source chips shown before the answer: `[n] title, p. X`; clicking opens the page."""
        self.citations = citations
        while self.chips_layout.count():
            item = self.chips_layout.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:
                old.deleteLater()
        for c in citations:
            chip = QToolButton()
            chip.setObjectName("sourceChip")
            chip.setText(f"[{c['n']}] {c.get('title', '')[:40]}, p. {c.get('page')}")
            chip.setToolTip(str(c.get("snippet", ""))[:300])
            chip.setAccessibleName(f"Source {c['n']}: {c.get('title', '')}, page {c.get('page')}")
            chip.clicked.connect(lambda _=False, n=int(c["n"]): emit(self.source_clicked, n))
            self.chips_layout.addWidget(chip)
        self.chips_layout.addStretch(1)
        self.chips.setVisible(bool(citations))

    def set_actions(self, *, regenerate: bool = False, edit: bool = False) -> None:
        self.regenerate_button.setVisible(regenerate)
        self.edit_button.setVisible(edit)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    def _on_anchor(self, url: QUrl) -> None:
        emit(self.link_activated, url.toString())


def stats_tooltip(stats: dict[str, Any]) -> str:
    parts = []
    if stats.get("ttft_s") is not None:
        parts.append(f"First token after {float(stats['ttft_s']):.2f} s")
    tps = stats.get("tokens_per_s")
    if tps:
        parts.append(f"{float(tps):.1f} tokens/s")
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("backend"):
        parts.append(str(stats["backend"]).upper())
    if stats.get("cached_tokens"):
        parts.append(f"{stats['cached_tokens']} prompt tokens reused")
    return " · ".join(parts)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""One message in the chat view: who, source chips, the Markdown body, a stats line, actions.

Actions (copy, regenerate, edit) are icon buttons with accessible names. They show on the last
answer, and on any other message while the pointer is over it or the focus is inside it, so the
conversation stays calm but every action is one Tab away.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ui import icons
from desktop.ui.chat.markdown import close_open_fence, linkify
from desktop.ui.flow_layout import FlowLayout, flow_size_policy
from desktop.ui.qtcompat import emit

COPIED_FOR_MS = 1500


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
        self.setMinimumWidth(120)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; border: none; }")
        self.document().setDocumentMargin(2)
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

    def minimumSizeHint(self) -> QSize:
        return QSize(120, int(self.document().size().height()) + 4)


class MessageWidget(QFrame):
    """A user question or an assistant answer.

    Signals (GUI thread):
        link_activated(str)   a cite:N or page:N link in the body was clicked
        source_clicked(int)   source chip N was clicked
        regenerate_requested() / edit_requested()
        compare_requested()   "Compare with another model" (ui/chat/compare.py)
        version_requested(int)  the user stepped to another version of this answer (its index)
    """

    link_activated = Signal(str)
    source_clicked = Signal(int)
    regenerate_requested = Signal()
    edit_requested = Signal()
    compare_requested = Signal()
    version_requested = Signal(int)

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None, *, page_links: bool = False):
        super().__init__(parent)
        self.role = role
        self.text = text
        self.page_links = page_links
        self.citations: list[dict[str, Any]] = []
        self.stats: dict[str, Any] = {}
        self._hovered = False
        self._focus_inside = False
        self._pinned = False  # the last answer keeps its actions on screen
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        who = "You" if role == "user" else "Hearth"
        self.setAccessibleName(f"{who} message")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(4)
        header = QHBoxLayout()
        header.setSpacing(2)
        self.who = QLabel(who)
        self.who.setObjectName("messageWho")
        self.who.setAccessibleName(f"{who} said")
        header.addWidget(self.who)
        self.state = QLabel("")
        self.state.setObjectName("answerState")
        self.state.setAccessibleName("Answer state")
        header.addSpacing(6)
        header.addWidget(self.state)
        header.addStretch(1)
        self.action_bar = QWidget()
        actions = QHBoxLayout(self.action_bar)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(2)
        self.prev_version_button = self._action("prev", "Previous version", "Show the previous version")
        self.prev_version_button.clicked.connect(lambda: self._step_version(-1))
        self.version_label = QLabel()
        self.version_label.setObjectName("answerState")
        self.version_label.setAccessibleName("Version")
        self.next_version_button = self._action("next", "Next version", "Show the next version")
        self.next_version_button.clicked.connect(lambda: self._step_version(1))
        self.copy_button = self._action("copy", "Copy message", "Copy this message as text (Ctrl+Shift+C)")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.regenerate_button = self._action(
            "regenerate", "Regenerate", "Answer this question again (Ctrl+R)"
        )
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.edit_button = self._action("edit", "Edit", "Edit and resend this question (Ctrl+Up)")
        self.edit_button.clicked.connect(self.edit_requested)
        self.compare_button = self._action(
            "compare",
            "Compare with another model",
            "Ask another model the same question and see both answers",
        )
        self.compare_button.clicked.connect(self.compare_requested)
        for w in (
            self.prev_version_button,
            self.version_label,
            self.next_version_button,
            self.copy_button,
            self.regenerate_button,
            self.compare_button,
            self.edit_button,
        ):
            actions.addWidget(w)
        self.regenerate_button.setVisible(False)
        self.compare_button.setVisible(False)
        self.edit_button.setVisible(False)
        self._versions: tuple[int, int] = (0, 1)  # (shown index, count)
        self._show_versions()
        keep = self.action_bar.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # showing the actions never moves the text
        self.action_bar.setSizePolicy(keep)
        header.addWidget(self.action_bar)
        layout.addLayout(header)

        self.chips = QWidget()
        self.chips.setAccessibleName("Sources")
        self.chips.setSizePolicy(flow_size_policy())
        self.chips_layout = FlowLayout(self.chips)
        self.chips.setVisible(False)
        layout.addWidget(self.chips)

        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)

        self.body = MarkdownView()
        self.body.setAccessibleName(f"{who} message text")
        self.body.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.body)

        self.stats_label = QLabel()
        self.stats_label.setObjectName("answerStats")
        self.stats_label.setAccessibleName("Answer statistics")
        self.stats_label.setVisible(False)
        layout.addWidget(self.stats_label)

        self.error = QLabel()
        self.error.setObjectName("inlineError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setAccessibleName("Error")
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self._copied = QTimer(self, singleShot=True, interval=COPIED_FOR_MS)
        self._copied.timeout.connect(self._copy_done)
        self._render()
        self._update_actions_shown()

    def _action(self, icon_name: str, name: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setObjectName("messageAction")
        button.setIcon(icons.icon(icon_name))
        button.setIconSize(QSize(16, 16))
        button.setToolTip(tip)
        button.setAccessibleName(name)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
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

    def set_progress(self, done: int, total: int) -> None:
        """A bar under the header while a long job (a summary's sections) works through its parts."""
        if total <= 0:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        self.progress.setVisible(True)

    def finish(self, stats: dict[str, Any] | None = None, note: str = "") -> None:
        """The answer is complete (or stopped): render it whole and show its stats under it."""
        self._render()
        self.state.setText(note)
        self.progress.setVisible(False)
        self.stats = dict(stats or {})
        line = stats_line(self.stats)
        self.stats_label.setText(line)
        self.stats_label.setVisible(bool(line))
        if line:
            self.setToolTip(stats_tooltip(self.stats))

    def show_error(self, message: str, hint: str = "") -> None:
        self.state.setText("")
        self.progress.setVisible(False)
        text = f"<b>{_esc(message)}</b>" + (f"<br>{_esc(hint)}" if hint else "")
        self.error.setText(text)
        self.error.setVisible(True)

    def set_sources(self, citations: list[dict[str, Any]]) -> None:
        """Source chips: `[n] title · p. X`; clicking opens the page with the evidence highlighted.
        A chip is marked when the answer used that source (`used`)."""
        self.citations = citations
        while self.chips_layout.count():
            item = self.chips_layout.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:
                old.deleteLater()
        any_used = any(c.get("used") for c in citations)
        for c in citations:
            chip = QToolButton()
            chip.setObjectName("sourceChip")
            title = str(c.get("title", "")) or "Document"
            short = title if len(title) <= 36 else title[:35] + "…"
            chip.setText(f"[{c['n']}] {short} · p. {c.get('page')}")
            used = bool(c.get("used"))
            chip.setProperty("used", used)
            evidence = str(c.get("quote") or c.get("snippet") or "")
            tip = f"{title}, page {c.get('page')}\n\n{evidence[:300]}"
            if any_used:
                tip += "\n\n" + (
                    "Used in the answer." if used else "Shown for context; not used in the answer."
                )
            chip.setToolTip(tip)
            status = ""
            if any_used:
                status = ", used in the answer" if used else ", not used in the answer"
            chip.setAccessibleName(f"Source {c['n']}: {title}, page {c.get('page')}{status}")
            chip.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            chip.clicked.connect(lambda _=False, n=int(c["n"]): emit(self.source_clicked, n))
            self.chips_layout.addWidget(chip)
        self.chips.setVisible(bool(citations))
        self.chips.updateGeometry()
        if self.citations:
            self._render()  # [n] markers become links

    def chip_buttons(self) -> list[QToolButton]:
        out = []
        for i in range(self.chips_layout.count()):
            item = self.chips_layout.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, QToolButton):
                out.append(w)
        return out

    # -- actions

    def set_actions(
        self, *, regenerate: bool = False, edit: bool = False, pinned: bool = False, compare: bool = False
    ) -> None:
        self.regenerate_button.setVisible(regenerate)
        self.compare_button.setVisible(compare)
        self.edit_button.setVisible(edit)
        self._pinned = pinned
        self._update_actions_shown()

    def set_versions(self, index: int, count: int) -> None:
        """This answer is version `index` (0-based) of `count`; ‹ n/m › shows when there are several."""
        self._versions = (index, max(1, count))
        self._show_versions()

    def _show_versions(self) -> None:
        index, count = self._versions
        several = count > 1
        for w in (self.prev_version_button, self.version_label, self.next_version_button):
            w.setVisible(several)
        self.version_label.setText(f"{index + 1}/{count}")
        self.version_label.setAccessibleName(f"Version {index + 1} of {count}")
        self.prev_version_button.setEnabled(index > 0)
        self.next_version_button.setEnabled(index < count - 1)

    def _step_version(self, step: int) -> None:
        index, count = self._versions
        wanted = index + step
        if 0 <= wanted < count:
            emit(self.version_requested, wanted)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setIcon(icons.icon("check"))
        self.copy_button.setText("Copied")
        self.copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.copy_button.setAccessibleDescription("Copied to the clipboard")
        self._copied.start()

    def _copy_done(self) -> None:
        self.copy_button.setIcon(icons.icon("copy"))
        self.copy_button.setText("")
        self.copy_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.copy_button.setAccessibleDescription("")

    @property
    def copied(self) -> bool:
        """The copy feedback ("Copied", a check mark) is on screen."""
        return self._copied.isActive()

    # -- showing the actions: hover, focus inside, or the last answer

    def enterEvent(self, event: Any) -> None:
        self._hovered = True
        self._update_actions_shown()
        super().enterEvent(event)

    def leaveEvent(self, event: Any) -> None:
        self._hovered = False
        self._update_actions_shown()
        super().leaveEvent(event)

    def set_focus_inside(self, inside: bool) -> None:
        self._focus_inside = inside
        self._update_actions_shown()

    def _update_actions_shown(self) -> None:
        self.action_bar.setVisible(self._hovered or self._focus_inside or self._pinned or self.copied)

    def focusables(self) -> list[QWidget]:
        """This message's controls in reading order (the chat view chains them for Tab)."""
        out: list[QWidget] = [*self.chip_buttons(), self.body]
        out += [
            self.prev_version_button,
            self.next_version_button,
            self.copy_button,
            self.regenerate_button,
            self.compare_button,
            self.edit_button,
        ]
        return out

    def _on_anchor(self, url: QUrl) -> None:
        emit(self.link_activated, url.toString())


def stats_line(stats: dict[str, Any]) -> str:
    """The small grey line under an answer: how fast it came and on what."""
    parts = []
    if stats.get("ttft_s"):
        parts.append(f"{float(stats['ttft_s']):.1f} s to first word")
    tps = stats.get("tokens_per_s")
    if tps:
        parts.append(f"{float(tps):.1f} tokens/s")
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("backend"):
        parts.append(str(stats["backend"]).upper())
    if stats.get("stop_reason") == "length":
        parts.append("cut at the length limit")
    return " · ".join(parts)


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

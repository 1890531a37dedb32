"""What both document panes (the PDF view and the text view) share: their tool buttons and the find
row — the box, the match count ("3 of 12", "No match"), previous and next."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from desktop.ui import icons


def pane_frame(pane: QWidget) -> tuple[QVBoxLayout, QWidget, QVBoxLayout, QLabel]:
    """A pane's layout, its top widget with the bars' layout, and the title line (shown only when
    the document cannot be opened, with why; the tab names the document otherwise)."""
    layout = QVBoxLayout(pane)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    top = QWidget()
    bars = QVBoxLayout(top)
    bars.setContentsMargins(8, 6, 8, 6)
    bars.setSpacing(4)
    title = QLabel()
    title.setObjectName("inlineError")
    title.setAccessibleName("Document")
    title.setWordWrap(True)
    title.setVisible(False)
    bars.addWidget(title)
    return layout, top, bars, title


def tool_button(icon_name: str, name: str, tip: str) -> QToolButton:
    """An icon button of a pane's bar, with its accessible name and tooltip; it takes focus by Tab."""
    button = QToolButton()
    button.setIcon(icons.icon(icon_name))
    button.setIconSize(QSize(18, 18))
    button.setToolTip(tip)
    button.setAccessibleName(name)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return button


class FindRow:
    """The find row: `layout` holds the box, the count and the two buttons (the pane adds more)."""

    def __init__(
        self,
        on_enter: Callable[[], None],
        on_text: Callable[[str], None],
        on_previous: Callable[[], None],
        on_next: Callable[[], None],
    ) -> None:
        self.layout = QHBoxLayout()
        self.layout.setSpacing(2)
        self.box = QLineEdit()
        self.box.setPlaceholderText("Find in document (Ctrl+F)")
        self.box.setAccessibleName("Find in document")
        self.box.setClearButtonEnabled(True)
        for button in self.box.findChildren(QToolButton):
            button.setAccessibleName("Clear find")
        self.box.returnPressed.connect(on_enter)
        self.box.textChanged.connect(on_text)
        self.layout.addWidget(self.box, 1)
        self.count = QLabel()
        self.count.setObjectName("findCount")
        self.count.setAccessibleName("Matches")
        self.layout.addWidget(self.count)
        self.previous_button = tool_button("up", "Previous match", "Previous match (Shift+Enter, Shift+F3)")
        self.previous_button.clicked.connect(on_previous)
        self.next_button = tool_button("down", "Next match", "Next match (Enter, F3)")
        self.next_button.clicked.connect(on_next)
        self.layout.addWidget(self.previous_button)
        self.layout.addWidget(self.next_button)

    def show_count(self, count: int, current: int) -> None:
        """"3 of 12" (`current` is 0-based; -1: none chosen yet), "12 found", "No match", or nothing."""
        if not self.box.text().strip():
            self.count.setText("")
        elif count == 0:
            self.count.setText("No match")
        elif current < 0:
            self.count.setText(f"{count} found")
        else:
            self.count.setText(f"{current + 1} of {count}")
        self.count.setAccessibleName(f"Matches: {self.count.text() or 'none'}")

"""Dialog pages that scroll instead of squeezing, and sizes that fit the screen.

A form or a column of word-wrapped labels that gets less height than it needs cuts each label to
a line and a half; on an 800x600 panel that is most of the settings and the privacy panel. These
pages keep every row at its height and scroll, and a dialog asks for no more than the screen has.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


def scrolling(page: QWidget) -> QScrollArea:
    """`page` in a frameless scroll area that scrolls only up and down (its text wraps)."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(page)
    return scroll


def fitting(widget: QWidget, width: int, height: int) -> QSize:
    """The wanted size, smaller where the widget's screen is (room left for a title bar)."""
    screen = widget.screen().availableGeometry()
    return QSize(min(width, screen.width() - 40), min(height, screen.height() - 60))

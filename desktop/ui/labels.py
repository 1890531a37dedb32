"""A word-wrapped label that lays its text out once per width.

Qt's layouts ask a word-wrapped label for its height at a given width many times while a window is
built and shown (the welcome's labels: 20 times, at 5 widths, before the first frame), and `QLabel`
lays its text out again for every question. `WrappedLabel` remembers each answer for as long as
what it depends on (the text, the font, the margins) is unchanged. (Not the text format: reading it
builds Qt's namespace of enums, desktop/ui/lazy_qt.py; it is set before the text and never changed.)
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class WrappedLabel(QLabel):
    """A `QLabel` with word wrap on whose `heightForWidth` is computed once per width."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._heights: dict[int, int] = {}
        self._heights_for: tuple[object, ...] = ()

    def heightForWidth(self, width: int) -> int:
        margins = self.contentsMargins()
        depends_on = (
            self.text(),
            self.font().key(),
            self.wordWrap(),
            self.margin(),
            self.indent(),
            margins.left(),
            margins.top(),
            margins.right(),
            margins.bottom(),
        )
        if depends_on != self._heights_for:
            self._heights = {}
            self._heights_for = depends_on
        height = self._heights.get(width)
        if height is None:
            height = self._heights[width] = super().heightForWidth(width)
        return height

"""WrappedLabel: the height Qt's layouts ask for is computed once per width, and stays right."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

from desktop.ui.labels import WrappedLabel

TEXT = "Add files in the Library and tick the collections a chat asks. " * 4


class Counting(WrappedLabel):
    computed = 0

    def __init__(self, text: str) -> None:
        super().__init__(text)

    def heightForWidth(self, width: int) -> int:
        before = len(self._heights)
        height = super().heightForWidth(width)
        if len(self._heights) > before or not self._heights:
            Counting.computed += 1
        return height


def test_heights_match_qlabel_and_each_width_is_laid_out_once(qapp: Any) -> None:
    plain = QLabel(TEXT)
    plain.setWordWrap(True)
    label = Counting(TEXT)
    for width in (120, 300, 120, 640, 300, 120):
        assert label.heightForWidth(width) == plain.heightForWidth(width)
    assert Counting.computed == 3
    assert label.heightForWidth(120) > label.heightForWidth(640)


def test_a_new_text_font_or_margin_is_laid_out_again(qapp: Any) -> None:
    label = WrappedLabel(TEXT)
    plain = QLabel(TEXT)
    plain.setWordWrap(True)
    short = label.heightForWidth(200)
    label.setText(TEXT * 2)
    plain.setText(TEXT * 2)
    assert label.heightForWidth(200) == plain.heightForWidth(200) > short
    font = label.font()
    font.setPointSize(font.pointSize() * 2)
    label.setFont(font)
    plain.setFont(font)
    assert label.heightForWidth(200) == plain.heightForWidth(200)
    label.setContentsMargins(0, 30, 0, 30)
    plain.setContentsMargins(0, 30, 0, 30)
    assert label.heightForWidth(200) == plain.heightForWidth(200)

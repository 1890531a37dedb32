"""PySide6 6.12.0's emit() loses a reference to True per call; our emit() must not."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from desktop.ui.qtcompat import emit


class _Source(QObject):
    value = Signal(object)


def test_emit_keeps_the_refcount_of_true_steady() -> None:
    source = _Source()
    got: list[object] = []
    source.value.connect(got.append)
    before = sys.getrefcount(True)
    for i in range(2000):  # more than True's refcount: without the fix this aborts the interpreter
        emit(source.value, i)
    assert abs(sys.getrefcount(True) - before) <= 5  # unfixed: 2000 fewer (then an abort)
    assert got == list(range(2000))

"""A workaround for PySide6 6.12.0: `SignalInstance.emit()` returns `True` without owning a reference.

Every emit of a signal declared in Python frees one reference to `True` that it never took; after
a few hundred emits the interpreter aborts ("bool_dealloc: deallocating True or False"), at exit or
mid-stream. Measured here: `sys.getrefcount(True)` drops by one per emit, with or without slots.
Every emit in desktop/ui goes through `emit()`, which gives the reference back when (and only when)
a probe shows the bug, so a fixed PySide6 needs no change here.

The probe (and ctypes, ~10 ms to import) runs at the first emit, after that emit: the window's
first frame never waits for it, and `True` has millions of references, so the one lost by the
first emit is given back a moment later with nothing freed in between.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    fired = Signal()


def _probe() -> Callable[[], None] | None:
    """`Py_IncRef(True)` when emit loses a reference to True, else None."""
    import ctypes

    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None
    probe = _Probe()
    before = sys.getrefcount(True)
    probe.fired.emit()
    lost = sys.getrefcount(True) < before
    if not lost:
        return None
    incref(True)  # give back the reference the probe itself lost
    return lambda: incref(True)


_UNPROBED = object()
_give_back: Any = _UNPROBED


def emit_loses_true() -> bool:
    """Whether this PySide6 has the bug (probed once)."""
    global _give_back
    if _give_back is _UNPROBED:
        _give_back = _probe()
    return _give_back is not None


def emit(signal: Any, *args: Any) -> None:
    """`signal.emit(*args)`, minus PySide6 6.12.0's lost reference."""
    signal.emit(*args)
    if _give_back is _UNPROBED:
        emit_loses_true()
    if _give_back is not None:
        _give_back()

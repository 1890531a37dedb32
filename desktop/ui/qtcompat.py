"""A workaround for PySide6 6.12.0: `SignalInstance.emit()` returns `True` without owning a reference.

Every emit of a signal declared in Python frees one reference to `True` that it never took; after
a few hundred emits the interpreter aborts ("bool_dealloc: deallocating True or False"), at exit or
mid-stream. Measured here: `sys.getrefcount(True)` drops by one per emit, with or without slots.
Every emit in desktop/ui goes through `emit()`, which gives the reference back when (and only when)
a probe at import shows the bug, so a fixed PySide6 needs no change here.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    fired = Signal()


def _emit_loses_a_true() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    probe.fired.emit()
    lost = sys.getrefcount(True) < before
    if lost:
        _incref(True)  # give back the reference the probe itself lost
    return lost


EMIT_LOSES_TRUE = _emit_loses_a_true()


def emit(signal: Any, *args: Any) -> None:
    """`signal.emit(*args)`, minus PySide6 6.12.0's lost reference."""
    signal.emit(*args)
    if EMIT_LOSES_TRUE:
        _incref(True)

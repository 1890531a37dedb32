"""PySide6 6.12.0's emit() loses a reference to True per call; our emit() must not."""

from __future__ import annotations

import subprocess
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


def test_the_first_emit_which_probes_for_the_bug_also_gives_its_reference_back() -> None:
    """The probe runs lazily, after the first emit: that emit's lost reference is given back too."""
    script = """
import sys
from PySide6.QtCore import QObject, Signal
from desktop.ui import qtcompat
class S(QObject):
    fired = Signal()
s = S()
import ctypes  # what the probe imports holds references to True of its own: count from after it
before = sys.getrefcount(True)
qtcompat.emit(s.fired)
print(sys.getrefcount(True) - before, qtcompat.emit_loses_true())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    delta, _buggy = out.stdout.split()
    assert int(delta) == 0

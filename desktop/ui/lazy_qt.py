"""`Qt`, Qt's namespace of enums, built when first used instead of when imported.

The first touch of `PySide6.QtCore.Qt` makes PySide6 build every enum of the namespace (94 enums,
1,199 members, through Python's `enum` module): 12 ms here, which a bare PySide6 window never pays,
and so does any call that returns one of those enums. The modules of the first frame import `Qt`
from here, and the code that builds and paints the first frame does not use it
(tests/ui/test_first_frame.py holds that), so it is built after the first frame, by the first
handler that needs it. `Qt.X` reads the same as ever and type-checks as the real one.

What the first frame must set, it sets by name through Qt's property system (`set_by_name`), which
converts the name in C++ without a Python enum, as Qt Designer's files and style sheets do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from PySide6.QtCore import Qt as Qt
else:

    class _Namespace:
        """Stands for `PySide6.QtCore.Qt`; each name is looked up there once, then kept here."""

        def __getattr__(self, name: str) -> Any:
            from PySide6.QtCore import Qt as real

            value = getattr(real, name)
            setattr(self, name, value)
            return value

        def __repr__(self) -> str:
            return "<Qt, built on first use>"

    Qt = _Namespace()


def set_by_name(obj: QObject, prop: str, value: str) -> None:
    """`obj`'s Qt property `prop` set to the enum or flags named `value` (`"StrongFocus"`,
    `"AlignLeft|AlignTop"`); a name Qt does not know raises instead of passing unseen."""
    if obj.metaObject().indexOfProperty(prop) < 0 or not obj.setProperty(prop, value):
        raise ValueError(f"{type(obj).__name__}.{prop} cannot be set to {value!r}")


def built() -> bool:
    """Whether PySide6 has built the namespace yet (in this process)."""
    from PySide6 import QtCore

    return "Qt" in vars(QtCore)

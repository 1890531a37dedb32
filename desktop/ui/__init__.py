"""The Hearth window (PySide6). Only this package imports Qt.

Once loaded, PySide6 reads the source of every module named by an import statement anywhere in the
process (PYSIDE-2029: to learn whether that module may write `from __feature__ import snake_case`),
the standard library's included: 51 modules and 2% of the work before the first frame, which a
bare window never pays. Hearth never uses `__feature__` (tests/ui/test_first_frame.py holds that),
so `_answer_feature_scan_by_name` gives PySide the same answers without reading: Hearth's own
modules may use PySide, the standard library's do not; any other module is still read.
"""

import sys
from types import ModuleType


def _answer_feature_scan_by_name() -> None:
    import shiboken6  # noqa: F401  (loads shibokensupport, which holds the scan)

    feature = sys.modules.get("shibokensupport.feature")
    read_source = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or read_source is None or getattr(read_source, "by_name", False):
        return  # another PySide6, or already done

    def uses_pyside(module: ModuleType) -> bool:
        name = getattr(module, "__name__", "")
        top = name.partition(".")[0]
        if top == "desktop":
            return True
        if top in sys.stdlib_module_names:
            return False
        return bool(read_source(module))

    uses_pyside.by_name = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]


_answer_feature_scan_by_name()

"""Issue 8: the first frame. It is timed by `python -m bench ui` against a bare PySide6 window;
these tests hold what keeps it short, so that a change cannot undo it unnoticed:

- Qt's namespace of enums (`PySide6.QtCore.Qt`: 94 enums, 12 ms to build) is not built before the
  first frame, in either theme (desktop/ui/lazy_qt.py);
- `first_shown` follows the first paint, so what the window does after its first frame (chats,
  model, library) never delays that paint;
- cyclic garbage collection, off while starting (desktop/app.py), is back on after it;
- the job events (desktop/core/events.py: four dataclasses, whose generated methods Python 3.11
  compiles one by one) load with the first job, not before the first frame;
- PySide6's per-import source scan is answered by name (desktop/ui/__init__.py), which is only
  right while no Hearth module uses `__feature__`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop.ui import lazy_qt

REPO = Path(__file__).resolve().parents[2]

FIRST_FRAME_SCRIPT = """
import gc, json, sys
gc.disable()  # as desktop/app.py starts
from desktop.services import privacy
privacy.install()
from desktop.ui import main_window
from desktop.ui.session import Session
Session.load_model = lambda *a, **k: None  # the frame, not the model
Session.first_start_selftest = lambda *a, **k: None
seen = {}

class Probe(main_window.MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refresh_models = lambda: None
        self.first_shown.connect(self._at_first_frame)  # before run_gui's own handlers

    def _at_first_frame(self):
        from PySide6 import QtCore
        seen["qt_enums_built"] = "Qt" in vars(QtCore)
        seen["painted"] = self._first_painted
        seen["collecting"] = gc.isenabled()
        scan = sys.modules["shibokensupport.feature"]._mod_uses_pyside
        seen["feature_scan_by_name"] = getattr(scan, "by_name", False)
        seen["events_loaded"] = "desktop.core.events" in sys.modules  # 4 dataclasses, 3% of a bare start
        main_window.QTimer.singleShot(0, self._after)

    def _after(self):
        from PySide6 import QtCore
        seen["collecting_after"] = gc.isenabled()
        seen["qt_enums_built_after"] = "Qt" in vars(QtCore)  # by the first handler that needs them
        seen["warm_at_first_frame"] = "desktop.ui.chat.message_view" in sys.modules
        main_window.QTimer.singleShot(4 * main_window.WARM_UP_MS, self._later)

    def _later(self):
        seen["warm_after"] = "desktop.ui.chat.message_view" in sys.modules  # the first answer's
        print("RESULT " + json.dumps(seen), flush=True)  # widgets, loaded while the window idles
        self.close()
        main_window.QApplication.quit()

main_window.MainWindow = Probe
sys.exit(main_window.run_gui([]))
"""


@pytest.mark.parametrize("theme", ["system", "dark"])
def test_the_first_frame_builds_no_qt_enums_follows_a_paint_and_collects_garbage_after(
    data_dir: Path, theme: str
) -> None:
    (data_dir / "settings.json").write_text(json.dumps({"theme": theme}), encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEARTH_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME_SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "RESULT " in out.stdout, out.stderr[-3000:]
    assert json.loads(out.stdout.split("RESULT ", 1)[1]) == {
        "qt_enums_built": False,
        "painted": True,
        "collecting": False,
        "feature_scan_by_name": True,
        "events_loaded": False,
        "collecting_after": True,
        "qt_enums_built_after": True,
        "warm_at_first_frame": False,
        "warm_after": True,
    }


def test_lazy_qt_is_the_real_namespace_and_set_by_name_refuses_unknown_names(qapp: Any) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QToolButton

    assert lazy_qt.Qt.AlignmentFlag.AlignCenter is Qt.AlignmentFlag.AlignCenter
    assert lazy_qt.built()
    button = QToolButton()
    lazy_qt.set_by_name(button, "toolButtonStyle", "ToolButtonTextBesideIcon")
    assert button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    lazy_qt.set_by_name(button, "focusPolicy", "StrongFocus")
    assert button.focusPolicy() == Qt.FocusPolicy.StrongFocus
    with pytest.raises(ValueError, match="ToolButtonTextBesideIconn"):
        lazy_qt.set_by_name(button, "toolButtonStyle", "ToolButtonTextBesideIconn")
    with pytest.raises(ValueError, match="toolButtonStile"):
        lazy_qt.set_by_name(button, "toolButtonStile", "ToolButtonIconOnly")
    assert b"toolButtonStile" not in [bytes(name) for name in button.dynamicPropertyNames()]


def test_the_chat_list_role_is_qts_first_user_role() -> None:
    from PySide6.QtCore import Qt

    from desktop.ui.chat.sidebar import CHAT_ID

    assert Qt.ItemDataRole.UserRole == CHAT_ID


def test_system_theme_before_qt_enums_follows_the_platform_palette(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first frame `resolve("system")` reads the platform's palette (Qt draws it from
    the same colour scheme) instead of `colorScheme()`, whose enum would build the namespace."""
    from PySide6.QtGui import QColor, QPalette

    from desktop.ui import theme

    monkeypatch.setattr(lazy_qt, "built", lambda: False)
    saved = qapp.palette()
    try:
        for window, expected in (("#202124", theme.DARK), ("#f5f5f5", theme.LIGHT)):
            platform = QPalette(saved)
            platform.setColor(QPalette.ColorRole.Window, QColor(window))
            qapp.setPalette(platform)
            assert theme.resolve("system") is expected
    finally:
        qapp.setPalette(saved)


def test_the_feature_scan_answered_by_name_agrees_with_reading_the_source() -> None:
    """What `desktop/ui/__init__.py` tells PySide6 instead of reading each module: Hearth's modules
    may use PySide (none selects a `__feature__`, so 0 and -1 select the same), the standard
    library's do not, and anything else is still read."""
    import email.mime.text
    import json as json_module

    import shiboken6  # noqa: F401
    import shibokensupport.feature as feature  # type: ignore[import-not-found]

    import desktop.ui.chat.view
    import desktop.ui.main_window

    by_name = feature._mod_uses_pyside
    assert by_name.by_name
    for module in (desktop.ui.main_window, desktop.ui.chat.view):
        assert by_name(module) and "PySide6" in Path(module.__file__).read_text(encoding="utf-8")
    for module in (json_module, email.mime.text, os):
        assert not by_name(module)
    assert by_name(pytest) is False  # not Hearth's, not the standard library's: read as before
    sources = [p.read_text(encoding="utf-8") for p in (REPO / "desktop").rglob("*.py")]
    assert not [s for s in sources if re.search(r"^\s*(from|import) __feature__", s, re.MULTILINE)]

"""What the screenshot scripts share: run under Xvfb, a throwaway data folder, and waiting on the
real window's event loop without blocking it. Imported by docs/make_*screenshots.py (run as
scripts, so this folder is on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "screenshots"


def rerun_under_xvfb(script: str) -> int | None:
    """With no display, run `script` again under xvfb-run and return its exit status; None when
    this process can draw (a display, or it is that child)."""
    if os.environ.get("DISPLAY") or os.environ.get("HEARTH_SCREENSHOTS_CHILD"):
        return None
    if shutil.which("xvfb-run") is None:
        print("Install Xvfb first: apt-get install -y xvfb libxcb-cursor0", file=sys.stderr)
        return 2
    import ctypes.util

    if ctypes.util.find_library("xcb-cursor") is None:  # Qt's xcb plugin will not load without it
        print("Install Qt's X11 library first: apt-get install -y libxcb-cursor0", file=sys.stderr)
        return 2
    env = {**os.environ, "HEARTH_SCREENSHOTS_CHILD": "1"}
    return subprocess.call(
        ["xvfb-run", "-a", "-s", "-screen 0 1700x1100x24", sys.executable, script], env=env
    )


def throwaway_data() -> Path:
    """A fresh data folder for this run (HEARTH_DATA_DIR), with the privacy guard on."""
    data = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    os.environ["HEARTH_DATA_DIR"] = str(data)
    os.environ.setdefault("HEARTH_PASSPHRASE", "screenshots: a throwaway data folder")
    from desktop.services import privacy

    privacy.install()
    sys.path.insert(0, str(REPO))  # tests/ builds the documents
    return data


def settle(ms: int = 300) -> None:
    """Let the event loop run for `ms`."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal: Any, timeout_s: float = 300) -> None:
    """Run the event loop until `signal` fires (or the timeout)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def wait_until(check: Callable[[], bool], timeout_s: float = 120) -> None:
    end = time.monotonic() + timeout_s
    while not check() and time.monotonic() < end:
        settle(50)


def real_window(data: Path, settings: dict[str, Any]) -> tuple[Any, Any]:
    """The real app on `data` (a throwaway_data() folder) with `settings` saved first: the
    QApplication (light theme) and the MainWindow at 1440×900, not shown yet; dialogs are off so a
    script is never stopped by one."""
    from PySide6.QtWidgets import QApplication

    from desktop.core.settings import SettingsStore
    from desktop.ui.main_window import MainWindow
    from desktop.ui.session import Session
    from desktop.ui.theme import apply_theme

    SettingsStore(data / "settings.json").update(settings)
    app = QApplication(sys.argv)
    app.setApplicationName("Hearth")
    apply_theme(app, "light")
    window = MainWindow(Session())
    window.dialogs_enabled = False
    window.resize(1440, 900)
    return app, window

"""Quitting: seconds from Quit to the window's services being shut, on the real window.

A fresh interpreter builds the real MainWindow on a throwaway data folder (offscreen Qt), waits for
the bundled model, opens the library pane (the index lane and the embedder start), then times
`window.close()`: the lanes stop, the model process ends, the stores close. A first start also
runs the self-test on the io lane (loading the embedder, which cannot be interrupted), which is
where quitting used to wait 5–9 s. Absolute seconds (no raw baseline does the same work); goal < 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import time
from desktop.services import privacy
privacy.install()
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from desktop.ui.main_window import MainWindow
from desktop.ui.session import Session

app = QApplication([])
w = MainWindow(Session())
w.dialogs_enabled = False
w.show()
loop = QEventLoop()
w.session.model_ready.connect(loop.quit)
QTimer.singleShot(300_000, loop.quit)
loop.exec()
w.show_library()
loop = QEventLoop()
QTimer.singleShot(2000, loop.quit)
loop.exec()
t0 = time.perf_counter()
w.close()
print(f"CLOSED {time.perf_counter() - t0:.3f}", flush=True)
"""


def run(quick: bool = False) -> list[dict[str, Any]]:
    times = []
    for _ in range(1 if quick else 3):
        with tempfile.TemporaryDirectory() as data:
            env = {
                **os.environ,
                "QT_QPA_PLATFORM": "offscreen",
                "HEARTH_DATA_DIR": data,
                "HEARTH_PASSPHRASE": os.environ.get("HEARTH_PASSPHRASE", "bench: a throwaway data folder"),
            }
            out = subprocess.run(
                [sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
            ).stdout
            times.extend(float(line.split()[1]) for line in out.splitlines() if line.startswith("CLOSED"))
    if not times:
        failed = {"name": "quit (failed)", "ratio": None, "goal": "< 1 s", "ok": False}
        return [{**failed, "detail": "no CLOSED line"}]
    median = statistics.median(times)
    return [
        {
            "name": "quit: window.close() seconds (first start, library open)",
            "ratio": None,
            "goal": "< 1 s",
            "ok": median < 1.0,
            "detail": f"median {median:.2f} s of {len(times)} fresh processes: "
            + ", ".join(f"{t:.2f}" for t in times),
        }
    ]

"""The window on the real bundled model: first paint before heavy imports, a streamed answer that
never stalls the event loop, and the real runtime planning path."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from desktop.core.settings import SettingsStore
from desktop.services.paths import data_dir
from tests.ui.conftest import real_factory

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("llama_cpp", "torch", "sentence_transformers", "chromadb")
# Opened after the first frame (MainWindow._after_first_show), never on the path to it.
DEFERRED = ("sqlite3", "desktop.core.settings", "desktop.core.types", "desktop.ui.library.panel", "ctypes")

FIRST_SHOW_SCRIPT = """
import json, sys
from desktop.services import privacy
privacy.install()
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.ui.main_window import MainWindow
window = MainWindow()
seen = {}
def at_first_show():
    seen["heavy"] = [m for m in HEAVY if m in sys.modules]
    seen["deferred"] = [m for m in DEFERRED if m in sys.modules]
    seen["visible"] = window.isVisible()
    from PySide6.QtCore import QTimer
    QTimer.singleShot(0, after_first_show)
def after_first_show():
    seen["chats_listed"] = len(window.chat.sidebar.chat_items())
    seen["library_built"] = window._library is not None
    window.close()
    app.quit()
window.first_shown.connect(at_first_show)
window.show()
app.exec()
print("RESULT " + json.dumps(seen))
"""


class StallMeter:
    """Event-loop stalls, two ways, from a 5 ms timer on the GUI thread.

    - wall: the longest gap between ticks beyond the 5 ms asked for. It also counts time the OS
      kept the GUI thread off a core, which on a loaded machine is not the window's doing.
    - busy: the most CPU time the GUI thread itself used between two ticks (`time.thread_time`,
      which does not advance while the thread waits or is descheduled): work the window did
      instead of painting. Load does not inflate it, so it is held to the goal everywhere.

    The wall part is held to the goal where the machine has room: 4 cores or more, and a load
    average below them. On fewer cores, a folder indexing and an answer starting in the same
    process leave the GUI thread waiting for the GIL while it does little itself (measured on a
    2-core VM: stalls of 55-70 ms in which the GUI thread was busy 15-20 ms; ChromaDB holds the GIL
    through an upsert); there the wall part only refuses a visible freeze (150 ms).
    """

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.worst_ms = 0.0
        self.worst_busy_ms = 0.0
        self.ticks = 0
        self._cpu = time.thread_time()
        self._process = (0.0, 0.0)  # this process's CPU seconds (all threads) and wall seconds
        self.cores_busy = 0.0  # how many cores the process kept busy while the meter ran

    def start(self) -> None:
        self.clock.start()
        self._cpu = time.thread_time()
        self._process = (time.process_time(), time.perf_counter())
        self.timer.start()

    def _tick(self) -> None:
        gap = self.clock.nsecsElapsed() / 1e6
        cpu = time.thread_time()
        self.clock.restart()
        self.ticks += 1
        self.worst_ms = max(self.worst_ms, gap - 5)
        self.worst_busy_ms = max(self.worst_busy_ms, (cpu - self._cpu) * 1000)
        self._cpu = cpu

    def stop(self) -> None:
        self.timer.stop()
        cpu, wall = self._process
        self.cores_busy = (time.process_time() - cpu) / max(1e-9, time.perf_counter() - wall)

    def check(self, goal_ms: float = 50.0) -> None:
        """Busy: never over the goal. Wall: over the goal only where other programs keep the load
        above the core count (the OS alone can then keep the thread waiting), and never a visible
        freeze (150 ms) even there."""
        where = (
            f"the event loop stalled for {self.worst_ms:.0f} ms; "
            f"the GUI thread was busy {self.worst_busy_ms:.0f} ms; "
            f"{self.cores_busy:.1f} of {os.cpu_count()} cores busy with this process"
        )
        assert self.ticks > 10, "the stall meter never ran"
        assert self.worst_busy_ms <= goal_ms, where
        cores = os.cpu_count() or 1
        roomy = cores >= 4 and os.getloadavg()[0] <= cores
        assert self.worst_ms <= (goal_ms if roomy else 150.0), where + (
            "" if roomy else " on a machine without room (fewer than 4 cores, or loaded)"
        )


def test_the_stall_meter_fails_a_gui_thread_that_works_for_80_ms(qtbot: Any) -> None:
    """The strict (busy) part catches the window's own work, however loaded the machine is."""
    meter = StallMeter()
    meter.start()

    def work() -> None:
        end = time.thread_time() + 0.08
        while time.thread_time() < end:
            pass

    QTimer.singleShot(50, work)
    qtbot.wait(400)
    meter.stop()
    assert meter.worst_busy_ms >= 75
    with pytest.raises(AssertionError, match="busy"):
        meter.check()
    quiet = StallMeter()
    quiet.start()
    qtbot.wait(300)
    quiet.stop()
    assert quiet.worst_busy_ms < 50, "an idle loop passes"


def test_window_paints_before_any_heavy_library_is_imported_and_fills_in_after(data_dir: Path) -> None:
    """Nor before settings, chat history, the library panel: they load right after the first frame."""
    from desktop.services.chats import ChatStore

    store = ChatStore(data_dir / "chats.sqlite")
    store.create_chat("Kept from last time")
    store.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEARTH_DATA_DIR": str(data_dir)}
    script = f"HEAVY = {HEAVY!r}\nDEFERRED = {DEFERRED!r}\n" + FIRST_SHOW_SCRIPT
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert result == {
        "heavy": [],
        "deferred": [],
        "visible": True,
        "chats_listed": 1,
        "library_built": False,  # no library yet: the panel waits until it is opened
    }


@pytest.mark.slow
def test_real_answer_streams_without_stalling_the_window(
    qtbot: Any, make_window: Any, model_path: Path, cpu_plan: Any
) -> None:
    SettingsStore(data_dir() / "settings.json").update({"max_answer_tokens": 32, "temperature": 0.0})
    window = make_window(factory=real_factory(model_path, cpu_plan))
    chat = window.chat
    meter = StallMeter()
    flushes: list[float] = []
    chat.answer_started.connect(lambda h: h.tokens.connect(lambda _t: flushes.append(time.perf_counter())))
    meter.start()
    with qtbot.waitSignal(chat.answer_finished, timeout=60_000) as done:
        chat.ask("Name three colours of the rainbow.")
    meter.stop()
    assert done.args == ["succeeded"]
    answer = chat.view.messages()[-1]
    assert answer.text.strip()
    stored = chat.store.messages(chat.chat_id)[-1]
    assert stored.content == answer.text
    assert stored.meta["stats"]["completion_tokens"] > 1
    assert "tokens/s" in answer.toolTip()
    meter.check()
    if len(flushes) > 3:  # coalesced: flushes come at the runner's ~33 ms pace, not once per token
        gaps = sorted(b - a for a, b in itertools.pairwise(flushes))
        assert gaps[len(gaps) // 2] > 0.02


@pytest.mark.slow
def test_default_start_plans_and_loads_the_bundled_model(qtbot: Any, make_window: Any) -> None:
    """No factory: the real path (models.resolve_model → hardware probe → plan → LlamaRuntime)."""
    from desktop.ui.session import open_planned_runtime

    SettingsStore(data_dir() / "settings.json").update({"threads": 1, "context_size": 1024})
    window = make_window(factory=open_planned_runtime)
    model = window.session.model
    assert model is not None and model.backend == "cpu" and model.n_threads == 1
    assert model.reason
    assert window.picker.badge.text().startswith("CPU")
    assert model.reason in window.picker.badge.toolTip()
    qtbot.waitUntil(lambda: window.picker.combo.count() >= 3, timeout=10_000)  # bundled + separator + import
    assert "bundled" in window.picker.combo.itemText(0)

"""The window's costs: start-up time against a bare PySide6 window, and streaming speed against the engine.

1. time to first window ÷ a bare PySide6 window, same environment. Each run is a fresh
   interpreter (`python -c …`, offscreen Qt) timed by this process from launch to the line the
   child prints once its first frame is painted (a zero timer after the window's first paintEvent;
   Hearth's `first_shown` is emitted the same way). Hearth's child runs the app's own start in an empty data
   folder: the privacy guard, the single-instance claim, then `run_gui` (the theme, the session,
   the real MainWindow); only the model load and the first-start self-test, which follow the first
   frame, are switched off. Not timed: unlocking encrypted data (`unlock_at_start`), which is the
   keyring's or the user typing a passphrase. Median of N runs each, interleaved. Goal <= 1.5.
   The same two starts are also counted in instructions under valgrind, where it is installed
   (`startup_instructions`): the figure this machine's noise cannot move.
2. tokens/s shown in the window ÷ the engine's own tokens/s, same prompt, same seed, greedy:
   the engine alone is `LlamaRuntime.stream_chat` driven by `run_job` with nothing else in the
   process; the window's figure is the one its answer tooltip shows (the runtime's stats for the
   answer streamed through the JobRunner into the chat view, while the GUI repaints at ~30 Hz).
   Median of N answers each, interleaved. Goal >= 0.95. The rate the GUI itself observed (first
   to last flushed token) is given in the detail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

BARE = """
import os
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
class Window(QMainWindow):                      # timed as Hearth's window is: once its first paint
    painted = False                             # has been flushed (a zero timer after paintEvent)
    def paintEvent(self, event):
        super().paintEvent(event)
        if not self.painted:
            self.painted = True
            QTimer.singleShot(0, lambda: (print("SHOWN", flush=True), os._exit(0)))
w = Window()
w.resize(1100, 720)
w.show()
app.exec()
"""

HEARTH = """
import gc
import sys
gc.disable()                                    # as desktop/app.py starts: no cyclic collection
from desktop.services import privacy
privacy.install()
from desktop.services.paths import data_dir     # the order desktop/app.py runs in:
from desktop.ui import single_instance          # the claim on the data folder (one window per folder)
instance = single_instance.claim_or_hand_over(data_dir(), [])
from desktop.ui import main_window
from desktop.ui.session import Session
Session.load_model = lambda *a, **k: None       # the window, not the model load that follows it
Session.first_start_selftest = lambda *a, **k: None

class Probe(main_window.MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refresh_models = lambda: None
        self.first_shown.connect(self._probe)   # before run_gui's own first_shown handlers

    def _probe(self):
        from PySide6 import QtCore
        qt = "Qt" in vars(QtCore)               # did the first frame build Qt's namespace of enums?
        print("SHOWN", "qt-namespace" if qt else "", flush=True)
        import os
        os._exit(0)                             # what follows the first frame is not timed

main_window.MainWindow = Probe
main_window.FIRST_FRAME_WAIT_MS = 600_000       # the frame is waited for, however slow (valgrind)
sys.exit(main_window.run_gui([], instance=instance))   # the app's own start: theme, session, window
"""

_NOTES: set[str] = set()
PROMPT = "Explain in a few sentences why the sky is blue."


def _launch(script: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from launch to the child's SHOWN line, and the CPU seconds it used (it exits there)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            elapsed = time.perf_counter() - t0
            if "qt-namespace" in line:
                _NOTES.add("Qt's enum namespace was built before the first frame")
            break
    else:
        proc.wait()
        raise RuntimeError(f"child exited with {proc.returncode} before showing a window")
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here, for its CPU time
    return elapsed, usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _starts(**extra: str) -> Iterator[dict[str, str]]:
    """The environment both starts run in (offscreen Qt, an empty data folder, `extra`), after one
    untimed start of each: the OS file cache and the byte-code cache warm for both."""
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as pycache:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEARTH_DATA_DIR": data, **extra}
        # Byte-code cached as an installed app has it (pip compiles a wheel's .pyc at install), even
        # where PYTHONDONTWRITEBYTECODE is set; otherwise Hearth would pay to compile its own sources.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
        _launch(BARE, env)
        _launch(HEARTH, env)
        yield env


def startup_ratio(runs: int) -> dict[str, Any]:
    bare: list[tuple[float, float]] = []
    hearth: list[tuple[float, float]] = []
    order = ((bare, BARE), (hearth, HEARTH))
    with _starts() as env:
        for i in range(runs):  # which starts first alternates: on a shared VM the second of two
            for results, script in order if i % 2 == 0 else order[::-1]:  # starts runs faster
                results.append(_launch(script, env))
    b, h = (statistics.median(t for t, _cpu in runs_) for runs_ in (bare, hearth))
    cpu = statistics.median(c for _t, c in hearth) / statistics.median(c for _t, c in bare)
    ratio = h / b
    return {
        "name": "time to first window ÷ bare PySide6 window",
        "ratio": round(ratio, 3),
        "goal": "<= 1.5",
        "ok": ratio <= 1.5,
        "detail": f"Hearth {h * 1000:.0f} ms vs bare {b * 1000:.0f} ms (median of {runs} fresh processes"
        f", in CPU time {cpu:.2f})" + "".join(f"; {note}" for note in sorted(_NOTES)),
    }


def startup_instructions(valgrind: str | None = None) -> dict[str, Any] | None:
    """The same two starts counted in machine instructions (valgrind's callgrind), to the same
    line: a figure the shared machines' noise cannot move (a median of 21 wall-clock ratios moves by
    ±0.07 here from one run to the next). It leaves out what instructions do not show (waiting on
    the disk, cache misses). None where valgrind is not installed."""
    valgrind = valgrind or shutil.which("valgrind")
    if valgrind is None:
        return None
    counts = []
    with _starts(PYTHONHASHSEED="0") as env:  # the same dict layouts, the same count, run after run
        for script in (BARE, HEARTH):
            count = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
            out = subprocess.run(
                [*count, sys.executable, "-c", script],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            found = re.search(r"Collected : (\d+)", out.stderr)
            if "SHOWN" not in out.stdout or found is None:
                raise RuntimeError(f"no count under valgrind: {out.stderr[-2000:]}")
            counts.append(int(found.group(1)))
    bare, hearth = counts
    ratio = hearth / bare
    return {
        "name": "instructions to the first window ÷ a bare PySide6 window's",
        "ratio": round(ratio, 3),
        "goal": "<= 1.5",
        "ok": ratio <= 1.5,
        "detail": f"Hearth {hearth / 1e6:.0f} M vs bare {bare / 1e6:.0f} M instructions (callgrind)",
    }


def streaming_ratio(runs: int, max_tokens: int) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.core.chat import ChatRequest, GenerationParams, chat_job
    from desktop.core.jobs import run_job
    from desktop.core.settings import SettingsStore
    from desktop.core.types import ChatMessage, RuntimePlan
    from desktop.services.llm import LlamaRuntime
    from desktop.services.paths import default_model_path

    model = default_model_path()
    plan = RuntimePlan("cpu", 0, 1, 1, 2048, 512, "fits", "bench: one thread, 2048-token context")
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=1)
    app = QApplication.instance() or QApplication([])
    engine_rates, window_rates, observed = [], [], []
    with tempfile.TemporaryDirectory() as data:
        os.environ["HEARTH_DATA_DIR"] = data
        SettingsStore(Path(data) / "settings.json").update(
            {"max_answer_tokens": max_tokens, "temperature": 0.0, "system_prompt": ""}
        )
        from desktop.ui.main_window import MainWindow
        from desktop.ui.session import Session

        def factory(settings: Any, name: str) -> Any:
            return LlamaRuntime(model, plan), {
                "name": model.stem,
                "path": str(model),
                "backend": "cpu",
                "reason": plan.reason,
                "fit": "fits",
                "n_ctx": 2048,
                "n_threads": 1,
            }

        engine = LlamaRuntime(model, plan)
        engine.start()
        window = MainWindow(Session(open_runtime=factory))
        window.dialogs_enabled = False
        loop = QEventLoop()
        window.session.model_ready.connect(lambda _m: loop.quit())
        window.show()
        loop.exec()
        try:
            for _ in range(runs):
                request = ChatRequest((ChatMessage("user", PROMPT),), params)
                engine_rates.append(run_job(chat_job(engine, request)).stats.tokens_per_s)

                window.chat.new_chat()
                flushes: list[float] = []
                window.chat.answer_started.connect(
                    lambda h, f=flushes: h.tokens.connect(lambda _t, f=f: f.append(time.perf_counter()))
                )
                done = QEventLoop()
                window.chat.answer_finished.connect(done.quit)
                QTimer.singleShot(0, lambda: window.chat.ask(PROMPT))
                done.exec()
                window.chat.answer_finished.disconnect(done.quit)
                window.chat.answer_started.disconnect()
                assert window.chat.chat_id is not None  # the answer made its chat
                stored = window.chat.store.messages(window.chat.chat_id)[-1]
                stats = stored.meta["stats"]
                window_rates.append(float(stats["tokens_per_s"]))
                if len(flushes) > 1 and stats["completion_tokens"] > 1:
                    observed.append((stats["completion_tokens"] - 1) / (flushes[-1] - flushes[0]))
        finally:
            window.close()
            engine.close()
            app.processEvents()
    e, w = statistics.median(engine_rates), statistics.median(window_rates)
    ratio = w / e if e else 0.0
    seen = f", GUI-observed {statistics.median(observed):.0f} tok/s" if observed else ""
    return {
        "name": "tokens/s shown in the window ÷ engine's own tokens/s",
        "ratio": round(ratio, 3),
        "goal": ">= 0.95",
        "ok": ratio >= 0.95,
        "detail": f"window {w:.0f} tok/s vs engine {e:.0f} tok/s (median of {runs}, {max_tokens} tokens, "
        f"1 thread{seen})",
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    from desktop.services import privacy

    privacy.install()
    counted = None if quick else startup_instructions()
    return [
        startup_ratio(runs=3 if quick else 7),
        *([counted] if counted else []),
        streaming_ratio(runs=3 if quick else 5, max_tokens=64 if quick else 128),
    ]


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

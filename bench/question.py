"""A question in the window: Send → sources shown, ÷ the same evidence search run directly on the library.

The window asks through the same use case as `hearth ask` (services/tasks.answer); its evidence
search runs in one call on the index lane (LaneRetriever.gather), and the sources reach the chat
view through the JobRunner's ~30 Hz flush. The baseline is `rag.gather_evidence` on the same Library,
timed where it runs with the window open and idle (what `hearth ask` does before it shows sources),
and, for scale, `rag.retrieve` alone (the fused vector + keyword search, without the evidence
scoring and the gate). Each question is searched alone, then asked in the window, interleaved.

Same library (docugami 10-Q filings, real embedder), same questions, same process; the window is
offscreen Qt with the bundled model loaded (a question's sources come before any model work).
Median of the questions' times, each measured after one warm-up question. Goal: window ÷
gather ≤ 1.2.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from desktop.services import privacy

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docugami_sec10q" / "pdfs"
QUESTIONS = [
    "What was Apple's total net sales in the quarter ended July 1, 2023?",
    "How much did Amazon spend on technology and infrastructure?",
    "What were NVIDIA's data center revenues?",
    "What risks does Apple describe about supply chains?",
    "How many shares did Amazon repurchase?",
    "What was the gross margin percentage for Apple's products?",
]


def run(quick: bool = False) -> list[dict[str, Any]]:
    privacy.install()
    os.environ.setdefault("HEARTH_PASSPHRASE", "bench: a throwaway data folder")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    files = ["2023 Q3 AAPL.pdf"] if quick else ["2023 Q3 AAPL.pdf", "2023 Q1 AMZN.pdf", "2023 Q2 NVDA.pdf"]
    if not all((EVAL / f).is_file() for f in files):
        return [{"name": "question (skipped)", "ratio": None, "goal": "", "ok": True, "detail": f"no {EVAL}"}]
    data = Path(tempfile.mkdtemp(prefix="hearth-bench-question-"))
    old = os.environ.get("HEARTH_DATA_DIR")
    os.environ["HEARTH_DATA_DIR"] = str(data)
    try:
        return _measure(data, [EVAL / f for f in files], QUESTIONS[:3] if quick else QUESTIONS)
    finally:
        if old is None:
            os.environ.pop("HEARTH_DATA_DIR", None)
        else:
            os.environ["HEARTH_DATA_DIR"] = old
        shutil.rmtree(data, ignore_errors=True)


def _measure(data: Path, pdfs: list[Path], questions: list[str]) -> list[dict[str, Any]]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.core.events import Sources
    from desktop.core.rag import gather_evidence, retrieve
    from desktop.core.requests import answer_request
    from desktop.core.settings import SettingsStore
    from desktop.ui.main_window import MainWindow
    from desktop.ui.session import Session

    SettingsStore(data / "settings.json").update({"threads": 1, "max_answer_tokens": 32})
    app = QApplication.instance() or QApplication([])
    window = MainWindow(Session())
    window.dialogs_enabled = False
    window.show()

    def wait(signal: Any, timeout_s: float = 600) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        signal.disconnect(loop.quit)

    wait(window.session.model_ready)
    window.library.add(pdfs)
    wait(window.library.indexing_finished)
    collections = ("default",)
    window.library.set_asked(collections)
    window.chat.set_collections(collections)

    shown_at: list[float] = []

    def on_started(handle: Any) -> None:
        def on_event(ev: Any) -> None:
            if isinstance(ev, Sources) and len(shown_at) < n_asked[0]:
                shown_at.append(time.perf_counter())

        handle.progressed.connect(on_event)

    n_asked = [0]
    window.chat.answer_started.connect(on_started)
    settings = window.session.settings

    def search_alone(q: str) -> tuple[float, float]:
        """gather_evidence and retrieve, timed where they run (the index lane, on the window's own
        Library), with the window open and idle: the same work without the window's path."""

        def timed(lib: Any) -> tuple[float, float]:
            request = answer_request(q, collections, settings, n_ctx=8192, model_params=135_000_000)
            t0 = time.perf_counter()
            gather_evidence(lib, q, request, lib.embed_texts)
            t1 = time.perf_counter()
            retrieve(lib, q, collections, k=request.max_sources)
            return t1 - t0, time.perf_counter() - t1

        future = window.session.runner.call_between("index", lambda: timed(window.session.library_on_lane()))
        while not future.done():
            app.processEvents()
            time.sleep(0.005)
        return future.result()

    in_window: list[float] = []
    direct: list[float] = []
    fused: list[float] = []
    for i, q in enumerate([questions[0], *questions]):
        g, r = search_alone(q)  # interleaved with the window's ask of the same question
        window.chat.new_chat()
        window.chat.set_collections(collections)
        n_asked[0] += 1
        t0 = time.perf_counter()
        window.chat.ask(q)
        wait(window.chat.answer_finished)
        if i and len(shown_at) == n_asked[0]:
            in_window.append(shown_at[-1] - t0)
            direct.append(g)
            fused.append(r)
    window.close()
    app.processEvents()

    w, g, r = statistics.median(in_window), statistics.median(direct), statistics.median(fused)
    detail = (
        f"median over {len(in_window)} questions, {len(pdfs)} filings: Send→sources shown {w * 1000:.0f} ms; "
        f"gather_evidence alone {g * 1000:.0f} ms; retrieve alone {r * 1000:.0f} ms"
    )
    return [
        {"name": "Send → sources shown ÷ evidence search alone", "ratio": w / g, "goal": "<= 1.2",
         "ok": w / g <= 1.2, "detail": detail},
        {"name": "Send → sources shown ÷ retrieve() alone", "ratio": w / r, "goal": "(context)",
         "ok": True, "detail": detail},
    ]  # fmt: skip

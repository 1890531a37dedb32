"""Strict GUI tests: Qt warnings and leaked threads fail the test. Fake and real model factories."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.core.errors import AppError, Cancelled
from desktop.core.events import Event, Token
from desktop.core.jobs import CancelToken
from desktop.core.settings import SettingsStore
from desktop.core.types import ChatMessage, Completion, GenerationStats

# Messages from Qt itself that say nothing about Hearth (the offscreen platform's limits).
QT_LOG_IGNORE = [
    re.compile(r"This plugin does not support"),
    re.compile(r"propagateSizeHints"),
]


@pytest.fixture(autouse=True)
def _qt_warnings_fail(request: pytest.FixtureRequest) -> Iterator[None]:
    """A qWarning/qCritical during a test fails it (pytest-qt captures them in `qtlog`)."""
    if "qtlog" not in request.fixturenames:
        request.fixturenames.append("qtlog")
    qtlog = request.getfixturevalue("qtlog")
    yield
    bad = [
        r.message
        for r in qtlog.records
        if r.log_type_name in ("WARNING", "CRITICAL", "FATAL")
        and not any(p.search(r.message) for p in QT_LOG_IGNORE)
    ]
    if bad:
        pytest.fail("Qt warnings during the test:\n" + "\n".join(bad), pytrace=False)


@pytest.fixture(autouse=True)
def _selftest_already_ran(request: pytest.FixtureRequest, data_dir: Path) -> None:
    """The window runs the self-test on a data dir's first start; most tests are not about that
    (it loads an embedder for seconds), so their data dir says it already passed. A test that
    is about it asks for the `fresh_data_dir` marker."""
    if request.node.get_closest_marker("fresh_data_dir"):
        return
    from desktop.services.selftest import CheckResult, save_results

    save_results([CheckResult("stores", True, 0.0, "tests: pre-recorded")])


# Started once per process by a library and kept on purpose (tqdm's monitor, via sentence-transformers).
PROCESS_WIDE_THREADS = {"tqdm_monitor"}


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name not in PROCESS_WIDE_THREADS
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads leaked: {[t.name for t in leaked]}"


@pytest.fixture(autouse=True)
def _message_channel_reset() -> Iterator[None]:
    from desktop.ui import messages

    messages.set_sink(None)
    messages._buffer.clear()
    yield
    messages.set_sink(None)
    messages._buffer.clear()


class FakeRuntime:
    """Streams a scripted answer word by word, honouring cancel between words like the real one."""

    def __init__(self, answer: str = "Hello **there**, friend.", delay_s: float = 0.005) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.requests: list[tuple[ChatMessage, ...]] = []
        self.fail_with: Exception | None = None
        self.started = False
        self.closed = False

    def start(self) -> Any:
        from desktop.services.llm import RuntimeInfo

        self.started = True
        return RuntimeInfo("fake.gguf", "cpu", 2048, 0, 1, 1, True, 0.0, 0)

    def close(self) -> None:
        self.closed = True

    n_ctx = 2048

    def count_tokens(self, messages: Any) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)

    def count_text_tokens(self, texts: Any) -> list[int]:
        return [len(t.split()) for t in texts]

    def stream_chat(
        self, messages: Any, params: Any, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        self.requests.append(tuple(messages))
        if self.fail_with is not None:
            raise self.fail_with
        words = re.findall(r"\S+\s*", self.answer)
        for w in words:
            if cancel.cancelled:
                raise Cancelled()
            time.sleep(self.delay_s)
            yield Token(w)
        stats = GenerationStats(1, 0, len(words), 0.01, 0.1, 0.11, "cpu", "stop")
        return Completion(self.answer, stats)


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime()


def fake_factory(runtime: FakeRuntime) -> Callable[[SettingsStore, str], tuple[Any, dict[str, Any]]]:
    def factory(settings: SettingsStore, model: str) -> tuple[Any, dict[str, Any]]:
        if model == "broken":
            raise AppError("This file could not be loaded as a model.", "Pick another model.")
        return runtime, {
            "name": "fake-model",
            "path": "fake.gguf",
            "backend": "cpu",
            "reason": "tests: a scripted model",
            "fit": "fits",
            "n_ctx": 2048,
            "n_threads": 1,
        }

    return factory


@pytest.fixture
def make_window(qtbot: Any, fake_runtime: FakeRuntime) -> Iterator[Callable[..., Any]]:
    """Build a MainWindow on a fresh Session (fake model unless `factory` is given); closed after."""
    from desktop.ui.main_window import MainWindow
    from desktop.ui.session import Session

    windows: list[Any] = []

    def make(factory: Any = None, show: bool = True, wait_model: bool = True) -> Any:
        session = Session(open_runtime=factory or fake_factory(fake_runtime))
        window = MainWindow(session)
        window.dialogs_enabled = False
        qtbot.addWidget(window)
        windows.append(window)
        if show:
            if wait_model:
                with qtbot.waitSignal(session.model_ready, timeout=60_000):
                    window.show()
            else:
                window.show()
        return window

    yield make
    for w in windows:
        w.close()


def real_factory(model_path: Path, plan: Any) -> Callable[[SettingsStore, str], tuple[Any, dict[str, Any]]]:
    """The real LlamaRuntime on the tests' plan (1 thread, 2048 tokens)."""

    def factory(settings: SettingsStore, model: str) -> tuple[Any, dict[str, Any]]:
        from desktop.services.llm import LlamaRuntime

        return LlamaRuntime(model_path, plan), {
            "name": model_path.stem,
            "path": str(model_path),
            "backend": plan.backend,
            "reason": plan.reason,
            "fit": plan.fit,
            "n_ctx": plan.n_ctx,
            "n_threads": plan.n_threads,
        }

    return factory


PAGES = [
    "Solar panels on the community hall produced 42 megawatt hours in the first year. "
    "The village council paid for them with a grant from the regional energy fund.",
    "Battery storage was added in the second year. It shifts midday solar power into the evening, "
    "when the hall hosts concerts and the weekly market.",
    "Maintenance costs stayed below two thousand euros a year. The council plans a second array "
    "on the school roof, pending a survey of the roof structure.",
]


def write_pdf(path: Path, pages: list[str] = PAGES) -> Path:
    """A real PDF (reportlab) with one paragraph per page, wrapped to the page width."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 780
        for line in textwrap.wrap(text, 85):
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


@pytest.fixture
def report_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "village_energy.pdf")

"""JobRunner: lanes, coalesced tokens, handlers before start, cancel, replace, stale events, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import Any

import pytest

from desktop.core.errors import AppError, Cancelled, DocumentError
from desktop.core.events import Event, Notice, Progress, Token
from desktop.core.jobs import CancelToken
from desktop.ui.jobs import JobBug, JobRunner


@pytest.fixture
def runner(qtbot: Any) -> Any:
    r = JobRunner()
    yield r
    assert r.shutdown(timeout=5)


def test_tokens_are_coalesced_and_arrive_in_order_before_success(qtbot: Any, runner: JobRunner) -> None:
    def job(cancel: CancelToken) -> Generator[Event, None, str]:
        for i in range(300):
            yield Token(f"{i} ")
            if i % 50 == 0:
                time.sleep(0.04)  # a few pauses so the timer flushes mid-stream
        return "done"

    handle = runner.create("llm", job)
    chunks: list[str] = []
    handle.tokens.connect(chunks.append)
    with qtbot.waitSignal(handle.succeeded, timeout=10_000) as result:
        handle.start()
    assert result.args == ["done"]
    assert "".join(chunks) == "".join(f"{i} " for i in range(300))
    assert 1 < len(chunks) < 60, "300 tokens should reach the GUI in a few flushes, not one signal each"


def test_a_job_that_fails_at_once_still_reaches_its_handler(qtbot: Any, runner: JobRunner) -> None:
    def job(cancel: CancelToken) -> Generator[Event, None, None]:
        raise DocumentError("This PDF is password-protected.", "Open it and save a copy.", reason="encrypted")
        yield

    handle = runner.create("io", job)
    with qtbot.waitSignal(handle.failed, timeout=5000) as failed:
        handle.start()
    error = failed.args[0]
    assert isinstance(error, DocumentError) and error.reason == "encrypted"


def test_a_bug_in_a_job_becomes_a_jobbug_with_the_traceback(qtbot: Any, runner: JobRunner) -> None:
    def job(cancel: CancelToken) -> Generator[Event, None, None]:
        yield Progress(0, 1)
        {}["missing"]  # the bug under test

    with qtbot.waitSignal(runner.busy_changed, timeout=5000, check_params_cb=lambda busy: not busy):
        handle = runner.submit("io", job, on_failed=lambda e: setattr(handle, "error", e))
    assert isinstance(handle.error, JobBug)
    assert "KeyError" in handle.error.details and "test_jobs.py" in handle.error.details


def test_cancel_stops_the_job_and_drops_its_late_events(qtbot: Any, runner: JobRunner) -> None:
    started = threading.Event()

    def job(cancel: CancelToken) -> Generator[Event, None, str]:
        started.set()
        while True:  # a job that keeps yielding until it notices the token
            yield Token("x")
            time.sleep(0.002)
            if cancel.cancelled:
                yield Token("after cancel")  # must never reach the GUI
                raise Cancelled()

    handle = runner.create("llm", job)
    seen: list[str] = []
    handle.tokens.connect(seen.append)
    succeeded: list[Any] = []
    handle.succeeded.connect(succeeded.append)
    handle.start()
    assert started.wait(5)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    with qtbot.waitSignal(handle.cancelled, timeout=5000):
        handle.cancel()
    assert "after cancel" not in "".join(seen)
    assert not succeeded


def test_a_new_job_with_the_same_key_cancels_the_running_one(qtbot: Any, runner: JobRunner) -> None:
    def slow(cancel: CancelToken) -> Generator[Event, None, str]:
        while not cancel.cancelled:
            time.sleep(0.005)
            yield Token(".")
        raise Cancelled()

    def quick(cancel: CancelToken) -> Generator[Event, None, str]:
        yield Notice("second")
        return "second answer"

    first = runner.create("llm", slow, replaces="answer")
    first_cancelled: list[bool] = []
    first.cancelled.connect(lambda: first_cancelled.append(True))
    first.start()
    second = runner.create("llm", quick, replaces="answer")
    with qtbot.waitSignal(second.succeeded, timeout=5000) as result:
        second.start()
    assert result.args == ["second answer"]
    assert first_cancelled == [True]
    assert runner.running("answer") is None


def test_llm_lane_runs_jobs_one_at_a_time_on_its_own_thread(qtbot: Any, runner: JobRunner) -> None:
    log: list[tuple[str, str]] = []

    def job(name: str) -> Any:
        def run(cancel: CancelToken) -> Generator[Event, None, str]:
            log.append(("start", threading.current_thread().name))
            time.sleep(0.05)
            log.append(("end", name))
            return name
            yield

        return run

    a = runner.create("llm", job("a"))
    b = runner.create("llm", job("b"))
    a.start()
    with qtbot.waitSignal(b.succeeded, timeout=5000):
        b.start()
    assert [e[0] for e in log] == ["start", "end", "start", "end"]
    assert {name for kind, name in log if kind == "start"} == {"hearth-llm-0"}
    assert threading.current_thread() is threading.main_thread()


def test_progress_keeps_only_the_newest_between_flushes(qtbot: Any, runner: JobRunner) -> None:
    def job(cancel: CancelToken) -> Generator[Event, None, None]:
        for i in range(1, 1001):
            yield Progress(i, 1000, "pages")

    handle = runner.create("io", job)
    got: list[Progress] = []
    handle.progressed.connect(got.append)
    with qtbot.waitSignal(handle.finished, timeout=5000):
        handle.start()
    assert got[-1].done == 1000
    assert len(got) < 100


def test_app_errors_raised_by_call_are_reported(qtbot: Any, runner: JobRunner) -> None:
    def boom() -> None:
        raise AppError("Nope.", "Try again.")

    errors: list[Any] = []
    with qtbot.waitSignal(runner.busy_changed, timeout=5000, check_params_cb=lambda busy: not busy):
        runner.call("io", boom, on_failed=errors.append)
    assert isinstance(errors[0], AppError) and errors[0].hint == "Try again."


def test_lanes_start_their_threads_with_their_first_work_and_shutdown_ends_them(qtbot: Any) -> None:
    r = JobRunner()
    assert r.threads() == []  # none before the first frame: the window is built before any work
    for lane in ("llm", "index", "io"):
        with qtbot.waitSignal(r.busy_changed, timeout=5000, check_params_cb=lambda busy: not busy):
            r.call(lane, lambda: None)  # type: ignore[arg-type]
    threads = r.threads()
    assert {t.name for t in threads} == {"hearth-llm-0", "hearth-index-0", "hearth-io-0", "hearth-io-1"}
    assert r.shutdown(timeout=5)
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError):
        r.create("io", lambda c: iter(())).start()  # type: ignore[arg-type,return-value]


def test_quitting_does_not_wait_for_work_that_cannot_stop(qtbot: Any) -> None:
    """Issue 8: quitting took 5–9 s while the embedder loaded on a lane (a load cannot be
    interrupted). Shutdown waits one bounded time for all the lanes together, then leaves such
    work to end with the process, and says which lanes it left."""
    from desktop.ui.session import QUIT_WAIT_S, Session

    release = threading.Event()

    def uninterruptible() -> None:
        release.wait(30)  # like loading a model: no cancel check inside

    session = Session()
    for lane in ("index", "io", "io"):
        session.runner.call(lane, uninterruptible)  # type: ignore[arg-type]
    qtbot.wait(100)
    closed = threading.Event()
    session.library = library = _Closable(closed)  # type: ignore[assignment]
    t0 = time.monotonic()
    session.close()
    took = time.monotonic() - t0
    try:
        assert took < QUIT_WAIT_S + 1.0, took  # one wait for every lane, not one per busy thread
        assert sorted(session.runner.busy_lanes()) == ["index", "io"]
        assert not closed.is_set(), "the index lane may still be using the library: it is left alone"
        assert session.library is library
    finally:
        release.set()
        for t in session.runner.threads():  # they end now; the session outlives them
            t.join(5)


class _Closable:
    def __init__(self, closed: threading.Event) -> None:
        self._closed = closed

    def close(self) -> None:
        self._closed.set()


def test_the_model_check_runs_when_idle_and_a_question_cancels_it(
    qtbot: Any, make_window: Any, fake_runtime: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The faithfulness check (services/model_check.py) never delays an answer: the window runs it
    after the model loads, as the "answer" job, and the first question cancels it."""
    from desktop.services import model_check

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("HEARTH_MODEL_CHECKS", str(tmp_path / "checks.json"))
    fake_runtime.model_path = str(gguf)
    fake_runtime.delay_s = 0.05  # a check that takes a while
    window = make_window()
    qtbot.waitUntil(lambda: window.session.runner.running("answer") is not None, timeout=10_000)
    check = window.session.runner.running("answer")
    assert check is not None and check.name == "model check"
    with qtbot.waitSignal(window.chat.answer_finished, timeout=20_000) as done:
        window.chat.ask("Hello?")
    assert done.args == ["succeeded"] and check.done
    assert model_check.cached_verdict(gguf) is None  # cancelled, so not kept: tried again next load

"""JobRunner: runs core jobs on lanes (worker threads) and re-emits their events as Qt signals.

Lanes, one owner per resource that is not thread-safe (DESIGN.md §2):
    llm    one thread; the only one that touches the LlamaRuntime
    index  one thread; the only one that touches Chroma and the embedder
    io     a small pool; PDF extraction, hardware probe, file work

Workers never touch a Qt object. They append what a job yields to its handle's queue (tokens
merged into one string, a newer Progress replacing an older one); a timer on the GUI thread
drains the queues about 30 times a second, so a 130 tok/s stream costs ~30 model updates a second,
not 130. Everything a handle emits arrives on the GUI thread.

Usage — connect first, then start (a fast job's failure is otherwise lost):

    handle = runner.create("llm", chat_job(runtime, request), name="answer", replaces="answer")
    handle.tokens.connect(view.append_text)
    handle.failed.connect(view.show_error)
    handle.start()

Cancel is cooperative: `handle.cancel()` sets the job's CancelToken; the job stops at its next
check (the next token, page or batch). From that moment the handle drops every event still in
flight (a stale job) and ends with `cancelled`, whatever the job's last word was. Starting a job
with the same `replaces` key cancels the one before it: a new question stops the old answer.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Generator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop.core.errors import AppError, Cancelled
from desktop.core.jobs import CancelToken, run_job
from desktop.ui.qtcompat import emit

log = logging.getLogger("desktop.ui.jobs")

LaneName = Literal["llm", "index", "io"]
if TYPE_CHECKING:
    from concurrent.futures import Future

    from desktop.core.events import Event

LANE_WORKERS: dict[str, int] = {"llm": 1, "index": 1, "io": 2}
FLUSH_INTERVAL_MS = 33  # ~30 flushes a second: smooth to the eye, cheap for the GUI thread

JobFn = Callable[[CancelToken], Generator["Event", None, Any]]
_ids = itertools.count(1)


class JobBug(Exception):
    """A job raised something that is not an AppError: a bug. Carries the formatted traceback."""

    def __init__(self, error: BaseException, details: str) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.details = details


class JobHandle(QObject):
    """One job on one lane. Every signal is emitted on the GUI thread, in the order the job yielded.

    Signals (payload — when):
        tokens(str)       streamed text merged since the last flush (Token events), ≤ ~30 Hz
        progressed(object) a Progress (only the newest since the last flush), Sources or Notice
        succeeded(object) the job's return value
        failed(object)    an AppError (expected: show it inline with its hint) or a JobBug
        cancelled()       the job was cancelled (or replaced) and has stopped
        finished()        after exactly one of succeeded / failed / cancelled
    """

    tokens = Signal(str)
    progressed = Signal(object)  # not `event`: that name is QObject.event(), Qt's event handler
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, runner: JobRunner, lane: str, job: JobFn, name: str, replaces: str | None) -> None:
        super().__init__(runner)
        self.id = next(_ids)
        self.lane = lane
        self.name = name
        self.replaces = replaces
        self.token = CancelToken()
        self._runner = runner
        self._job = job
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, Any]] = deque()
        self._state = "new"  # new → queued → done

    # -- GUI thread

    def start(self) -> JobHandle:
        if self._state != "new":
            raise RuntimeError(f"job {self.name!r} was already started")
        self._state = "queued"
        self._runner._enqueue(self)
        return self

    def cancel(self) -> None:
        """Ask the job to stop; from now on its events are dropped and it ends with `cancelled`."""
        self.token.cancel()

    @property
    def done(self) -> bool:
        return self._state == "done"

    @property
    def stale(self) -> bool:
        return self.token.cancelled

    def _drain(self) -> bool:
        """Emit what the worker queued. Returns True once the job has ended."""
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
        for kind, payload in items:
            if kind == "end":
                self._end(*payload)
                return True
            if self.stale:
                continue  # a cancelled job's late events would show in the wrong place
            if kind == "tokens":
                emit(self.tokens, payload)
            else:
                emit(self.progressed, payload)
        return False

    def _end(self, outcome: str, value: Any) -> None:
        self._state = "done"
        if self.stale or outcome == "cancelled":
            emit(self.cancelled)
        elif outcome == "succeeded":
            emit(self.succeeded, value)
        else:
            emit(self.failed, value)
        emit(self.finished)

    # -- worker thread

    def _push(self, event: Event, events: ModuleType) -> None:
        """`events`: desktop.core.events, imported once per job by `_run` (not per event)."""
        with self._lock:
            last = self._pending[-1] if self._pending else None
            if isinstance(event, events.Token):
                if last is not None and last[0] == "tokens":
                    self._pending[-1] = ("tokens", last[1] + event.text)
                else:
                    self._pending.append(("tokens", event.text))
            elif (
                isinstance(event, events.Progress)
                and last is not None
                and isinstance(last[1], events.Progress)
                and getattr(last[1], "path", "") == getattr(event, "path", "")
            ):
                # Only the newest progress is worth drawing; but the first word about another file
                # (FileProgress.path) is kept, so the window sees where each file's progress began.
                self._pending[-1] = ("event", event)
            else:
                self._pending.append(("event", event))

    def _run(self, between: Callable[[], None] = lambda: None) -> None:
        if self.token.cancelled:
            self._finish("cancelled", None)
            return

        from desktop.core import events  # loaded by the first job, not before the first frame

        def step(event: Event) -> None:
            self._push(event, events)
            between()  # the lane's quick calls (a question's search) run between this job's steps

        try:
            result = run_job(self._job, step, self.token)
        except Cancelled:
            self._finish("cancelled", None)
        except AppError as exc:
            log.info("job %s failed: %s", self.name, exc)
            self._finish("failed", exc)
        except Exception as exc:
            details = traceback.format_exc()
            log.error("job %s raised a bug:\n%s", self.name, details)
            self._finish("failed", JobBug(exc, details))
        else:
            self._finish("succeeded", result)

    def _finish(self, outcome: str, value: Any) -> None:
        with self._lock:
            self._pending.append(("end", (outcome, value)))
        if self._runner.closed:  # a job that outlived the quit: nobody is listening, and the
            return  # runner's Qt object may already be gone with its window
        emit(self._runner._wake)  # queued to the GUI thread: report the end without waiting a tick


class _Lane:
    """Worker threads fed by one queue. A lane with one worker runs its jobs strictly in order.

    `call_between(fn)` runs a quick function on the lane's thread as soon as it can: at once when
    the lane is idle, else between two events of the job it is running (a long indexing job
    yields after every batch). So a question's search gets the index lane within one batch, and
    Chroma and the embedder are still touched by one thread only.
    """

    _WAKE = object()

    def __init__(self, name: str, workers: int) -> None:
        import queue  # with the first lane, when the first work comes: not before the first frame

        self.name = name
        self._queue: queue.Queue[Any] = queue.Queue()
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._empty = queue.Empty
        self._threads = [
            threading.Thread(target=self._loop, name=f"hearth-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def put(self, handle: JobHandle) -> None:
        self._queue.put(handle)

    def call_between(self, fn: Callable[[], Any]) -> Future[Any]:
        from concurrent.futures import Future

        future: Future[Any] = Future()
        self._calls.put((fn, future))
        self._queue.put(self._WAKE)  # an idle worker wakes for it; a busy one finds it between events
        return future

    def _run_calls(self) -> None:
        while True:
            try:
                fn, future = self._calls.get_nowait()
            except self._empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._run_calls()
                return
            if item is self._WAKE:
                self._run_calls()
                continue
            self._run_calls()
            item._run(self._run_calls)

    def stop(self, deadline: float) -> bool:
        """Ask the threads to end and wait for them until `deadline` (time.monotonic())."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)


class JobRunner(QObject):
    """Owns the lanes and the flush timer. Create on the GUI thread; call `shutdown()` before quitting.

    Signals:
        busy_changed(bool)  GUI thread; True when the first job starts, False when the last ends
    """

    busy_changed = Signal(bool)
    _wake = Signal()  # emitted by workers; queued onto the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # A lane, its queue and its threads are made with its first work: none before the first frame.
        self._lanes: dict[str, _Lane] = {}
        self._lanes_lock = threading.Lock()  # call_between comes from any thread
        self._active: dict[int, JobHandle] = {}
        self._by_key: dict[str, JobHandle] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self._flush)
        self._wake.connect(self._flush)
        self._closed = False

    def create(self, lane: LaneName, job: JobFn, name: str = "job", replaces: str | None = None) -> JobHandle:
        """A handle for `job`, not yet started: connect its signals, then call `start()`."""
        if lane not in LANE_WORKERS:
            raise ValueError(f"unknown lane {lane!r}")
        return JobHandle(self, lane, job, name, replaces)

    def submit(
        self,
        lane: LaneName,
        job: JobFn,
        *,
        name: str = "job",
        replaces: str | None = None,
        on_tokens: Callable[[str], Any] | None = None,
        on_event: Callable[[Any], Any] | None = None,
        on_succeeded: Callable[[Any], Any] | None = None,
        on_failed: Callable[[Any], Any] | None = None,
        on_cancelled: Callable[[], Any] | None = None,
    ) -> JobHandle:
        """Create, connect the given handlers, then start: the order that loses nothing."""
        handle = self.create(lane, job, name, replaces)
        for signal, slot in (
            (handle.tokens, on_tokens),
            (handle.progressed, on_event),
            (handle.succeeded, on_succeeded),
            (handle.failed, on_failed),
            (handle.cancelled, on_cancelled),
        ):
            if slot is not None:
                signal.connect(slot)
        return handle.start()

    def call(self, lane: LaneName, fn: Callable[[], Any], **handlers: Any) -> JobHandle:
        """Run a plain function on a lane as a job without events (loading, probing …)."""

        def job(cancel: CancelToken) -> Generator[Event, None, Any]:
            cancel.raise_if_cancelled()
            return fn()
            yield  # makes this a generator

        return self.submit(lane, job, name=getattr(fn, "__name__", "call"), **handlers)

    def call_between(self, lane: LaneName, fn: Callable[[], Any]) -> Future[Any]:
        """Run a quick `fn` on `lane`'s thread, between the steps of whatever runs there; from any thread."""
        return self._lane(lane).call_between(fn)

    def running(self, key: str) -> JobHandle | None:
        """The unfinished job started with `replaces=key`, if any."""
        handle = self._by_key.get(key)
        return handle if handle is not None and not handle.done else None

    @property
    def busy(self) -> bool:
        return bool(self._active)

    @property
    def closed(self) -> bool:
        """Shut down (the window is closing): late signals must not start work."""
        return self._closed

    def _enqueue(self, handle: JobHandle) -> None:
        if self._closed:
            raise RuntimeError("the job runner is shut down")
        if handle.replaces:
            previous = self._by_key.get(handle.replaces)
            if previous is not None and not previous.done:
                previous.cancel()
            self._by_key[handle.replaces] = handle
        was_idle = not self._active
        self._active[handle.id] = handle
        if not self._timer.isActive():
            self._timer.start()
        self._lane(handle.lane).put(handle)
        if was_idle:
            emit(self.busy_changed, True)

    @Slot()
    def _flush(self) -> None:
        for handle in list(self._active.values()):
            if handle._drain():
                self._active.pop(handle.id, None)
                if handle.replaces and self._by_key.get(handle.replaces) is handle:
                    del self._by_key[handle.replaces]
        if not self._active and self._timer.isActive():
            self._timer.stop()
            emit(self.busy_changed, False)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel every job and stop the lanes' threads. True when every thread has ended."""
        self._closed = True
        running = [h.name for h in self._active.values()]
        for handle in list(self._active.values()):
            handle.cancel()
        deadline = time.monotonic() + timeout  # one wait for all the lanes, not one each
        with self._lanes_lock:
            lanes = list(self._lanes.values())
        ok = all([lane.stop(deadline) for lane in lanes])
        self._flush()  # deliver the ends, so every handle emits `finished`
        self._timer.stop()
        if not ok:
            busy = self.busy_lanes()
            log.info("lanes %s busy after %.1fs (jobs %s), left to the exit", busy, timeout, running)
        return ok

    def _lane(self, name: str) -> _Lane:
        with self._lanes_lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = _Lane(name, LANE_WORKERS[name])
            return lane

    def busy_lanes(self) -> list[str]:
        """The lanes whose threads are still running (after `shutdown`: work that could not stop)."""
        return [name for name, lane in self._lanes.items() if any(t.is_alive() for t in lane._threads)]

    def threads(self) -> list[threading.Thread]:
        """The lanes' threads (a lane is made, and starts its threads, with its first work)."""
        return [t for lane in self._lanes.values() for t in lane._threads]

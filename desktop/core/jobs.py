"""Jobs: generators over an immutable request that yield events and return a result.

A job (`Job[R]`) is `Callable[[CancelToken], Generator[Event, None, R]]`. It checks its token
between units of work (tokens, pages, batches) and raises `Cancelled` when asked to stop.
The CLI drives a job with `run_job`; the GUI hands it to a lane of `ui/jobs.py`; both loops are
`drive`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from desktop.core.errors import Cancelled

if TYPE_CHECKING:  # a name in annotations only: the window's first frame never loads the events
    from desktop.core.events import Event

R = TypeVar("R")

JobGen = Generator["Event", None, R]  # what a job returns when called


class CancelToken:
    """Cooperative cancellation, safe to set from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for cb in callbacks:
            cb()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the cancelling thread) when cancel() happens; at once if it has."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


# A job: given its token, a generator of events that returns the result. Core use cases return one
# (`summarize_job`, `ask_job` …), the CLI runs it with `run_job`, the window on a lane of ui/jobs.py.
Job = Callable[[CancelToken], JobGen[R]]


def drive(gen: Generator[Event, None, R], on_event: Callable[[Event], Any] | None = None) -> R:
    """Run a generator of events to its end on this thread, passing each event to `on_event`;
    its return value is the result. The one loop every front end runs a job with."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


def run_job(
    job: Job[R], on_event: Callable[[Event], Any] | None = None, cancel: CancelToken | None = None
) -> R:
    """Drive a job to its end on this thread, passing each event to `on_event`."""
    return drive(job(cancel or CancelToken()), on_event)

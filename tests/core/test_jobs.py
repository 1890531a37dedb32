from __future__ import annotations

import threading
from collections.abc import Generator

import pytest

from desktop.core.errors import Cancelled
from desktop.core.events import Event, Progress
from desktop.core.jobs import CancelToken, run_job


def counting_job(n: int):  # type: ignore[no-untyped-def]
    def job(cancel: CancelToken) -> Generator[Event, None, int]:
        for i in range(n):
            cancel.raise_if_cancelled()
            yield Progress(i + 1, n)
        return n

    return job


def test_run_job_passes_events_and_returns_the_result() -> None:
    events: list[Event] = []
    assert run_job(counting_job(3), events.append) == 3
    assert [e.done for e in events if isinstance(e, Progress)] == [1, 2, 3]


def test_cancel_between_units_raises_cancelled() -> None:
    token = CancelToken()
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(counting_job(10), on_event, token)
    assert len(seen) == 2


def test_cancel_callbacks_run_once_even_when_registered_late() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.on_cancel(lambda: calls.append("early"))
    canceller = threading.Thread(target=token.cancel)
    canceller.start()
    assert token.wait(2)
    canceller.join(2)
    token.cancel()  # a second cancel does nothing more
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["early", "late"]


def test_progress_fraction_is_bounded() -> None:
    assert Progress(5, 0).fraction == 0.0
    assert Progress(7, 5).fraction == 1.0


def test_time_left_counts_down_and_does_not_jump_with_each_estimate() -> None:
    """The issue's summary: raw estimates 51 → 97 → 78 s, ten seconds apart."""
    from desktop.core.events import EtaSmoother

    eta = EtaSmoother()
    assert eta.update(None, 0.0) is None
    shown = [eta.update(51.0, 0.0), eta.update(97.0, 10.0), eta.update(78.0, 20.0)]
    assert shown[0] == 51.0
    assert all(s is not None for s in shown)
    assert max(shown) - min(shown) < 15, shown  # not 51 → 97 → 78
    assert eta.update(None, 25.0) == pytest.approx(shown[-1] - 5.0)  # counts down between estimates
    assert eta.update(400.0, 26.0) == 400.0  # far more work found: taken as it is


def test_time_left_reads_in_seconds_then_minutes() -> None:
    from desktop.core.events import format_eta

    assert format_eta(40.4) == "40 s"
    assert format_eta(89) == "89 s"
    assert format_eta(300) == "5 min"


def test_drive_runs_a_generator_to_its_result() -> None:
    from desktop.core.jobs import drive

    def gen() -> Generator[Event, None, str]:
        yield Progress(1, 2)
        yield Progress(2, 2)
        return "done"

    seen: list[Event] = []
    assert drive(gen(), seen.append) == "done"
    assert seen == [Progress(1, 2), Progress(2, 2)]
    assert drive(gen()) == "done"

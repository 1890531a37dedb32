"""One Qt-free channel for messages to the user; it buffers until the window registers a sink.

Anything (a job handler, the excepthook, start-up code before the window exists) calls
`info()`, `warning()`, `error()` or `bug()`; the window calls `set_sink()` once it can show them,
and receives what was buffered first. Safe from any thread: the sink is called on the caller's
thread, so the window's sink must hop to the GUI thread itself (it does, through a queued signal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal, NamedTuple

from desktop.core.errors import AppError

log = logging.getLogger("desktop.ui")

Level = Literal["info", "warning", "error", "bug"]


class UserMessage(NamedTuple):
    """(A NamedTuple rather than a frozen dataclass: ~2 ms less on the path to the first frame.)"""

    level: Level
    text: str
    hint: str = ""
    details: str = ""  # for bugs: the traceback, shown behind "copy details"


Sink = Callable[[UserMessage], None]

_lock = threading.Lock()
_sink: Sink | None = None
_buffer: list[UserMessage] = []
_BUFFER_MAX = 200  # a flood before the window exists must not grow without bound


def set_sink(sink: Sink | None) -> None:
    """Deliver messages to `sink` from now on, starting with the ones buffered so far."""
    global _sink
    with _lock:
        _sink = sink
        pending = list(_buffer) if sink is not None else []
        if sink is not None:
            _buffer.clear()
    for message in pending:
        sink(message)  # type: ignore[misc]


def post(message: UserMessage) -> None:
    with _lock:
        sink = _sink
        if sink is None:
            if len(_buffer) < _BUFFER_MAX:
                _buffer.append(message)
            return
    sink(message)


def info(text: str, hint: str = "") -> None:
    post(UserMessage("info", text, hint))


def warning(text: str, hint: str = "") -> None:
    post(UserMessage("warning", text, hint))


def error(text: str, hint: str = "") -> None:
    post(UserMessage("error", text, hint))


def app_error(exc: AppError) -> None:
    post(UserMessage("error", exc.user_message, exc.hint, exc.detail))


def bug(text: str, details: str) -> None:
    log.error("%s\n%s", text, details)
    post(UserMessage("bug", text, "Hearth keeps running. Copy the details if you report it.", details))


def pending() -> list[UserMessage]:
    """What is waiting for a window (tests and the window's start-up use it)."""
    with _lock:
        return list(_buffer)

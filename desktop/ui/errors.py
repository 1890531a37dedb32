"""Bugs reach the user as a dialog with copyable details; the app keeps running.

`install_excepthooks()` routes uncaught exceptions from the GUI thread (sys.excepthook, which Qt
calls for exceptions escaping slots) and from other threads (threading.excepthook) to the message
channel, which the window shows with `BugDialog` (desktop/ui/bug_dialog.py, loaded when a bug is
shown: the hooks are installed before the first frame, and need no widget).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

from desktop.ui import messages

log = logging.getLogger("desktop.ui")


def _report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str) -> None:
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    messages.bug(f"Something went wrong {where}: {exc_type.__name__}.", details)


def install_excepthooks() -> tuple[Any, Any]:
    """Install the hooks; returns the previous ones so a test can put them back."""
    previous = (sys.excepthook, threading.excepthook)

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous[0](exc_type, exc, tb)
            return
        _report(exc_type, exc, tb, "in the window")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a worker"
        _report(args.exc_type, args.exc_value, args.exc_traceback, f"in {name}")

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return previous


def restore_excepthooks(previous: tuple[Any, Any]) -> None:
    sys.excepthook, threading.excepthook = previous

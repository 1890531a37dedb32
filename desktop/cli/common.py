"""Small pieces every subcommand shares: settings, JSON output, a progress line."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from desktop.core.events import Event, Notice, Progress, format_eta
from desktop.core.settings import SettingsStore
from desktop.core.terminal import inline, visible
from desktop.services.paths import data_dir

if TYPE_CHECKING:
    from desktop.services.database import PassphraseRequest


def open_settings() -> SettingsStore:
    from desktop.services import policy

    store = SettingsStore(data_dir() / "settings.json")
    policy.apply(store)  # what an administrator's policy pins reads as pinned, and cannot be set
    for problem in store.problems:
        print(f"hearth: settings: {problem}", file=sys.stderr)
    return store


class SafeStream:
    """A text stream for the terminal that shows control characters instead of obeying them.

    `hearth` wraps stdout and stderr in it at start, so no file name, GGUF metadata, PDF text or
    model output can clear the screen, retitle the terminal or split a row. Only Hearth's own
    progress line writes control characters (\r), through `raw`.
    """

    def __init__(self, stream: TextIO) -> None:
        self.raw = stream

    def write(self, text: str) -> int:
        from desktop.core.terminal import visible

        self.raw.write(visible(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


@contextlib.contextmanager
def safe_streams() -> Iterator[None]:
    """stdout and stderr wrapped in SafeStream for the duration (the originals are put back)."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """JSON for scripts: valid, readable (UTF-8 kept), and terminal-safe (JSON escapes C0 controls
    itself; C1 controls and bidi overrides become \\uXXXX escapes here, still valid JSON)."""
    from desktop.core.terminal import json_safe

    out = stream or sys.stdout
    raw = out.raw if isinstance(out, SafeStream) else out
    raw.write(json_safe(json.dumps(value, indent=2, ensure_ascii=False, default=str)) + "\n")


class ProgressLine:
    """A one-line progress bar on stderr (only when stderr is a terminal), at most ~10 redraws/s."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        stream = stream or sys.stderr
        # The bar itself uses \r; everything it shows of a file (the label) is made safe here.
        self.stream: TextIO = stream.raw if isinstance(stream, SafeStream) else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.clear()
            print(f"hearth: {visible(event.message)}", file=self.stream)
        elif isinstance(event, Progress) and self.enabled:
            now = time.monotonic()
            if now - self._last < 0.1 and event.done < event.total:
                return
            self._last = now
            width = 28
            filled = int(width * event.fraction)
            eta = f" ~{format_eta(event.eta_s)} left" if event.eta_s else ""
            unit = f" {event.unit}" if event.unit else ""
            label = inline(event.label)[-40:]
            line = f"\r[{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total}{unit}{eta} {label}"
            self.stream.write(line.ljust(100)[:100])
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
            self._shown = False


def use_terminal_for_unlock() -> None:
    """Stores opened by any subcommand ask for the passphrase here (when stdin is a terminal) and
    show the one-time encryption of plain stores as a progress line on stderr."""
    from desktop.services import database

    database.use_prompt(terminal_passphrase if sys.stdin.isatty() else None)
    line = ProgressLine()
    told: set[str] = set()

    def progress(event: Progress) -> None:
        name = event.label.split(" ", 1)[-1]
        if name not in told:  # said once, on a terminal or not: why this start takes longer
            told.add(name)
            print(f"hearth: {event.label} ({event.total} MB)…", file=line.stream)
        line(event)
        if event.done >= event.total:
            line.clear()

    database.use_progress(progress)


def terminal_passphrase(request: PassphraseRequest, stream: TextIO | None = None) -> str | None:
    """Ask for the data passphrase with getpass (not echoed); a new one is typed twice. None: gave up."""
    out = stream or sys.stderr
    if request.retry:
        print(f"hearth: {request.retry}", file=out)
    try:
        if request.recovery:
            return getpass.getpass("Recovery passphrase for Hearth's data: ") or None
        if not request.new:
            return getpass.getpass("Passphrase for Hearth's data: ") or None
        print(
            "hearth: there is no keyring on this computer, so Hearth encrypts your chats and library "
            "with a passphrase. Choose one (at least 8 characters); without it the data cannot be read. "
            "To store without encryption instead, press Ctrl-C and run: hearth storage plain",
            file=out,
        )
        for _ in range(3):
            first = getpass.getpass("New passphrase: ")
            if not first:
                return None
            if getpass.getpass("Type it again: ") == first:
                return first
            print("hearth: the two did not match; again.", file=out)
    except (EOFError, KeyboardInterrupt):
        print("", file=out)
    return None

"""Small pieces every subcommand shares: settings, JSON output, a progress line."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from desktop.core.events import Event, Notice, Progress
from desktop.core.settings import SettingsStore
from desktop.services.paths import data_dir


def open_settings() -> SettingsStore:
    store = SettingsStore(data_dir() / "settings.json")
    for problem in store.problems:
        print(f"hearth: settings: {problem}", file=sys.stderr)
    return store


def print_json(value: Any, stream: TextIO | None = None) -> None:
    json.dump(value, stream or sys.stdout, indent=2, ensure_ascii=False, default=str)
    (stream or sys.stdout).write("\n")


class ProgressLine:
    """A one-line progress bar on stderr (only when stderr is a terminal), at most ~10 redraws/s."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.clear()
            print(f"hearth: {event.message}", file=self.stream)
        elif isinstance(event, Progress) and self.enabled:
            now = time.monotonic()
            if now - self._last < 0.1 and event.done < event.total:
                return
            self._last = now
            width = 28
            filled = int(width * event.fraction)
            eta = f" ~{_fmt_eta(event.eta_s)} left" if event.eta_s else ""
            unit = f" {event.unit}" if event.unit else ""
            label = event.label[-40:]
            line = f"\r[{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total}{unit}{eta} {label}"
            self.stream.write(line.ljust(100)[:100])
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
            self._shown = False


def _fmt_eta(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}min"

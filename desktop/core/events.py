"""What jobs yield while they run. Every event is a small immutable value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """`done` of `total` units (pages, sections, files …) with a short label."""

    done: int
    total: int
    label: str = ""
    unit: str = ""
    eta_s: float | None = None  # estimated seconds left, when it can be told

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


def format_eta(seconds: float) -> str:
    """Time left as words: "40 s" under a minute and a half, else "3 min" (the callers add "left")."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class EtaSmoother:
    """Time left as a person reads it: it counts down between estimates, and a new estimate moves
    it only part of the way (a summary's sections differ in length, so raw estimates jump:
    51 → 97 → 78 s). An estimate far above the shown one (more work found) is taken as it is.

    `update(estimate, now)` returns the seconds to show, or None when nothing is known yet.
    """

    WEIGHT = 0.35  # share of a new estimate taken at once
    JUMP = 3.0  # an estimate this many times the shown one replaces it

    def __init__(self) -> None:
        self._shown: float | None = None
        self._at = 0.0

    def update(self, estimate: float | None, now: float) -> float | None:
        if estimate is None:
            return None if self._shown is None else max(0.0, self._shown - (now - self._at))
        if self._shown is None:
            shown = estimate
        else:
            counted = max(0.0, self._shown - (now - self._at))
            if counted <= 0 or estimate > self.JUMP * counted:
                shown = estimate
            else:
                shown = counted + self.WEIGHT * (estimate - counted)
        self._shown, self._at = shown, now
        return shown


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class Sources:
    """The passages an answer will rest on, sent before the answer starts."""

    citations: tuple[Any, ...]  # tuple[Citation, ...]; Any keeps events free of types.py cycles


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that is not an error (fallback to CPU, trimmed history …)."""

    message: str
    level: str = "info"  # info | warning
    data: dict[str, Any] = field(default_factory=dict)


Event = Progress | Token | Sources | Notice

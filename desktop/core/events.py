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

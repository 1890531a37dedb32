"""The model's output as points: cleaned unit by unit, matched to the sources it was shown, and given
their pages (never the model's own); and how points are rendered."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from desktop.core.grounding import Support
from desktop.core.summarize.request import Splitter
from desktop.core.summarize.text import _BULLET, _ECHO, _clean_unit, _jaccard, format_pages
from desktop.core.text import content_words
from desktop.core.types import SummaryPoint


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence of the document (or a point of a lower level) and the pages it comes from."""

    text: str
    pages: tuple[int, ...]
    tokens: int


@dataclass
class _Sources:
    """What the model was shown in one call, for matching its points back to pages."""

    units: Sequence[_Unit]
    words: list[set[str]] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.support = Support([u.text for u in self.units])
        self.words = self.support.words
        self.numbers = self.support.numbers

    def has_specifics_of(self, text: str) -> bool:
        """Whether every number (amount, year, percentage) and every name in `text` is in what was shown.

        Invented details are mostly these: a "$20,000 grant", a year, an acronym spelled out wrongly.
        """
        return self.support.has_specifics_of(text)

    def attribute(self, text: str, min_support: float, within: int | None = None) -> tuple[int, ...] | None:
        """Pages of the sources `text` was written from; None when too little of it is in them.

        `within`: the words must be found in that many sources at most (the best ones), not
        scattered over all of them: "launched Monday and available for four days in December"
        takes its words from three unrelated sentences and says something none of them says."""
        mine = content_words(text)
        if not mine:
            return None
        hits = [len(mine & w) for w in self.words]
        if within is not None:
            top = sorted(range(len(hits)), key=lambda i: -hits[i])[:within]
            covered = set().union(*(mine & self.words[i] for i in top)) if top else set()
        else:
            covered = set().union(*(mine & w for w in self.words)) if self.words else set()
        if len(covered) < min(2, len(mine)) or len(covered) / len(mine) < min_support:
            return None
        best = max(hits)
        # The best source and any close second: a point often fuses two sentences.
        chosen = [i for i in sorted(range(len(hits)), key=lambda i: -hits[i])[:2] if hits[i] >= 0.6 * best]
        pages = sorted({p for i in chosen for p in self.units[i].pages})
        return tuple(pages)


class _PointCollector:
    """Turns the model's raw stream into clean, supported, de-duplicated points as they complete."""

    def __init__(
        self,
        sources: _Sources,
        sentence_mode: bool,
        split: Splitter,
        min_support: float,
        strict: bool = False,
    ):
        self.sources = sources
        self.strict = strict  # also refuse a unit whose numbers are not all in the sources
        self.sentence_mode = sentence_mode
        self.split = split
        self.min_support = min_support
        self.points: list[SummaryPoint] = []
        self._kept_words: list[set[str]] = []
        self._buf = ""
        self._done_in_line = 0  # sentences of the pending line already handled
        self.rejected_in_a_row = 0
        self.dropped = Counter[str]()

    def feed(self, piece: str) -> list[SummaryPoint]:
        self._buf += piece
        out: list[SummaryPoint] = []
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            out += self._line(line, complete=True)
            self._done_in_line = 0
        if self.sentence_mode and self._buf:
            out += self._line(self._buf, complete=False)
        return out

    def finish(self, stop_reason: str) -> list[SummaryPoint]:
        line, self._buf = self._buf, ""
        out = self._line(line, complete=True, cut=stop_reason == "length")
        self._done_in_line = 0
        return out

    def _line(self, line: str, complete: bool, cut: bool = False) -> list[SummaryPoint]:
        text = line.strip()
        if not text:
            return []
        long_line = self.sentence_mode or len(text.split()) > 45
        parts = self.split(_BULLET.sub("", text)) if long_line else [text]
        ready = parts if complete else parts[:-1]
        out: list[SummaryPoint] = []
        for i, part in enumerate(ready):
            if i < self._done_in_line:
                continue
            last_of_cut = cut and i == len(ready) - 1
            point = self._accept(part, truncated=last_of_cut)
            if point is not None:
                out.append(point)
        self._done_in_line = len(ready)
        return out

    def _accept(self, raw: str, truncated: bool) -> SummaryPoint | None:
        text = _clean_unit(raw)
        if truncated and not re.search(r"[.!?]\W*$", text):
            self.dropped["truncated"] += 1
            return None
        words = content_words(text)
        if len(text.split()) < 3 or not words:
            self.dropped["empty"] += 1
            return None
        if re.match(r"^\d+(?:\.\d+)*\.?\s", text) and len(text.split()) < 10:
            self.dropped["empty"] += 1  # a section heading copied from the text, not a point
            return None
        if _ECHO.match(text) or text.endswith(":"):
            self.dropped["echo"] += 1
            self.rejected_in_a_row += 1
            return None
        if any(_jaccard(words, w) >= 0.6 for w in self._kept_words):
            self.dropped["duplicate"] += 1
            self.rejected_in_a_row += 1
            return None
        # A checked sentence (strict: the grounded overview) may fuse two sentences, not more.
        pages = self.sources.attribute(text, self.min_support, within=2 if self.strict else None)
        strict_fail = self.strict and (
            not self.sources.has_specifics_of(text) or bool(self.sources.support.dropped_subjects(text))
        )  # a grounded overview keeps its figures' own words ("Gaming revenue", not "revenue")
        if pages is None or strict_fail:
            self.dropped["unsupported"] += 1
            self.rejected_in_a_row += 1
            return None
        if not re.search(r"[.!?]$", text):
            text += "."
        text = text[0].upper() + text[1:]
        self.rejected_in_a_row = 0
        self._kept_words.append(words)
        point = SummaryPoint(text, pages)
        self.points.append(point)
        return point


def _render(point: SummaryPoint, style: str, cite: bool = True) -> str:
    """A point as the summary shows it, with its pages unless `cite` is off (a one-page text)."""
    ref = f" ({format_pages(point.pages)})" if cite and point.pages else ""
    text = point.text.rstrip(".")
    if style == "paragraph":
        return f"{text}{ref}. "
    return f"- {text}{ref}.\n"


def _words(points: Sequence[SummaryPoint]) -> int:
    return sum(len(p.text.split()) for p in points)


def _body(units: Sequence[_Unit], notes: bool = False) -> str:
    if notes:
        return "\n".join(f"- {u.text}" for u in units)
    # One paragraph per page: the model reads prose, not a list of loose sentences.
    paras: list[list[str]] = []
    last = None
    for u in units:
        if u.pages[0] != last:
            paras.append([])
            last = u.pages[0]
        paras[-1].append(u.text)
    return "\n\n".join(" ".join(p) for p in paras)

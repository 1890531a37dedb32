"""Is a sentence backed by the text it was written from? Its numbers, names and content words, checked.

Shared by summaries (a model-written overview survives only where the quoted sentences support it)
and answers (a model sentence is kept, or marked, by the same test). Invented details are mostly
specifics: an amount, a year, a percentage, a name; a sentence whose specifics all appear in its
sources and most of whose content words do is taken as written from them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.text import WORD, content_words

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_DATE_PART = re.compile(r"(?:19|20)\d\d|[0-2]?\d|3[01]")  # a year or a day: in every dated text
_POSSESSIVE = re.compile(r"(?:'s|’s|')$")


def _normal(number: str) -> str:
    n = number.replace(",", "").rstrip(".")
    return n[:-2] if n.endswith(".0") else n


def numbers_in(text: str) -> set[str]:
    """The numbers of a text, normalized ("20,000" and "20000" are one number; "3.0" is "3")."""
    return {_normal(m.group(0)) for m in _NUMBER.finditer(text)}


def _subject_of(text: str, at: int) -> set[str]:
    """The words naming the figure at `at` in `text`: its clause's content words before it, without
    numbers and frame words ("Gaming revenue was" → gaming, revenue; a table row's label)."""
    start = max((m.end() for m in _CLAUSE_START.finditer(text, 0, at)), default=0)
    words = {_bare(w) for w in content_words(text[start:at]) if not w[0].isdigit()}
    return words - _FRAME_WORDS


def _bare(word: str) -> str:
    return _POSSESSIVE.sub("", word)


def names_in(text: str, possessives: bool = False) -> set[str]:
    """Lower-cased words with a capital letter, the first word of the text aside (it is capitalized
    anyway). `possessives`: "Apple's" counts as "apple"."""
    words = WORD.findall(text)
    names = {w.lower() for w in words[1:] if any(c.isupper() for c in w)}
    return {_bare(n) for n in names} if possessives else names


@dataclass(frozen=True, slots=True)
class Span:
    """A specific of a sentence that its sources do not hold: where it is and what it says."""

    start: int
    end: int
    text: str
    kind: str  # "number" | "name"


# An amount with what makes it one: "$ 5.6 billion", "12 months", "29.9%", "(1,234)".
_AMOUNT = re.compile(
    r"[$€£]?\s?\(?\d+(?:[.,]\d+)*\)?\s?(?:%|percent\b|per cent\b|million\b|billion\b|thousand\b|"
    r"trillion\b|months?\b|years?\b|weeks?\b|days?\b|hours?\b)?",
    re.IGNORECASE,
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}\b", re.IGNORECASE)
_CAPWORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")


def _date_key(date: str) -> tuple[str, int, int]:
    """A date as (month, day, year), however it is spelled: "Jul. 1 2023" is "July 1, 2023"."""
    month, day, year = re.findall(r"[A-Za-z]+|\d+", date)[:3]
    return month[:3].lower(), int(day), int(year)


# Where the clause that names a figure begins: a sentence's or a line's start, a comma, a dash.
_CLAUSE_START = re.compile(r"[.;:!?](?=\s)|\n|,(?=\s)|\s[—–]\s")
# Words that place a figure in time, call it whole, or say how it moved: a restatement may leave them
# out and still name the same figure ("revenue for the third quarter was" said as "revenue was").
_FRAME_TEXT = """
total quarter quarters quarterly year years yearly annual annually month months week weeks
day days fiscal first second third fourth ended ending end period periods three six nine twelve
prior previous current compared ago approximately nearly roughly about record records recorded
reported increased decreased grew rose fell declined reached totaled totalled amounted
"""
_FRAME_WORDS = frozenset(_FRAME_TEXT.split())


class Support:
    """What a sentence may rest on: the texts it was written from (quotes, passages, sentences)."""

    def __init__(self, texts: Sequence[str], *, possessives: bool = False) -> None:
        self.texts = list(texts)
        self.possessives = possessives
        self.words = [content_words(t) for t in self.texts]
        self.numbers = {n for t in self.texts for n in numbers_in(t)}
        self.dates = {_date_key(m.group(0)) for t in self.texts for m in _DATE.finditer(t)}
        self._subjects: dict[str, list[set[str]]] | None = None  # figure → the words naming it, lazily
        self.all_words = {w.lower() for t in self.texts for w in WORD.findall(t)}
        if possessives:
            self.all_words |= {_bare(w) for w in self.all_words}

    def has_specifics_of(self, text: str) -> bool:
        """Whether every number (amount, year, percentage) and every name in `text` is in the sources."""
        if not numbers_in(text) <= self.numbers:
            return False
        if any(_date_key(m.group(0)) not in self.dates for m in _DATE.finditer(text)):
            return False  # "July 31, 2024" from a "July 31, 2022" column and a "fiscal year 2024"
        return names_in(text, self.possessives) <= self.all_words

    def coverage(self, text: str) -> float:
        """Share of `text`'s content words found anywhere in the sources (1.0 for none to check)."""
        mine = content_words(text)
        if not mine:
            return 1.0
        have = set().union(*self.words) if self.words else set()
        if self.possessives:
            mine = {_bare(w) for w in mine}
            have = have | {_bare(w) for w in have}
        return len(mine & have) / len(mine)

    def supports(self, text: str, min_coverage: float) -> bool:
        """Every specific in the sources and at least `min_coverage` of the content words."""
        return self.has_specifics_of(text) and self.coverage(text) >= min_coverage

    def sources_of(self, text: str, limit: int = 2) -> tuple[int, ...]:
        """Indices of the texts that share most with `text` (best first; a close second too).

        A sentence that gives figures rests on the texts holding them: when some text holds one of
        its numbers (years and days of the month aside), only such texts are candidates.
        """
        mine = content_words(text) | numbers_in(text)
        figures = {n for n in numbers_in(text) if not _DATE_PART.fullmatch(n)}
        holders = [i for i, t in enumerate(self.texts) if figures & numbers_in(t)]
        pool = holders or list(range(len(self.texts)))
        hits = {i: len(mine & (self.words[i] | numbers_in(self.texts[i]))) for i in pool}
        if not hits or max(hits.values()) == 0:
            return ()
        best = max(hits.values())
        order = sorted(hits, key=lambda i: -hits[i])[:limit]
        return tuple(i for i in order if hits[i] >= 0.6 * best)

    def dropped_subjects(self, text: str) -> list[str]:
        """What `text` leaves out of the figures it restates: for each of its figures that a source
        holds, the words naming that figure there (its clause up to the figure, frame words aside)
        that `text` does not say, where no place in the sources names it with `text`'s words alone.

        "NVIDIA's revenue for the quarter was $2.49 billion" from "Gaming revenue was $2.49 billion"
        drops "gaming": the figure is one segment's, and the sentence makes it the total. Years and
        days are not figures here (every dated text holds them)."""
        if self._subjects is None:  # once per Support: a summary asks it of each overview sentence
            self._subjects = {}
            for t in self.texts:
                for m in _NUMBER.finditer(t):
                    self._subjects.setdefault(_normal(m.group(0)), []).append(_subject_of(t, m.start()))
        said = {_bare(w) for w in content_words(text)}
        missing: list[str] = []
        for figure in sorted(numbers_in(text)):
            if _DATE_PART.fullmatch(figure):
                continue
            subjects = self._subjects.get(figure, [])
            if subjects and not any(words <= said for words in subjects):
                missing += sorted(min(subjects, key=lambda w: len(w - said)) - said)
        return list(dict.fromkeys(missing))

    def unsupported_spans(self, text: str) -> list[Span]:
        """The amounts, dates and names of `text` that appear in no source, in order, not overlapping."""
        spans: list[Span] = []
        taken: list[tuple[int, int]] = []

        def free(a: int, b: int) -> bool:
            return all(b <= s or a >= e for s, e in taken)

        for m in _DATE.finditer(text):
            if _date_key(m.group(0)) not in self.dates:
                spans.append(Span(m.start(), m.end(), m.group(0), "number"))
                taken.append((m.start(), m.end()))
        for m in _AMOUNT.finditer(text):
            a, b = m.start(), m.end()
            raw = m.group(0).strip()
            if not raw or not free(a, b) or not any(c.isdigit() for c in raw):
                continue
            if not numbers_in(raw) <= self.numbers:
                lead = len(m.group(0)) - len(m.group(0).lstrip())
                spans.append(Span(a + lead, b, raw, "number"))
                taken.append((a, b))
        first = True
        for m in _CAPWORD.finditer(text):
            word = m.group(0)
            at_start = first or re.search(r"[.!?:]\s*$", text[: m.start()]) is not None
            first = False
            if at_start or not any(c.isupper() for c in word) or not free(m.start(), m.end()):
                continue
            key = _bare(word.lower()) if self.possessives else word.lower()
            if key not in self.all_words and word.lower() not in self.all_words:
                spans.append(Span(m.start(), m.end(), word, "name"))
                taken.append((m.start(), m.end()))
        return sorted(spans, key=lambda s: s.start)


def mark_unsupported(text: str, spans: Sequence[Span]) -> str:
    """`text` with each unsupported specific shown as ⚠[not in sources: …] (never removed)."""
    out = text
    for s in sorted(spans, key=lambda s: -s.start):
        out = f"{out[: s.start]}⚠[not in sources: {s.text}]{out[s.end :]}"
    return out

"""Scoring answers against reference answers and against the sources they were given (pure, no I/O).

What `hearth eval answers` measures per question, and how (docs/answers.md has the figures):

- **Figures.** A figure is a number as written, with what the text says about it: a `$`, thousands
  commas, a scale word (`81.8 billion`, `$2.4 bn`), a `%`, a sign (`-3%`, or parentheses as in
  accounting tables: `(1,234)` = -1234). Numbers glued to letters are names, not figures (`Q3`,
  `H100`, `10-Q`). Each figure keeps the precision it was written with: `81.8` is 81.75-81.85.
- **Same figure.** `supports(claim, evidence)`: the claim is the evidence rounded to the claim's
  shown precision, either as written (`81,797` = `$81,797 million`; `12.5%` = `12.5 %`) or, when
  either side carries a scale word, by value, an unscaled evidence number being read as thousands,
  millions or billions (10-Q tables say "in millions" once at the top): `$81.8 billion` is
  supported by `81,797`. Signs are ignored (`a decrease of 1,234` restates `(1,234)`).
- **Gold contained.** The gold answer's *key figures* are its figures minus dates (`July 1, 2023`),
  years, quarter and fiscal-year labels, list numbering, bare small counts (`12 months`), figures
  the question itself states, and its `SOURCE(S):` line. `gold_number_recall` = the share of key
  figures the answer states (either side may be the rounder one); `contains_gold` = at least half
  of them (all of one). A gold answer without key figures is not scored by figures
  (`contains_gold` = None); `gold_word_recall` (the share of its content words that the question
  does not already use and the answer does) is reported for every answerable question instead.
- **Unsupported numbers.** Figures of the answer text that no shown source supports. The answer's
  `[n]` markers, page references (`p. 10`, `pages 20-21`), list numbering and the `(columns: …)`
  label Hearth prints after a quoted table row (headings copied from the page) are not figures; a
  checked answer's own marks (`⚠[not in sources: 42]`) are unwrapped, so 42 still counts;
  the sources are the citations' titles and snippets (and any quoted evidence), plus the question
  (a year or a quarter the user asked about is not invented).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mn": 1e6,
    "mm": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
# Letters that stand for a scale only right after a currency figure ("$2.4B", "$350M").
_SHORT_SCALES = frozenset({"k", "m", "b", "mm"})

_NUMBER = re.compile(
    r"(?<![\w.])(?<!\d,)(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?!\d|,\d|\.\d|-[A-Za-z]|_)(?!(?!(?:[kKmMbB]|bn|mn|BN|MN)\b)[A-Za-z])"
)
_AFTER = re.compile(
    r"\s*(?P<close>\))?\s*(?P<pct>%|percent\b|per\s?cent\b)?"
    r"\s*(?P<scale>thousand|millions?|billions?|trillion|mn|bn|mm|m|b|k)?(?![A-Za-z])",
    re.IGNORECASE,
)
_BEFORE = re.compile(r"(?P<paren>\()?\s*(?P<cur>\$|US\$|USD|€|£)?\s*(?P<sign>[-−–])?\s*$")

# Spans of an answer that are not claims: source markers and page references.
_MARKERS = re.compile(r"\[\s*\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\s*\]")
# The label Hearth prints after a quoted table row: the row's column headings, copied from the page
# (`[1] “Total net sales $ 81,797 …” — 2023 Q3 AAPL, p. 10 (columns: Three Months Ended July 1, 2023 …)`).
_QUOTE_LABELS = re.compile(r"\(columns:[^)\n]*\)", re.IGNORECASE)
_PAGE_REFS = re.compile(r"\b(?:pp?|pg|pages?)\.?\s*\d{1,4}(?:\s*(?:[-–]|to|and|,)\s*\d{1,4})*", re.IGNORECASE)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATES = re.compile(
    rf"\b(?:{_MONTHS})\b\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:\s*,\s*\d{{4}})?"
    rf"|\b\d{{1,2}}\s+(?:{_MONTHS})\b\.?(?:\s+\d{{4}})?"
    rf"|\b(?:{_MONTHS})\b\.?\s+\d{{4}}",
    re.IGNORECASE,
)
_PERIOD_LABELS = re.compile(
    r"\b(?:fiscal\s+(?:years?\s+)?|fy\s*|calendar\s+(?:year\s+)?|q[1-4]\s+|quarters?\s+of\s+)\d{2,4}\b"
    r"|\b\d{4}\s+q[1-4]\b|\b(?:first|second|third|fourth)\s+quarter\s+(?:of\s+)?(?:fiscal\s+)?(?:year\s+)?\d{4}",
    re.IGNORECASE,
)
_SOURCE_LINES = re.compile(r"\(?\s*SOURCE(?:\(S\)|S)?\s*:[^\n)]*\)?", re.IGNORECASE)
# List numbering: "1. The ..." at a line start (after an optional bullet), "3)" anywhere, and
# footnote marks like "(2)" (one digit: "(12)" in a table is a negative figure).
_ENUMERATORS = re.compile(
    r"(?m)^[\s*•-]*\d{1,2}[.)](?=\s)|\(\d\)(?=\s)|(?<=\s)\d{1,2}\)(?=\s)|(?<=:\s)\d{1,2}\.(?=\s+[A-Z])"
)
# A checked answer marks what its sources lack in place: `⚠[not in sources: 42]`. The mark is
# unwrapped before reading figures: a number inside it is still a claim (and unsupported), and a
# mark inside a name (`10-⚠[not in sources: Q]`) must not turn the name into a figure.
_CHECK_MARKS = re.compile(r"⚠\s*\[[^:\]]*:\s*([^\]]*)\]")


@dataclass(frozen=True, slots=True)
class Figure:
    """A number as written in a text."""

    text: str  # the matched number, e.g. "81.8"
    raw: float  # the number as written, sign applied, scale word not applied
    scale: float  # from a scale word (billion -> 1e9); 1.0 when none
    explicit_scale: bool
    percent: bool
    currency: bool  # written with $, €, £
    step: float  # the unit of the last digit shown: 0.1 for "81.8", 1 for "81,797"
    start: int  # offset in the text it was read from

    @property
    def value(self) -> float:
        return self.raw * self.scale

    @property
    def is_year(self) -> bool:
        """A bare four-digit integer between 1900 and 2099 with nothing to say it is an amount."""
        return self.is_bare and "," not in self.text and 1900 <= abs(self.raw) <= 2099

    @property
    def is_bare(self) -> bool:
        """A whole number without a currency, percent or scale word (a count, a year, a label)."""
        return not (self.explicit_scale or self.percent or self.currency) and self.step == 1


def figures(text: str) -> list[Figure]:
    """Every number in `text` (see the module docstring for what counts and how it is read)."""
    out: list[Figure] = []
    for m in _NUMBER.finditer(text):
        digits = m.group(0)
        window = max(0, m.start() - 8)
        before = _BEFORE.search(text[window : m.start()])
        after = _AFTER.match(text, m.end())
        raw = float(digits.replace(",", ""))
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        negative = False
        currency = False
        if before is not None:
            currency = bool(before.group("cur"))
            if before.group("sign"):
                at = window + before.start("sign")
                negative = not (at > 0 and text[at - 1].isalnum())  # "2022-2023" is a range
            if before.group("paren") and after is not None and after.group("close"):
                negative = True
        percent = bool(after is not None and after.group("pct"))
        scale_word = (after.group("scale") or "").lower() if after is not None else ""
        if percent or (scale_word in _SHORT_SCALES and not currency):
            scale_word = ""
        scale = _SCALES.get(scale_word, 1.0)
        out.append(
            Figure(
                text=digits,
                raw=-raw if negative else raw,
                scale=scale,
                explicit_scale=bool(scale_word),
                percent=percent,
                currency=currency,
                step=10.0**-decimals,
                start=m.start(),
            )
        )
    return out


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with every match of `pattern` replaced by spaces (offsets are kept)."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def claim_figures(answer: str) -> list[Figure]:
    """The figures an answer states: its numbers without `[n]` markers, page references, list numbering
    and the column headings Hearth prints after a quoted table row."""
    text = _CHECK_MARKS.sub(lambda m: m.group(1), answer)
    for pattern in (_MARKERS, _QUOTE_LABELS, _PAGE_REFS, _ENUMERATORS):
        text = _blank(text, pattern)
    return figures(text)


_SCALE_READINGS = (1e3, 1e6, 1e9)


def supports(claim: Figure, evidence: Figure) -> bool:
    """True when `claim` is `evidence` rounded to the claim's shown precision (signs ignored)."""
    half = claim.step / 2 + 1e-9
    if claim.percent and not evidence.percent:
        return False
    if abs(abs(claim.raw) - abs(evidence.raw)) <= half:
        return True
    if claim.percent or evidence.percent or not (claim.explicit_scale or evidence.explicit_scale):
        return False
    target = abs(claim.value)
    tolerance = half * claim.scale
    readings = (
        [abs(evidence.value)] if evidence.explicit_scale else [abs(evidence.raw) * k for k in _SCALE_READINGS]
    )
    if not claim.explicit_scale:
        readings.append(abs(evidence.raw))
    return any(abs(target - r) <= tolerance * (1 + 1e-12) for r in readings)


def same_figure(a: Figure, b: Figure) -> bool:
    """Either is the other rounded (gold vs answer: either side may be the rounder one)."""
    return supports(a, b) or supports(b, a)


def key_figures(gold: str, question: str = "") -> list[Figure]:
    """The figures a gold answer is about: no dates, years, period labels, numbering or SOURCE line."""
    text = _SOURCE_LINES.sub(" ", gold)
    text = _blank(text, _ENUMERATORS)
    text = _blank(text, _DATES)
    text = _blank(text, _PERIOD_LABELS)
    asked = claim_figures(question)
    out: list[Figure] = []
    for f in claim_figures(text):
        if f.is_year or (f.is_bare and abs(f.raw) < 100):  # years; "12 months", "3 segments"
            continue
        if any(abs(abs(f.raw) - abs(q.raw)) < 1e-9 and f.percent == q.percent for q in asked):
            continue
        if any(same_figure(f, k) and f.percent == k.percent for k in out):
            continue
        out.append(f)
    return out


def unsupported_figures(answer: str, sources: Iterable[str]) -> list[Figure]:
    """The answer's figures that no source supports (sources: snippets, titles, quotes, the question)."""
    evidence = [f for s in sources for f in figures(s)]
    return [c for c in claim_figures(answer) if not any(supports(c, e) for e in evidence)]


def gold_recall(answer: str, gold: str, question: str = "") -> tuple[float | None, int, list[str]]:
    """(share of the gold's key figures the answer states or None without any, their count, found)."""
    keys = key_figures(gold, question)
    if not keys:
        return None, 0, []
    stated = claim_figures(answer)
    found = [k for k in keys if any(same_figure(k, a) for a in stated)]
    return len(found) / len(keys), len(keys), [k.text for k in found]


_STOP_TEXT = (
    "a about above after again all also an and any are as at be because been before being below "
    "between both but by can could did do does doing during each few for from further had has have "
    "having here how i if in into is it its itself more most no nor not of off on once only or other "
    "our out over own same should so some such than that the their them then there these they this "
    "those through to too under until up very was we were what when where which while who whom why "
    "will with would you your company company's million billion based provided documents document "
    "source sources quarter quarterly period ended three months nine report reported 10-q"
)
_STOP = frozenset(_STOP_TEXT.split())
_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def _words(text: str) -> set[str]:
    return {w.strip("'-") for w in _WORD.findall(text.lower())} - _STOP


def gold_word_recall(answer: str, gold: str, question: str = "") -> float | None:
    """Share of the gold answer's content words (not the question's) that the answer uses."""
    want = _words(_SOURCE_LINES.sub(" ", gold)) - _words(question)
    if not want:
        return None
    return len(want & _words(answer)) / len(want)


_USED = re.compile(r"\[(\d{1,2})\]")


def marker_numbers(text: str, available: int) -> list[int]:
    """The `[n]` source markers of an answer that point at one of `available` sources, first use first."""
    seen: list[int] = []
    for m in _USED.finditer(text):
        n = int(m.group(1))
        if 1 <= n <= available and n not in seen:
            seen.append(n)
    return seen


# ----------------------------------------------------------------------------- one answer


@dataclass(frozen=True, slots=True)
class CitedSource:
    """What scoring needs of one shown source."""

    n: int
    doc: str  # the document's identity (content hash)
    page: int
    page_end: int
    used: bool  # the answer cites it


@dataclass(frozen=True, slots=True)
class AnswerScore:
    id: str
    answerable: bool
    abstained: bool
    contains_gold: bool | None
    gold_number_recall: float | None
    gold_numbers: int
    gold_word_recall: float | None
    cites_gold_doc: bool | None
    cites_gold_page: bool | None
    shows_gold_doc: bool | None
    used_sources: int
    shown_sources: int
    answer_numbers: int
    unsupported_numbers: int
    unsupported: tuple[str, ...]
    seconds: float
    ttft_s: float | None  # the model's own: prompt submitted -> first token
    evidence_s: float | None  # from the question to the evidence on screen, when the answer says
    first_token_s: float | None  # from the question to the first model token, when the answer says
    truncated: bool | None
    sentences_unsupported: int | None  # sentences the answer itself marks unsupported

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_answer(
    *,
    qid: str,
    question: str,
    answer: str,
    gold: str,
    answerable: bool,
    abstained: bool,
    sources: Sequence[CitedSource],
    source_texts: Sequence[str],
    gold_docs: set[str],
    gold_pages: set[tuple[str, int]],
    seconds: float,
    ttft_s: float | None = None,
    truncated: bool | None = None,
    timings: dict[str, float] | None = None,
    sentences_unsupported: int | None = None,
) -> AnswerScore:
    """Every per-question figure of `hearth eval answers` (module docstring: what each means)."""
    recall, n_keys, _found = gold_recall(answer, gold, question) if answerable else (None, 0, [])
    contains = None if recall is None else (recall >= 0.5 if n_keys > 1 else recall == 1.0)
    used = [s for s in sources if s.used]
    cites_doc = cites_page = shows_doc = None
    if answerable and gold_docs:
        cites_doc = any(s.doc in gold_docs for s in used)
        shows_doc = any(s.doc in gold_docs for s in sources)
    if answerable and gold_pages:
        cites_page = any(
            (s.doc, p) in gold_pages for s in used for p in range(s.page, max(s.page, s.page_end) + 1)
        )
    bad = unsupported_figures(answer, [*source_texts, question])
    words = gold_word_recall(answer, gold, question) if answerable else None
    return AnswerScore(
        id=qid,
        answerable=answerable,
        abstained=abstained,
        contains_gold=contains,
        gold_number_recall=None if recall is None else round(recall, 4),
        gold_numbers=n_keys,
        gold_word_recall=None if words is None else round(words, 4),
        cites_gold_doc=cites_doc,
        cites_gold_page=cites_page,
        shows_gold_doc=shows_doc,
        used_sources=len(used),
        shown_sources=len(sources),
        answer_numbers=len(claim_figures(answer)),
        unsupported_numbers=len(bad),
        unsupported=tuple(f.text for f in bad),
        seconds=round(seconds, 3),
        ttft_s=None if ttft_s is None else round(ttft_s, 3),
        evidence_s=_seconds((timings or {}).get("evidence_s")),
        first_token_s=_seconds((timings or {}).get("first_token_s")),
        truncated=truncated,
        sentences_unsupported=sentences_unsupported,
    )


def _seconds(value: Any) -> float | None:
    return round(float(value), 3) if isinstance(value, int | float) else None


# ----------------------------------------------------------------------------- the whole run


def _rate(flags: Iterable[bool | None]) -> tuple[float | None, int]:
    values = [bool(f) for f in flags if f is not None]
    return (round(sum(values) / len(values), 4) if values else None), len(values)


def _mean(xs: Iterable[float | None]) -> float | None:
    values = [x for x in xs if x is not None]
    return round(statistics.fmean(values), 4) if values else None


def _median(xs: Iterable[float | None]) -> float | None:
    values = [x for x in xs if x is not None]
    return round(statistics.median(values), 3) if values else None


def aggregate(scores: Sequence[AnswerScore]) -> dict[str, Any]:
    """The run's figures; each rate says over how many questions it is taken (`n_*`)."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    gold_rate, n_gold = _rate(s.contains_gold for s in answerable)
    doc_rate, n_doc = _rate(s.cites_gold_doc for s in answerable)
    page_rate, n_page = _rate(s.cites_gold_page for s in answerable)
    shown_rate, _ = _rate(s.shows_gold_doc for s in answerable)
    abst_un, n_un = _rate(s.abstained for s in unanswerable)
    false_abst, n_ans = _rate(s.abstained for s in answerable)
    any_bad, n_all = _rate(s.unsupported_numbers > 0 for s in scores)
    answered = [s for s in scores if not s.abstained]
    any_bad_answered, n_answered = _rate(s.unsupported_numbers > 0 for s in answered)
    truncated, n_trunc = _rate(s.truncated for s in scores)
    return {
        "questions": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "gold_contained_rate": gold_rate,
        "n_gold_with_figures": n_gold,
        "gold_number_recall": _mean(s.gold_number_recall for s in answerable),
        "gold_word_recall": _mean(s.gold_word_recall for s in answerable),
        "gold_doc_cited_rate": doc_rate,
        "n_gold_doc": n_doc,
        "gold_doc_shown_rate": shown_rate,
        "gold_page_cited_rate": page_rate,
        "n_gold_page": n_page,
        "unsupported_numbers_mean": _mean(float(s.unsupported_numbers) for s in scores),
        "answers_with_unsupported_share": any_bad,
        "n_answers": n_all,
        "answered_with_unsupported_share": any_bad_answered,
        "n_answered": n_answered,
        "abstention_rate_unanswerable": abst_un,
        "n_unanswerable": n_un,
        "false_abstention_rate_answerable": false_abst,
        "n_answerable": n_ans,
        "median_seconds": _median(s.seconds for s in scores),
        "mean_seconds": _mean(s.seconds for s in scores),
        "median_ttft_s": _median(s.ttft_s for s in scores),
        "median_evidence_s": _median(s.evidence_s for s in scores),
        "median_first_token_s": _median(s.first_token_s for s in scores),
        "n_first_token": sum(1 for s in scores if s.first_token_s is not None),
        "sentences_marked_unsupported_mean": _mean(
            None if s.sentences_unsupported is None else float(s.sentences_unsupported) for s in scores
        ),
        "truncated_share": truncated,
        "n_with_stats": n_trunc,
    }

"""Text heuristics for summaries: sentences, page labels, running lines, cleaning and quoting."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from desktop.core.text import content_words
from desktop.core.types import Page

_BULLET = re.compile(r"^\s*(?:(?:[-*•·▪‣–—]+|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)](?=\s))\s*)+")
_ECHO = re.compile(
    r"^(?:here (?:is|are)|sure\b|certainly|of course|okay|ok\b|summary\b|in summary|to summarize|"
    r"bullet points?|key points?|main (?:points|ideas|facts)|the (?:most )?important facts|notes?:|"
    r"the text (?:above|below)|i (?:hope|have|will)|let me|please|as an ai)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
_REPEATED_WORD = re.compile(r"\b(\w+)(?:\s+\1\b)+", re.IGNORECASE)


def split_sentences_basic(text: str) -> list[str]:
    """A plain sentence splitter (the service's is better with PDF text); used when none is given."""
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()] if text else []


def overlap_rank(groups: Sequence[Sequence[str]]) -> Iterator[list[float]]:
    """Centrality without a model: similarity of each sentence to its group's word centroid."""
    for group in groups:
        bags = [Counter(content_words(s)) for s in group]
        centroid: Counter[str] = Counter()
        for bag in bags:
            centroid.update(bag)
        norm_c = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
        scores = []
        for bag in bags:
            dot = sum(centroid[w] * v for w, v in bag.items())
            norm = math.sqrt(sum(v * v for v in bag.values())) or 1.0
            scores.append(dot / (norm * norm_c))
        yield scores


def format_pages(pages: Sequence[int]) -> str:
    """(3,) → "p. 3"; (3, 4, 5, 9) → "pp. 3–5, 9"."""
    if not pages:
        return ""
    ps = sorted(set(pages))
    runs: list[str] = []
    start = prev = ps[0]
    for p in [*ps[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        runs.append(str(start) if start == prev else f"{start}–{prev}")
        if p is not None:
            start = prev = p
    return ("p. " if len(ps) == 1 else "pp. ") + ", ".join(runs)


def pages_from_text(text: str) -> tuple[Page, ...]:
    """Pasted text as pages: form feeds separate pages (as pdftotext writes them); else one page."""
    parts = text.split("\f")
    return tuple(Page(i, part) for i, part in enumerate(parts, 1) if part.strip()) or ()


def _clean_unit(text: str) -> str:
    text = _BULLET.sub("", text.strip())
    text = text.replace("**", "").replace("__", "").strip(" \t#>")
    text = _REPEATED_WORD.sub(r"\1", text)
    # A loop inside one line: cut at the second start of a repeated 5-word run.
    words = text.split()
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - 4):
        key = tuple(w.lower() for w in words[i : i + 5])
        if key in seen and i - seen[key] >= 5:
            text = " ".join(words[:i]).rstrip(",;: ")
            break
        seen.setdefault(key, i)
    return re.sub(r"\s+", " ", text).strip()


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


_HEADING_PREFIX = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+(?:[A-Z][a-z]+\s+){1,3}(?=[A-Z])")


# Math lost in extraction: bracket pairs out of order, bars, a space left before punctuation ("tokens , if").
_GARBLED = re.compile(r"\)\(|\(\)|\)\)|\(\(|\||\w \s*[,;.](?:\s|$)|\s{2}")


def _quotable(text: str) -> bool:
    """A sentence that reads as a point on its own: prose of a sensible length, not a fragment or a row."""
    words = text.split()
    if not 6 <= len(words) <= 45 or text[0].islower() or not re.search(r"[.!?][\"')\]]*$", text):
        return False  # too short or long, a fragment cut at a page break, a heading or a caption
    letters = sum(c.isalpha() for c in text)
    plain = sum(bool(re.fullmatch(r"[(\"']?[A-Za-z][A-Za-z'-]*[.,;:)\"']*", w)) for w in words)
    # Formulas and text extracted in the wrong order ("the query is )(cC") are not quotable.
    if _GARBLED.search(text):
        return False
    return letters / len(text) > 0.65 and plain / len(words) >= 0.75 and ": " not in text[:40]


def _quote(text: str) -> str:
    """A sentence as a point: whitespace and a section heading glued to its start removed; words untouched."""
    text = re.sub(r"\s+", " ", text).strip()
    return _HEADING_PREFIX.sub("", text, count=1) or text


_DIGITS = re.compile(r"\d+")


def strip_running_lines(pages: Sequence[Page]) -> tuple[Page, ...]:
    """Drop running headers and footers: a line among a page's first or last two that recurs (digits
    aside) on most pages — "Annual Report 2023 — page 7", "Page 3 of 40", a lone page number.

    Left in, they glue themselves onto the first sentence of every page and, in a summary made of
    the document's own sentences, turn up as points.
    """
    with_text = [p for p in pages if p.text.strip()]
    if len(with_text) < 2:
        return tuple(pages)

    def edges(text: str) -> list[str]:
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        return lines[:2] + lines[-2:] if len(lines) > 4 else lines

    seen: Counter[str] = Counter()
    for page in with_text:
        seen.update({_DIGITS.sub("#", ln.lower()) for ln in edges(page.text)})
    needed = max(2, math.ceil(0.6 * len(with_text)))
    running = {key for key, n in seen.items() if n >= needed and len(key) <= 120}
    if not running:
        return tuple(pages)
    out = []
    for page in pages:
        lines = page.text.split("\n")
        edge = set(edges(page.text))
        kept = [
            ln for ln in lines if not (ln.strip() in edge and _DIGITS.sub("#", ln.strip().lower()) in running)
        ]
        out.append(Page(page.number, "\n".join(kept).strip()))
    return tuple(out)


# A bibliography's heading: "References", "7 References", "BIBLIOGRAPHY", "Works Cited:".
_REFERENCES = re.compile(
    r"^\s*(?:\d{1,2}\.?\s+|[IVX]{1,4}\.\s+)?(?:references?|bibliography|works cited|literature cited|"
    r"reference list|sources cited)\s*:?\s*$",
    re.IGNORECASE,
)
_APPENDIX = re.compile(r"^\s*(?:appendix|appendices)\b", re.IGNORECASE)


def without_references(pages: Sequence[Page]) -> tuple[Page, ...]:
    """The document without its reference list: from a "References" (or "Bibliography") heading
    in its second half to an appendix or the end. A summary made of the document's own sentences
    would otherwise quote a cited paper's title as a point of this one. A heading in the first half
    (a contents page) and the word inside a sentence are left alone."""
    chars = [len(p.text) for p in pages]
    total = sum(chars)
    if not total:
        return tuple(pages)
    before = 0
    for i, page in enumerate(pages):
        lines = page.text.split("\n")
        offset = before
        for j, line in enumerate(lines):
            if _REFERENCES.match(line) and offset >= total / 2:
                return _cut_references(pages, i, j)
            offset += len(line) + 1
        before += chars[i]
    return tuple(pages)


def _cut_references(pages: Sequence[Page], first: int, line: int) -> tuple[Page, ...]:
    """`pages` without the lines from `line` of page `first` (the heading) to an appendix or the end."""
    head = pages[first].text.split("\n")
    out = [*pages[:first], Page(pages[first].number, "\n".join(head[:line]).strip())]
    rest = [(pages[first].number, head[line + 1 :])]
    rest += [(p.number, p.text.split("\n")) for p in pages[first + 1 :]]
    for k, (number, lines) in enumerate(rest):
        at = next((j for j, ln in enumerate(lines) if _APPENDIX.match(ln)), None)
        if at is not None:  # the appendix and every page after it stay
            out.append(Page(number, "\n".join(lines[at:]).strip()))
            out += [Page(n, "\n".join(ls).strip()) for n, ls in rest[k + 1 :]]
            break
    return tuple(p for p in out if p.text) or tuple(pages)

"""Evidence for an answer: the sentences and table rows of the retrieved pages that answer the question.

Retrieved passages are ~900 characters of flattened text; an answer needs the one line in them that
holds the fact. Units are cut from the stored page texts, which keep pypdf's line breaks, so a
10-Q table row (`Total net sales $ 81,797 $ 82,959 $ 304,182 $ 304,182`) stays one whole unit and
carries the column headings above it (`Three Months Ended … July 1, 2023 …`) as its context.
Prose lines are joined into paragraphs and split into sentences.

Each unit is scored against the question by meaning (cosine of embeddings, from an injected
`embed`) and by keyword coverage of the question's terms, weighted by how rare they are among the
candidates (idf), so a term that appears in every unit counts little and one that appears in none
counts most. Work is capped: only the MAX_EMBED units with the best keyword score (and the best of
each passage) are embedded, which keeps evidence well under a second after retrieval.

A question that names something (a company, a person, a date) is only answered from documents that
contain it (rag.py looks names up; `named_entities`, `is_date`, `date_in` are its tools here).

Pure Python: no numpy (core may not import it); vectors are plain lists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from desktop.core.text import STOPWORDS as STOP
from desktop.core.types import Page

Embed = Callable[[Sequence[str]], list[list[float]]]

# Units embedded per question. all-MiniLM-L6-v2 on one spare core embeds ~25-50 short texts a
# second here (less when the machine is busy), so 20 keeps the evidence within ~0.5 s.
MAX_EMBED = 20
PER_PASSAGE = 2  # the best units of each passage are embedded whatever their keyword score
EMBED_CHARS = 300  # a unit is embedded by its first characters (cost grows with length)
MAX_UNIT_CHARS = 480  # a longer sentence is cut at "; " so a quote stays readable
# Ranking: meaning first, keywords as a tie-breaker that knows dates and figures. Chosen by reading
# answers to the docugami questions (docs: issue 14); the gate's weights are fitted separately.
COVERAGE_WEIGHT = 0.5

# Words that say what kind of answer is wanted, not what it is about. They are not evidence terms:
# "analyze", "significant", "trends" appear in no filing and must not make a question unanswerable.
_FRAMING_TEXT = """
analyze analyse analysis compare compared comparing comparison correlate correlation correlates
relationship relate relates related align aligns alignment insight insights indicate indicates
indication discuss discussion discussed describe explain summarize summarise list provide breakdown
detail details detailed specifically specific particular significant significantly notable notably
considerable considerably major main key any anything been reported report reports reporting
disclose disclosed disclosure disclosures mention mentioned highlighted highlight stated state
states revealed reveal shift shifts changed change changes changing trend trends identified identify
over time across between regarding according tell give show much many was were did does how what
which who whom whose when where why there please kind type types information info data say says said
latest recent most current company company's companies's also impact impacts affect affected affects
effect effects role played play potentially potential might could would overall general generally
way ways factors per via
"""
_FRAMING = frozenset(_FRAMING_TEXT.split())
# Function words the shared stop list lacks (the keyword index skips them too).
_FUNCTION_TEXT = "during before down toward towards within without upon across among"
_FUNCTION = frozenset(_FUNCTION_TEXT.split())
_MONTH_TEXT = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_MONTH_NAMES = _MONTH_TEXT.split()
_MONTHS = frozenset(_MONTH_NAMES)
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_ALNUM = re.compile(r"[a-z0-9]+")
_QUARTER_LABEL = re.compile(r"[QqHh][1-4]|FY\d*|fy\d*")
_SHORT_TERM = re.compile(r"^(?:\d+|q[1-4])$")  # short words that still say something: "7", "q3"
_NAME = re.compile(r"[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*")
_FORM = re.compile(r"\b\d{1,2}-[A-Z]{1,2}s?\b")  # "10-Q", "10-Qs", "8-K": a kind of filing
_QUARTER = re.compile(r"^(?:q[1-4]|h[12]|fy\d*|\d+|\d+[a-z]|[ivx]+)$")
_DATE = re.compile(
    r"\b(" + "|".join(_MONTH_NAMES) + r")\.?\s+(\d{1,2}),?\s+(\d{4})\b",
    re.IGNORECASE,
)


def bare(word: str) -> str:
    """Lower case, possessive dropped: "Apple's" -> "apple"."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    return w.strip("'")


_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


def stem(word: str) -> str:
    """A light stem, enough to match "sales"/"sale", "repurchased"/"repurchase", "Apple's"/"Apple"."""
    w = bare(word)
    if len(w) <= 3 or w.isdigit():
        return w
    for suffix, repl in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                break
            w = w[: -len(suffix)] + repl
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


# Abbreviations people ask with and documents spell out: "R&D" is two letters the keyword index and
# the evidence terms skip, so "How much did NVIDIA spend on R&D?" found nothing to rank by.
_SPELLED_OUT = {
    "r&d": "research and development",
    "sg&a": "selling, general and administrative",
    "d&a": "depreciation and amortization",
    "pp&e": "property, plant and equipment",
    "m&a": "mergers and acquisitions",
    "eps": "earnings per share",
    "capex": "capital expenditures",
    "fcf": "free cash flow",
    "cogs": "cost of goods sold",
    "yoy": "year over year",
    "ceo": "chief executive officer",
    "cfo": "chief financial officer",
    "coo": "chief operating officer",
    "cto": "chief technology officer",
    "nda": "non-disclosure agreement",
}
_ABBREVIATIONS = "|".join(re.escape(k) for k in sorted(_SPELLED_OUT, key=len, reverse=True))
_ABBREVIATION = re.compile(rf"(?<![\w&])({_ABBREVIATIONS})(?![\w&])", re.IGNORECASE)
# An abbreviation with the words a question gives for it in parentheses ("R&D (research and development)").
_ABBREVIATION_SAID = re.compile(rf"(?<![\w&])(?:{_ABBREVIATIONS})(?![\w&])(?:\s*\([^()]*\))?", re.IGNORECASE)


def _phrase_key(text: str) -> str:
    """A spelled-out form's words, whatever joins them ("Non-disclosure\nagreement")."""
    return " ".join(re.findall(r"[a-z]+", text.lower()))


# Each spelled-out form, as a text may write it: any spacing, hyphens, commas, line breaks.
_ABBREVIATION_OF = {_phrase_key(v): k for k, v in _SPELLED_OUT.items()}
_SPELLED = re.compile(
    r"\b(" + "|".join(r"[\s,-]+".join(p.split()) for p in _ABBREVIATION_OF) + r")\b", re.IGNORECASE
)


def _abbreviation_term(abbreviation: str) -> str:
    """The one term an abbreviation and its spelled-out words share ("ceo", "r&d")."""
    a = abbreviation.lower()
    return a if "&" in a else stem(a)


def _abbreviation_terms(text: str) -> set[str]:
    """The abbreviations `text` says, as itself or in words: "Chief Executive Officer" says "ceo"."""
    out = {_abbreviation_term(m.group(0)) for m in _ABBREVIATION.finditer(text)}
    for m in _SPELLED.finditer(text):
        out.add(_abbreviation_term(_ABBREVIATION_OF[_phrase_key(m.group(0))]))
    return out


def spelled_out(question: str) -> str:
    """The question with each well-known abbreviation followed by its words in parentheses:
    "spend on R&D?" -> "spend on R&D (research and development)?". Parentheses restate, so the
    words count as evidence terms but not as names that must be found (rag._name_unsaid). An
    abbreviation already followed by parentheses is left as it is."""

    def spell(m: re.Match[str]) -> str:
        rest = question[m.end() :].lstrip()
        if rest.startswith("("):
            return m.group(0)
        return f"{m.group(0)} ({_SPELLED_OUT[m.group(0).lower()]})"

    return _ABBREVIATION.sub(spell, question)


def terms_of(text: str) -> set[str]:
    """Stemmed content words and numbers of `text` (numbers without their commas), and the
    abbreviations it says, in letters or in words (`_SPELLED_OUT`)."""
    out = _abbreviation_terms(text)
    for m in _TOKEN.finditer(text.replace(",", "")):
        w = m.group(0).lower()
        if w in STOP or (len(w) < 3 and not _SHORT_TERM.match(w)):
            continue
        out.add(stem(w))
    return out


def question_words(question: str) -> list[tuple[str, str]]:
    """(word, stem) of each evidence term of the question, first spelling kept: content words
    without function words and words that only frame the question."""
    seen: dict[str, str] = {}
    # An abbreviation is one term, met by itself or by its words as a phrase: "CEO" is not met by
    # "Executive Vice President and Chief Financial Officer", which holds "chief" and "officer".
    for m in _ABBREVIATION.finditer(question):
        seen.setdefault(_abbreviation_term(m.group(0)), m.group(0).lower())
    text = _ABBREVIATION_SAID.sub(" ", _FORM.sub(" ", question))
    for m in _TOKEN.finditer(text.replace(",", "")):
        raw = bare(m.group(0))
        w = stem(raw)
        if raw in STOP or raw in _FUNCTION or raw in _FRAMING or w in _FRAMING:
            continue
        if len(w) < 3 and not _SHORT_TERM.match(w):
            continue
        seen.setdefault(w, raw)
    return [(raw, w) for w, raw in seen.items()]


def question_terms(question: str) -> list[str]:
    """The question's evidence terms (stems): content words, without words that frame the question."""
    return [w for _, w in question_words(question)]


_CONTRACTION = re.compile(r"'(?:re|ve|ll|d|m|t)$|^i'")


def named_entities(question: str) -> list[str]:
    """Names the question gives: capitalized words (not function or framing words) and full dates.

    "What was Tesla's revenue in Q3?" -> ["tesla"]; "… the quarter ended July 1, 2023?" ->
    ["july 1, 2023"]; "Wi-Fi" -> ["wi-fi"]. Quarter and fiscal-year labels and form names
    ("10-Q", "10-Ks") are not names: titles carry them, and every filing is one.
    """
    out: list[str] = []
    for m in _DATE.finditer(question):
        out.append(f"{m.group(1).lower()} {int(m.group(2))}, {m.group(3)}")
    text = _DATE.sub(" ", _FORM.sub(" ", question))
    for m in _NAME.finditer(text):
        word = m.group(0)
        if not any(c.isupper() for c in word):
            continue
        name = bare(word)
        if (
            len(name) < 2
            or _CONTRACTION.search(name)  # "I'd", "We're", "Don't": not names
            or name in ("ok", "okay")
            or name in STOP
            or name in _FRAMING
            or name in _MONTHS
            or _QUARTER.match(name)
            or name in _SPELLED_OUT  # "CEO": a role, found as "Chief Executive Officer" too
            or name in out
        ):
            continue
        out.append(name)
    return out


# ----------------------------------------------------------------------------- units


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of evidence: a sentence or a whole table row, where it is, and its exact text."""

    doc_id: str
    title: str
    path: str
    page: int
    text: str  # exact, whitespace collapsed: what is quoted and what the viewer highlights
    kind: str = "sentence"  # "sentence" | "row"
    context: str = ""  # a table row's column headings (the lines above it that name periods)
    passage: int = -1  # index of the retrieved passage it lies in; -1: found outside them
    page_end: int | None = None  # the passage's last page (citations keep the span)

    @property
    def full(self) -> str:
        """What the unit says, with its context: a row means nothing without its columns."""
        return f"{self.context} — {self.text}" if self.context else self.text


@dataclass(frozen=True, slots=True)
class Scored:
    unit: Unit
    score: float
    cosine: float
    coverage: float


_NUM_CELL = re.compile(r"^\(?-?\$?\d(?:[\d,]*\d)?(?:\.\d+)?\)?%?$|^[—–-]+$")
_DIGIT_CELL = re.compile(r"\d")
_HEADER_WORDS = re.compile(r"\b(?:months?|weeks?|quarters?|years?)\s+ended\b|\bended\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
_ABBREV = re.compile(r"\b(?:Inc|Corp|Co|Ltd|No|U\.S|vs|e\.g|i\.e|Mr|Ms|Dr|St)\.$")


def is_row(line: str) -> bool:
    """A table row as pypdf flattens it: a label, then figures to the end of the line
    (`Total net sales $ 81,797 $ 82,959 …`, `Other income/(expense), net (265) (10) (594) (97)`)."""
    tokens = [t for t in line.split() if t not in ("$", "%")]
    cells = [bool(_NUM_CELL.match(t)) for t in tokens]
    n_num = sum(cells)
    if not cells or not cells[-1] or not re.search(r"[A-Za-z]{2}", line):
        return False
    if not any(c and _DIGIT_CELL.search(t) for c, t in zip(cells, tokens, strict=True)):
        return False
    if len(cells) >= 2 and cells[-2] and len(tokens) <= 16:
        return True
    return n_num >= 2 and n_num / len(tokens) >= 0.25


_HEADER_TOKEN = re.compile(
    r"^(?:\(?\d{1,2},?\)?|\d{4}|three|six|nine|twelve|months?|weeks?|ended|quarters?|years?|change|fiscal|"
    r"%|and|to|as|of|at|" + "|".join(_MONTH_NAMES) + r")[.,]?$",
    re.IGNORECASE,
)


def is_header(line: str) -> bool:
    """Column headings, or a piece of them (pypdf puts `July 1,` and `2023` on lines of their own):
    periods and dates, no amounts (`Three Months Ended Nine Months Ended`, `June 25, 2022 Change`)."""
    if "$" in line or len(line) > 160 or line.endswith("."):
        return False
    tokens = line.split()
    if not tokens:
        return False
    if all(_HEADER_TOKEN.match(t) for t in tokens):
        return any(re.search(r"[A-Za-z]|\d{4}", t) for t in tokens)
    return bool(_HEADER_WORDS.search(line)) and len(tokens) <= 10 and not line.endswith((".", ";"))


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) > 0.7 * len(letters)


def _split_long(sentence: str) -> list[str]:
    if len(sentence) <= MAX_UNIT_CHARS:
        return [sentence]
    parts = [p.strip() for p in re.split(r"(?<=;)\s+", sentence) if p.strip()]
    out: list[str] = []
    for p in parts:
        while len(p) > MAX_UNIT_CHARS:
            cut = p.rfind(", ", MAX_UNIT_CHARS // 2, MAX_UNIT_CHARS)
            cut = cut + 1 if cut > 0 else p.rfind(" ", 0, MAX_UNIT_CHARS)
            if cut <= 0:
                break
            out.append(p[:cut].strip())
            p = p[cut:].strip()
        out.append(p)
    return out


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph; "Inc." and "U.S." do not end one."""
    text = " ".join(paragraph.split())
    if not text:
        return []
    pieces = _SENTENCE_END.split(text)
    out: list[str] = []
    for p in pieces:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return [s for p in out for s in _split_long(p.strip()) if s]


def page_units(text: str) -> list[tuple[str, str, str]]:
    """(text, kind, context) of each unit on a page: table rows whole, prose as sentences.

    Lines are classified one by one: a row (label + figures), column headings (periods, dates,
    often one fragment a line), a label ending in ":" ("Net sales:"), a heading, or prose. Prose
    lines are joined until a blank line, a table line, a heading or a short last line, then cut
    into sentences. A row's context is the headings of its table and its label, so it reads
    "Three Months Ended … July 1, 2023 … Net sales: — Total net sales $ 81,797 …".
    """
    lines = [" ".join(ln.split()) for ln in text.split("\n")]
    long_len = sorted((len(ln) for ln in lines if ln), reverse=True)
    # A typical full prose line (a table page has few: never below 90 characters).
    wrap = max(90, long_len[len(long_len) // 4] if long_len else 0)
    out: list[tuple[str, str, str]] = []
    para: list[str] = []
    header: list[str] = []
    label = ""
    last = ""  # kind of the previous line: prose | row | header | label | heading

    def flush() -> None:
        if para:
            for s in split_sentences(" ".join(para)):
                # A lead-in ("… were as follows (in millions):") introduces a table and a line in
                # capitals ("CONDENSED CONSOLIDATED STATEMENTS OF CASH FLOWS") titles one: neither
                # states anything.
                if (
                    len(s.split()) >= 4
                    and re.search(r"[A-Za-z]{3}", s)
                    and not s.endswith(":")
                    and not _shouting(s)
                ):
                    out.append((s, "sentence", ""))
            para.clear()

    for ln in lines:
        if not ln:
            flush()
            continue
        if is_row(ln):
            flush()
            context = " ".join([*header, label]).strip()
            out.append((ln, "row", context[:200]))
            last = "row"
            continue
        if is_header(ln) and (not para or len(ln) < 0.5 * wrap):
            flush()
            if last != "header":
                header, label = [], ""
            header.append(ln)
            last = "header"
            continue
        if ln.endswith(":") and len(ln) < 0.5 * wrap and not para:
            label, last = ln, "label"
            continue
        ends = ln.endswith((".", "!", "?", ":", ";", ".)", '."', ".”"))
        if not ends and len(ln) < 0.6 * wrap and (not para or para[-1].endswith((".", ":", ";"))):
            flush()  # a heading: kept out of the next sentence and out of the evidence
            last = "heading"
            continue
        if last in ("row", "header", "label"):
            header, label = [], ""
        para.append(ln)
        last = "prose"
        if ends and len(ln) < 0.75 * wrap:
            flush()  # the short last line of a paragraph
    flush()
    return out


def _collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Passage:
    """A retrieved passage (or a whole document, `text=""`) and the pages it lies on."""

    doc_id: str
    title: str
    path: str
    text: str
    pages: Sequence[Page]
    index: int = -1  # rank among the retrieved passages (0 = best); -1: a whole document
    page_start: int = 0
    page_end: int = 0


def cut_units(passages: Sequence[Passage]) -> tuple[list[Unit], set[int]]:
    """Units of the passages, in passage order, each within its passage's text (whole pages for a
    document), and the passages any unit was found in. Duplicates (a line carried in two
    overlapping passages) are kept once, with the first."""
    out: list[Unit] = []
    found: set[int] = set()
    seen: set[tuple[str, str]] = set()
    cache: dict[tuple[str, int], list[tuple[str, str, str]]] = {}
    for p in passages:
        flat = _collapse(p.text)
        for page in p.pages:
            key = (p.doc_id, page.number)
            if key not in cache:
                cache[key] = page_units(page.text)
            for text, kind, context in cache[key]:
                if flat and not (text in flat or text[:60] in flat or text[-60:] in flat):
                    continue
                found.add(p.index)
                if (p.doc_id, text) in seen:
                    continue
                seen.add((p.doc_id, text))
                end = p.page_end if p.page_end >= page.number else None
                out.append(Unit(p.doc_id, p.title, p.path, page.number, text, kind, context, p.index, end))
    return out, found


# ----------------------------------------------------------------------------- scoring


def idf_weights(terms: Sequence[str], units: Sequence[set[str]]) -> dict[str, float]:
    """idf of each question term among the candidate units; a term in none weighs most."""
    n = len(units)
    out = {}
    for t in terms:
        df = sum(1 for u in units if t in u)
        out[t] = math.log(1.0 + (n + 1) / (df + 0.5))
    return out


def coverage(weights: dict[str, float], have: set[str]) -> float:
    """The idf-weighted share of the question's terms that `have` holds (0 when it has no terms)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in have) / total if total else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(y * y for y in b)) or 1.0
    return dot / (na * nb)


@dataclass
class Evidence:
    """Scored units, best first, and what the gate needs to judge them."""

    question: str
    ranked: list[Scored]
    weights: dict[str, float]
    terms_by_unit: dict[int, set[str]] = field(default_factory=dict)  # id(unit) -> its terms
    embedded: int = 0
    candidates: int = 0
    # Share of the question's terms that no document of the collections holds at all ("apartment"
    # in a library of 10-Q filings); set by rag.gather_evidence from the keyword index.
    absent: float = 0.0

    def union_coverage(self, k: int = 3) -> float:
        have: set[str] = set()
        for s in self.ranked[:k]:
            have |= self.terms_by_unit.get(id(s.unit), set())
        return coverage(self.weights, have)


def _embedded(unit: Unit) -> str:
    """What a unit is embedded as: its text; a row with its headings, each word once (a row alone,
    "Total net sales $ 81,797 …", does not say which period its figures are for)."""
    if not unit.context:
        return unit.text[:EMBED_CHARS]
    seen: list[str] = []
    for word in unit.context.split():
        if word not in seen:
            seen.append(word)
    return f"{' '.join(seen)} — {unit.text}"[:EMBED_CHARS]


def meaning_of(question: str) -> str:
    """The question as the embedder should compare it with units: without the names of documents,
    companies and quarters it gives ("Apple's", "Q3 2022", "10-Q"). Those choose the documents
    (the names check, the title match); left in, they make the unit that is only a name, such as a
    filing's certification ("I have reviewed this quarterly report on Form 10-Q of Apple Inc."),
    look like the answer. Dates stay: "the quarter ended July 1, 2023" is what a row is about.
    """
    text = _FORM.sub(" ", question)
    names = {n for n in named_entities(question) if " " not in n}
    out = []
    for m in _NAME.finditer(text):
        word = m.group(0)
        if bare(word) in names or _QUARTER_LABEL.fullmatch(word):
            continue
        out.append(word)
    return " ".join(out) or question


def score_units(
    question: str,
    units: Sequence[Unit],
    embed: Embed | None,
    *,
    known: dict[str, set[str]] | None = None,
    max_embed: int = MAX_EMBED,
) -> Evidence:
    """Rank `units` for `question`: cosine (when `embed` is given) + COVERAGE_WEIGHT × coverage.

    `known`: per document, terms the question uses that the document is known to hold (its title
    words, the names it contains), so "Apple's" is covered for every unit of an Apple filing.
    """
    terms = question_terms(question)
    unit_terms: list[set[str]] = []
    for u in units:
        have = terms_of(u.full)
        if known:
            have |= known.get(u.doc_id, set())
        unit_terms.append(have)
    weights = idf_weights(terms, unit_terms)
    cov = [coverage(weights, t) for t in unit_terms]
    # Keyword pre-selection: the best overall and the best few of each passage.
    prior = [cov[i] + 0.1 / (1 + max(0, u.passage)) for i, u in enumerate(units)]
    order = sorted(range(len(units)), key=lambda i: -prior[i])
    chosen: list[int] = []
    per: dict[int, int] = {}
    for i in order:
        p = units[i].passage
        if p >= 0 and per.get(p, 0) < PER_PASSAGE:
            chosen.append(i)
            per[p] = per.get(p, 0) + 1
    for i in order:
        if len(chosen) >= max_embed:
            break
        if i not in chosen:
            chosen.append(i)
    chosen = chosen[:max_embed] if len(chosen) > max_embed else chosen
    cos = dict.fromkeys(chosen, 0.0)
    if embed is not None and chosen:
        vectors = embed([meaning_of(question), *(_embedded(units[i]) for i in chosen)])
        q = vectors[0]
        for i, v in zip(chosen, vectors[1:], strict=True):
            cos[i] = cosine(q, v)
    elif chosen:
        # No embedder at hand: the cosine of the term sets stands in (the gate was fitted with the
        # embedder; the app always passes one).
        asked = set(terms)
        for i in chosen:
            mine = terms_of(units[i].text)
            cos[i] = len(asked & mine) / math.sqrt(len(asked) * len(mine)) if asked and mine else 0.0
    ranked = [Scored(units[i], cos[i] + COVERAGE_WEIGHT * cov[i], cos[i], cov[i]) for i in chosen]
    ranked.sort(key=lambda s: -s.score)
    return Evidence(
        question,
        ranked,
        weights,
        {id(units[i]): unit_terms[i] for i in chosen},
        embedded=len(chosen) if embed is not None else 0,
        candidates=len(units),
    )


# ----------------------------------------------------------------------------- names


def is_date(name: str) -> bool:
    """Whether a name from `named_entities` is a date ("july 1, 2023")."""
    return _DATE.fullmatch(name) is not None


def date_in(name: str, text: str) -> bool:
    """Whether lower-cased, whitespace-collapsed `text` holds the date `name` (commas and spaces loose)."""
    m = _DATE.fullmatch(name)
    if m is None:
        return False
    pattern = rf"\b{m.group(1).lower()}\.?\s*{int(m.group(2))},?\s*{m.group(3)}\b"
    return re.search(pattern, text) is not None


def display_name(name: str, question: str) -> str:
    """A name as the question wrote it ("tesla" -> "Tesla")."""
    m = re.search(re.escape(name).replace(r"\ ", r"\s*"), question, re.IGNORECASE)
    return m.group(0) if m else name


def _similar(a: set[str], b: set[str]) -> bool:
    return len(a & b) / max(1, len(a | b)) >= 0.7


def distinct(ranked: Sequence[Scored], limit: int) -> list[Scored]:
    """The best units, skipping near-repeats (the same boilerplate in two filings, a row twice)."""
    out: list[Scored] = []
    kept: list[set[str]] = []
    for s in ranked:
        if len(out) >= limit:
            break
        words = terms_of(s.unit.text)
        if any(_similar(words, k) for k in kept):
            continue
        out.append(s)
        kept.append(words)
    return out


def choose_quotes(
    evidence: Evidence, limit: int, margin: float, novel_margin: float | None = None
) -> list[Scored]:
    """The evidence to quote: the best unit, and up to `limit - 1` more that score within `margin`
    of it and whose own words (not their table's headings) cover the question about as well, or
    that score within `novel_margin` and bring a question term the quotes so far lack ("gaming
    and professional": the Professional Visualization sentence beside the Gaming one).

    A sibling row of the right table ("iPhone …" beside "Total net sales …") shares the headings
    that made it score, not the question's words, so it is left out.
    """
    ranked = evidence.ranked
    if not ranked:
        return []
    first = ranked[0]
    asked = set(evidence.weights)
    wide = margin if novel_margin is None else max(margin, novel_margin)

    def own(s: Scored) -> float:
        return coverage(evidence.weights, terms_of(s.unit.text))

    base = own(first)
    out = [first]
    kept = [terms_of(first.unit.text)]
    covered = kept[0] & asked
    for s in ranked[1:]:
        gap = first.score - s.score
        if len(out) >= limit or gap > wide:
            break
        words = terms_of(s.unit.text)
        if any(_similar(words, k) for k in kept):
            continue
        close = gap <= margin and own(s) >= 0.8 * base
        novel = bool((words & asked) - covered) and own(s) >= 0.5 * base
        if not (close or novel):
            continue
        out.append(s)
        kept.append(words)
        covered |= words & asked
    return out

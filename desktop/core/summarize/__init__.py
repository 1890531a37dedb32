"""Summarize a document of any length: one pass when it fits, map–reduce when not, with page references.

How a small model is helped:
- it never sees a whole section: the sentences that carry it (centrality, ranked by an injected
  function; the app uses the bundled embedding model) are chosen first and shown in document order;
- prompts are short and concrete; the map step always asks for plain "- " facts;
- what it writes is cleaned unit by unit (a bullet, or a sentence): echoed instructions, empty bullets,
  repeated words, near-duplicate points and points with no support in what it was shown are dropped,
  and a model caught looping is stopped early.

Page references are never the model's: every point is matched (by shared content words) to the
sentences or section points it was written from, and takes their pages. A point that matches nothing
it was shown is dropped rather than given a page it does not come from.

The package: `request` (what is asked, the engine and ranker protocols), `text` (sentence and page
heuristics), `prompts`, `points` (cleaning and page attribution of what the model writes) and `job`
(the two modes and their driver).
"""

from desktop.core.summarize.job import summarize_job
from desktop.core.summarize.prompts import SYSTEM
from desktop.core.summarize.request import (
    ABSTRACTIVE_MIN_PARAMS,
    DEFAULT_WORDS,
    MODES,
    STYLES,
    Ranker,
    Splitter,
    SummaryEngine,
    SummaryRequest,
)
from desktop.core.summarize.text import (
    format_pages,
    overlap_rank,
    pages_from_text,
    split_sentences_basic,
    strip_running_lines,
    without_references,
)
from desktop.core.text import content_words

__all__ = [
    "ABSTRACTIVE_MIN_PARAMS",
    "DEFAULT_WORDS",
    "MODES",
    "STYLES",
    "SYSTEM",
    "Ranker",
    "Splitter",
    "SummaryEngine",
    "SummaryRequest",
    "content_words",
    "format_pages",
    "overlap_rank",
    "pages_from_text",
    "split_sentences_basic",
    "strip_running_lines",
    "summarize_job",
    "without_references",
]

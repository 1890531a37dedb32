"""Words of a text, the one place that says what a word is and which words say nothing.

Two views, because two consumers genuinely need different words:

- `content_words`: what a sentence *says*. Words of three letters or more that start with a letter
  (inner apostrophes and hyphens kept: "company's", "wi-fi") and numbers (with their separators and
  a percent sign), without `STOPWORDS`. Grounding (is a sentence backed by its sources?), summaries
  (which sentences a point was written from), the evidence scorer and so the answer gate (whose
  constants were fitted on exactly these words: change them only with a refit, see answerability.py).
- `keyword_terms`: what a keyword index *matches*. Runs of letters and digits, as SQLite FTS5's
  unicode61 tokenizer splits text ("10-Q" is "10" and "q"; "Q3" stays "q3"), distinct and in
  order. The full-text query (`KEYWORD_STOPWORDS`, no single letters) and the title and cited-page
  matching of retrieval (`TITLE_STOPWORDS`, every token: a title's "Q" of "10-Q" names the form).

The three stop lists stay as they were when the answer figures (docs/answers.md) were measured;
merging them changes which passages are retrieved and which page is cited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Function words, and words that every document and every summary says ("paper", "document").
_STOPWORD_TEXT = """
a about above after again all also am an and any are as at be been being both but by can could did
do does doing each few for from further had has have having he her here hers him his how i if in
into is it its itself just me more most my no nor not now of off on once only or other our out over
own same she should so some such than that the their them then there these they this those through
to too under until up very was we were what when where which while who whom why will with would you
your also may might must shall used using use based one two new however thus paper text document
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Question words the full-text index does not need to find (BM25 gives them nothing anyway).
_KEYWORD_STOPWORD_TEXT = """
a an and are as at be been but by can could did do does for from had has have how i if in
into is it its of on or our so than that the their them then there these they this to was
we were what when where which who whom why will with would you your about after all also
any between both each more most other over same some such only own very just should now
during before under up down out off again further once here s t don
"""
KEYWORD_STOPWORDS = frozenset(_KEYWORD_STOPWORD_TEXT.split())

# Function words say nothing about which document a question means; "pdf" is in every file name.
_TITLE_STOPWORD_TEXT = """
a an and are as at be by can did do does for from had has have how i if in is it its of on or
our that the their this to was were what when where which who why will with you your pdf
"""
TITLE_STOPWORDS = frozenset(_TITLE_STOPWORD_TEXT.split())

WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]+|\d+(?:[.,]\d+)*%?")
TOKEN = re.compile(r"[^\W_]+")


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more (and numbers) that are not function words."""
    return {w for w in (m.group(0).lower() for m in WORD.finditer(text)) if w not in STOPWORDS and len(w) > 2}


def keyword_terms(
    text: str,
    stopwords: Iterable[str] = KEYWORD_STOPWORDS,
    *,
    single_letters: bool = False,
    max_terms: int | None = None,
) -> list[str]:
    """The distinct index tokens of `text`, lower-cased, in order, without `stopwords`.

    `single_letters`: keep one-letter tokens ("q" of "10-Q"); digits are always kept.
    """
    stop = stopwords if isinstance(stopwords, frozenset | set) else frozenset(stopwords)
    seen: dict[str, None] = {}
    for word in TOKEN.findall(text.lower()):
        if word in stop or (len(word) < 2 and not single_letters and not word.isdigit()) or word in seen:
            continue
        seen[word] = None
        if max_terms is not None and len(seen) >= max_terms:
            break
    return list(seen)

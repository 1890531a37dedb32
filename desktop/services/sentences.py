"""Sentences for summaries: a PDF-aware sentence splitter, and centrality with the bundled embedder.

`EmbeddingRanker` is the `Ranker` that core/summarize (job.py) calls: given the sections' sentences it
yields, section by section, how central each sentence is (cosine to the section's mean embedding,
damped for fragments such as table rows and headings). It works ahead in a background thread, so the
embedder reads section k+1 while the model (in its own process) writes about section k: on a 2-core
machine the two overlap instead of adding up.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

log = logging.getLogger("desktop.summarize")

# Words after which a period does not end a sentence (lower-cased, without the period).
_ABBREV_WORDS = """e.g i.e etc al fig figs eq eqs sec secs tab ref refs vs cf no nos vol pp p approx dr mr mrs
ms prof inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec st u.s"""
_ABBREV = frozenset(_ABBREV_WORDS.split())
_CANDIDATE = re.compile(r"[.!?]+[\"')\]]*\s+")
_MIN_WORDS = 4
_MAX_CHARS = 600  # longer "sentences" (run-on tables, text without punctuation) are cut at spaces


def split_sentences(text: str) -> list[str]:
    """Sentences of extracted text: line breaks joined, abbreviations and decimals respected. A blank
    line ends a sentence (a heading above a paragraph is not the start of its first sentence)."""
    text = re.sub(r"-\n(?=[a-z])", "", text)  # a word hyphenated across a line break
    paragraphs = re.split(r"\n[ \t]*\n", text)
    if len(paragraphs) > 1:
        return [s for para in paragraphs for s in split_sentences(para)]
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    out: list[str] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        end = m.end()
        before = text[start : m.start() + 1]
        last_word = before.rsplit(" ", 1)[-1].rstrip(".!?").lower().lstrip("(\"'[")
        nxt = text[end : end + 1]
        if m.group(0).startswith(".") and (
            last_word in _ABBREV or (len(last_word) == 1 and last_word.isalpha()) or nxt.islower()
        ):
            continue  # "et al. 2004", "Fig. 3", "J. Smith", "and so on. then" is not a boundary
        out.append(text[start:end].strip())
        start = end
    if start < len(text):
        out.append(text[start:].strip())
    return [piece for s in out for piece in _cut_long(s) if piece]


def _cut_long(sentence: str) -> list[str]:
    if len(sentence) <= _MAX_CHARS:
        return [sentence]
    pieces: list[str] = []
    rest = sentence
    while len(rest) > _MAX_CHARS:
        cut = rest.rfind(" ", 0, _MAX_CHARS)
        cut = cut if cut > _MAX_CHARS // 2 else _MAX_CHARS
        pieces.append(rest[:cut].strip())
        rest = rest[cut:]
    pieces.append(rest.strip())
    return pieces


def _quality(sentence: str) -> float:
    """1.0 for prose; less for fragments a summary should not be built from (headings, numbers, tables)."""
    words = sentence.split()
    if len(words) < _MIN_WORDS:
        return 0.3
    letters = sum(c.isalpha() for c in sentence)
    share = letters / max(1, len(sentence))
    q = 1.0 if share > 0.6 else 0.5 + share / 2
    if len(words) < 8:
        q *= 0.8
    return q


class EmbeddingRanker:
    """Centrality of sentences within each section, by the bundled all-MiniLM-L6-v2 embedder."""

    # A sentence's first ~60 word pieces say what it is about; encoding cost grows with length.
    MAX_CHARS = 320

    def __init__(self, embedder: Any = None, *, batch_size: int = 64) -> None:
        self._embedder = embedder
        self.batch_size = batch_size

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from desktop.services.embeddings import Embedder

            # One thread: the model runtime decodes on the other core, and two busy pools halve both.
            self._embedder = Embedder(threads=1)
        return self._embedder

    def embed(self, sentences: Sequence[str]) -> Any:
        """Unit-length rows (numpy), one per sentence."""
        return self.embedder.encode([s[: self.MAX_CHARS] for s in sentences], batch_size=self.batch_size)

    def scores(self, sentences: Sequence[str]) -> list[float]:
        """How central each sentence is to the group (cosine to the mean direction × prose quality)."""
        import numpy as np

        if not sentences:
            return []
        emb = self.embed(sentences)
        centroid = emb.mean(axis=0)
        norm = float(np.linalg.norm(centroid)) or 1.0
        sims = emb @ (centroid / norm)
        return [float(s) * _quality(t) for s, t in zip(sims, sentences, strict=True)]

    def __call__(self, groups: Sequence[Sequence[str]]) -> Iterator[list[float]]:
        return _WorkAhead(groups, self.scores)


class _WorkAhead:
    """Computes scores for each group, in order, in a daemon thread; next() waits for the next one."""

    def __init__(self, groups: Sequence[Sequence[str]], score: Any) -> None:
        self._groups = list(groups)
        self._score = score
        self._out: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._taken = 0
        self._thread = threading.Thread(target=self._work, name="summarize-rank", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        for group in self._groups:
            if self._stop.is_set():
                return
            try:
                self._out.put((True, self._score(group)))
            except BaseException as exc:
                self._out.put((False, exc))
                return

    def __iter__(self) -> _WorkAhead:
        return self

    def __next__(self) -> list[float]:
        if self._taken >= len(self._groups):
            raise StopIteration
        ok, value = self._out.get()
        self._taken += 1
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop working ahead (a cancelled summary); the group being embedded finishes first."""
        self._stop.set()

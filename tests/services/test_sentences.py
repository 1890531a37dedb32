"""Sentence splitting for PDF text and sentence centrality (fake vectors, then the real embedder)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from desktop.services.sentences import EmbeddingRanker, split_sentences


def test_splits_sentences_and_keeps_abbreviations_and_decimals() -> None:
    text = (
        "Smith et al. 2004 showed this. See Fig. 3 for details, e.g. the ratio of 3.14 to\n"
        "2.71. It works! Does it? Yes. J. Smith agreed."
    )
    assert split_sentences(text) == [
        "Smith et al. 2004 showed this.",
        "See Fig. 3 for details, e.g. the ratio of 3.14 to 2.71.",
        "It works!",
        "Does it?",
        "Yes.",
        "J. Smith agreed.",
    ]


def test_joins_words_hyphenated_across_lines_and_cuts_runaway_sentences() -> None:
    assert split_sentences("The experi-\nment failed.") == ["The experiment failed."]
    table = " ".join(f"cell{i}" for i in range(400))
    pieces = split_sentences(table)
    assert len(pieces) > 1 and all(len(p) <= 600 for p in pieces)
    assert " ".join(pieces) == table
    assert split_sentences("  \n ") == []


class FakeEmbedder:
    """Vectors from a lookup: sentences about 'bees' point one way, everything else another."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        rows = [[1.0, 0.1] if "bees" in t else [0.1, 1.0] for t in texts]
        v = np.array(rows, dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_off_topic_and_fragment_sentences_rank_lowest() -> None:
    ranker = EmbeddingRanker(FakeEmbedder())
    sents = [
        "The bees dance to show where the flowers are today.",
        "The bees return to the hive at dusk every evening.",
        "Stock prices fell sharply on Monday after the announcement.",
        "2 bees",
    ]
    scores = ranker.scores(sents)
    assert scores[0] > scores[2]
    assert scores[1] > scores[3]  # same direction, but a fragment


def test_ranker_works_ahead_in_order_and_reports_errors() -> None:
    emb = FakeEmbedder()
    ranker = EmbeddingRanker(emb)
    groups = [["The bees fly far from home."], ["Bees and more bees everywhere.", "A note on prices today."]]
    results = list(ranker(groups))
    assert [len(r) for r in results] == [1, 2]
    assert emb.calls == [1, 2]

    class Broken:
        def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
            raise RuntimeError("embedder failed")

    it = EmbeddingRanker(Broken())(groups)
    with pytest.raises(RuntimeError, match="embedder failed"):
        next(it)


def test_closing_stops_the_work_ahead() -> None:
    it = EmbeddingRanker(FakeEmbedder())([["The bees fly far from home."]] * 50)
    next(it)
    it.close()  # type: ignore[attr-defined]
    it._thread.join(timeout=5)  # type: ignore[attr-defined]
    assert not it._thread.is_alive()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_real_embedder_ranks_the_off_topic_sentence_last() -> None:
    ranker = EmbeddingRanker()
    sents = [
        "Honeybees tell each other where flowers are with a waggle dance.",
        "The angle of the bee dance encodes the direction of the food relative to the sun.",
        "Worker bees follow the dancer and then fly out to the flowers.",
        "The central bank raised interest rates by a quarter point.",
    ]
    scores = ranker.scores(sents)
    assert min(range(4), key=lambda i: scores[i]) == 3


def test_a_blank_line_ends_a_sentence_so_a_heading_is_not_glued_to_the_paragraph() -> None:
    text = "Team update — week 48\n\nThe new intake form went live on Monday. It works.\n \nNext steps"
    assert split_sentences(text) == [
        "Team update — week 48",
        "The new intake form went live on Monday.",
        "It works.",
        "Next steps",
    ]
    assert split_sentences("A line\nwrapped in the middle.") == ["A line wrapped in the middle."]

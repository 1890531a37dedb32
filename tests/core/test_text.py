"""core/text.py: the two views of a text's words, and that every consumer uses them."""

from __future__ import annotations

from desktop.core import evidence, grounding, rag
from desktop.core.text import KEYWORD_STOPWORDS, STOPWORDS, TITLE_STOPWORDS, content_words, keyword_terms


def test_content_words_are_what_a_sentence_says() -> None:
    assert content_words("Apple's Wi-Fi revenue rose 3.5% to $20,000 in the paper") == {
        "apple's",
        "wi-fi",
        "revenue",
        "rose",
        "3.5%",
        "20,000",
    }
    assert content_words("Q3 of it") == set()  # two letters: not a content word


def test_keyword_terms_are_what_the_index_matches() -> None:
    text = "What was the 10-Q's Q3 revenue, and the revenue of Q2?"
    assert keyword_terms(text) == ["10", "q3", "revenue", "q2"]  # no single letters, distinct, in order
    assert keyword_terms(text, max_terms=2) == ["10", "q3"]
    titled = keyword_terms(text, TITLE_STOPWORDS, single_letters=True)
    assert titled == ["10", "q", "s", "q3", "revenue", "q2"]


def test_one_definition_serves_every_consumer() -> None:
    assert grounding.content_words is content_words
    assert evidence.STOP is STOPWORDS
    assert rag.content_words("The Q3 2023 report.pdf") == {"q3", "2023", "report"}
    assert "pdf" in TITLE_STOPWORDS and "pdf" not in KEYWORD_STOPWORDS

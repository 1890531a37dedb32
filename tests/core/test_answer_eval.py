"""Answer scoring (desktop.core.answer_eval): figures as 10-Q answers write them, gold and support rules.

Also checks the unanswerable set that `hearth eval answers --extra` uses (tests/data).
"""

from __future__ import annotations

import json
import re

import pytest

from desktop.core.answer_eval import (
    AnswerScore,
    CitedSource,
    aggregate,
    claim_figures,
    figures,
    gold_recall,
    key_figures,
    marker_numbers,
    same_figure,
    score_answer,
    supports,
    unsupported_figures,
)
from tests.conftest import EVAL, REPO

UNANSWERABLE = REPO / "tests" / "data" / "unanswerable_eval.jsonl"


def one(text: str):  # type: ignore[no-untyped-def]
    got = figures(text)
    assert len(got) == 1, (text, got)
    return got[0]


# ----------------------------------------------------------------------------- reading figures


def test_dollars_commas_and_scale_words() -> None:
    f = one("Total net sales were $81,797 million")
    assert f.raw == 81797 and f.scale == 1e6 and f.value == 81_797e6 and f.step == 1
    g = one("about $81.8 billion")
    assert g.raw == 81.8 and g.value == pytest.approx(81.8e9) and g.step == pytest.approx(0.1)
    assert one("$2.4B").value == pytest.approx(2.4e9)
    assert one("$350M").value == 350e6
    assert one("3.5 bn").value == pytest.approx(3.5e9)
    # A lone letter after a number without a currency is not a scale ("5 m" may be metres).
    assert one("5 m").scale == 1.0


def test_percent_and_negative_figures() -> None:
    assert one("12.5%").percent and one("12.5 %").raw == 12.5
    assert one("up 3 percent").percent
    assert one("(1,234)").raw == -1234  # accounting tables: parentheses are negatives
    assert one("$ (1,234 )").raw == -1234
    assert one("a change of -3%").raw == -3
    years = figures("fiscal 2022-2023")  # a range, not a negative year
    assert [f.raw for f in years] == [2022, 2023]


def test_names_with_digits_are_not_figures() -> None:
    assert [f.text for f in figures("Apple's Q3 2023 10-Q; the H100 and A17 chips")] == ["2023"]
    assert figures("1st and 2nd") == []


def test_markers_and_page_references_are_not_claims() -> None:
    text = "Net sales were $81,797 million [1] (p. 10); see [2], pages 20-21, pp. 3 and [1, 3]"
    assert [f.text for f in claim_figures(text)] == ["81,797"]
    assert [f.text for f in claim_figures("[3] 2023 Q1 AAPL, page 20-21")] == ["2023"]
    listed = "The changes are:\n\n1. A new framework.\n2. A new approach (3) here, 4) there; a loss of (12)"
    assert [f.raw for f in claim_figures(listed)] == [-12]  # numbering and footnote marks are not claims
    quoted = (
        "[3] “Present value of lease liabilities 58,330” — 2022 Q3 AMZN, p. 12 (columns: December 31, 2021)"
    )
    assert [f.text for f in claim_figures(quoted)] == ["58,330", "2022"]  # the row's column label is not
    checked = "In the latest 10-⚠[not in sources: Q] sales were ⚠[not in sources: $42 million]; data: 1. The"
    assert [f.text for f in claim_figures(checked)] == ["42"]  # marks unwrapped: the 42 still counts


# ----------------------------------------------------------------------------- same figure


def test_rounded_figures_match_within_the_shown_precision() -> None:
    billions = one("$81.8 billion")
    table = one("Total net sales $ 81,797")  # a 10-Q table cell, "in millions" at its top
    assert supports(billions, table)  # 81.8e9 vs 81,797e6: 3e6 apart, within 0.05e9
    assert not supports(one("$81.9 billion"), table)
    assert supports(one("$81,797 million"), table)  # same digits, scale word or not
    assert supports(one("81,797"), one("$81,797 million"))
    # The precise figure is not "supported" by a rounded one, but it is the same gold figure.
    assert not supports(table, billions) and same_figure(table, billions)


def test_different_figures_and_percent_rules() -> None:
    assert not supports(one("$94,836"), one("81,797"))  # the wrong-quarter figure
    assert not supports(one("5"), one("5,123"))  # no scale word: no reading as thousands
    assert supports(one("5"), one("5.4"))  # rounding to the claim's precision
    assert not supports(one("80%"), one("80 countries"))  # a percentage needs a percentage
    assert supports(one("12.5"), one("12.5%"))
    assert supports(one("a decrease of 1,234"), one("(1,234)"))  # signs are said in words


# ----------------------------------------------------------------------------- gold figures

GOLD = (
    "Based on the provided documents, Apple's total net sales for the three months ended July 1, 2023, were "
    "$81,797 million, compared to $82,959 million for the three months ended June 25, 2022.\n\n"
    "1. Products: $60,584 million\n2. Services: 21,213 million (Q3 2023, fiscal 2023)\n\n"
    "SOURCE(S): 2023 Q3 AAPL.pdf"
)


def test_key_figures_leave_out_dates_years_labels_numbering_and_sources() -> None:
    keys = [f.text for f in key_figures(GOLD, "What were Apple's net sales in Q3 2023?")]
    assert keys == ["81,797", "82,959", "60,584", "21,213"]
    # A figure the question states is not one the answer must find.
    assert [f.text for f in key_figures("The rate was 21% against 12.5%.", "Is it below 21%?")] == ["12.5"]


def test_gold_recall_counts_rounded_and_precise_statements() -> None:
    recall, n, found = gold_recall("Sales were $81.8 billion [1] and services $21.2 billion.", GOLD)
    assert n == 4 and found == ["81,797", "21,213"] and recall == 0.5
    assert gold_recall("I could not find this in your documents.", GOLD)[0] == 0.0
    assert gold_recall("anything", "No acquisitions were reported. SOURCE(S): 2023 Q2 AAPL.pdf") == (
        None,
        0,
        [],
    )
    # The wrong quarter's figure, as in the issue: nothing of the gold.
    assert gold_recall("$94,836", "The total net sales were $81,797 million.")[0] == 0.0


def test_unsupported_numbers_are_those_no_source_or_the_question_states() -> None:
    sources = ["2023 Q3 AAPL", "Total net sales $ 81,797 $ 82,959 Services 21,213 19,604"]
    answer = "Sales were $81.8 billion [1] (p. 10), up 80% on 2022; services were 26% of sales."
    bad = unsupported_figures(answer, sources)
    assert [f.text for f in bad] == ["80", "2022", "26"]
    assert [f.text for f in unsupported_figures(answer, [*sources, "How did 2022 compare?"])] == ["80", "26"]
    assert unsupported_figures("Your documents say: “Total net sales $ 81,797” [1]", sources) == []


def test_marker_numbers_in_order_of_first_use() -> None:
    assert marker_numbers("a [2] b [1] c [2] d [9]", available=3) == [2, 1]


# ----------------------------------------------------------------------------- one answer, a run


def _sources(used: set[int]) -> list[CitedSource]:
    return [
        CitedSource(1, "amzn", 4, 4, used=1 in used),
        CitedSource(2, "aapl", 10, 11, used=2 in used),
    ]


def _score(answer: str, used: set[int], **kw: object) -> AnswerScore:
    args: dict[str, object] = {
        "qid": "q",
        "question": "What were Apple's total net sales in Q3 2023?",
        "answer": answer,
        "gold": "Apple's total net sales were $81,797 million. SOURCE(S): 2023 Q3 AAPL.pdf",
        "answerable": True,
        "abstained": False,
        "sources": _sources(used),
        "source_texts": ["2023 Q3 AAPL", "Total net sales $ 81,797 $ 82,959"],
        "gold_docs": {"aapl"},
        "gold_pages": set(),
        "seconds": 1.23456,
    }
    args.update(kw)
    return score_answer(**args)  # type: ignore[arg-type]


def test_a_cited_gold_document_must_be_one_the_answer_uses() -> None:
    s = _score("Total net sales were $81,797 million [2].", {2})
    assert s.contains_gold and s.gold_number_recall == 1.0
    assert s.cites_gold_doc and s.shows_gold_doc and s.used_sources == 1 and s.shown_sources == 2
    assert s.unsupported_numbers == 0 and s.cites_gold_page is None and s.seconds == 1.235
    unused = _score("Total net sales were $81,797 million.", set())
    assert unused.cites_gold_doc is False and unused.shows_gold_doc is True
    wrong = _score("$94,836 [1]", {1})
    assert wrong.contains_gold is False and wrong.cites_gold_doc is False
    assert wrong.unsupported == ("94,836",)


def test_gold_pages_count_when_a_used_source_spans_one() -> None:
    assert _score("x [2]", {2}, gold_pages={("aapl", 11)}).cites_gold_page is True
    assert _score("x [1]", {1}, gold_pages={("aapl", 11)}).cites_gold_page is False


def test_unanswerable_questions_score_abstention_not_gold() -> None:
    s = _score("I could not find this in your documents.", set(), answerable=False, abstained=True)
    assert s.contains_gold is None and s.cites_gold_doc is None and s.gold_word_recall is None
    assert s.abstained and s.unsupported_numbers == 0


def test_aggregate_rates_say_over_how_many() -> None:
    scores = [
        _score(
            "Total net sales were $81,797 million [2].",
            {2},
            ttft_s=0.5,
            truncated=False,
            timings={"evidence_s": 0.2, "first_token_s": 2.5},
            sentences_unsupported=1,
        ),
        _score("$94,836 [1]", {1}, seconds=3.0, ttft_s=1.5, truncated=True),
        _score("Not found.", set(), abstained=True),
        _score("The notice period is 12 months.", set(), answerable=False, gold="", seconds=5.0),
        _score("I could not find it.", set(), answerable=False, abstained=True, gold=""),
    ]
    agg = aggregate(scores)
    assert agg["answerable"] == 3 and agg["unanswerable"] == 2
    assert agg["gold_contained_rate"] == pytest.approx(1 / 3, abs=1e-4) and agg["n_gold_with_figures"] == 3
    assert agg["gold_doc_cited_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert agg["abstention_rate_unanswerable"] == 0.5 and agg["n_unanswerable"] == 2
    assert agg["false_abstention_rate_answerable"] == pytest.approx(1 / 3, abs=1e-4)
    assert agg["answers_with_unsupported_share"] == 0.4  # 94,836 and "12 months"
    assert agg["unsupported_numbers_mean"] == 0.4
    assert agg["answered_with_unsupported_share"] == pytest.approx(2 / 3, abs=1e-4) and agg["n_answered"] == 3
    assert agg["median_seconds"] == 1.235 and agg["median_ttft_s"] == 1.0
    assert agg["truncated_share"] == 0.5 and agg["n_with_stats"] == 2
    assert agg["gold_page_cited_rate"] is None and agg["n_gold_page"] == 0
    assert (
        agg["median_evidence_s"] == 0.2 and agg["median_first_token_s"] == 2.5 and agg["n_first_token"] == 1
    )
    assert agg["sentences_marked_unsupported_mean"] == 1.0  # only answers that say so count


# ----------------------------------------------------------------------------- the unanswerable set


def _unanswerable() -> list[dict[str, object]]:
    return [
        json.loads(line) for line in UNANSWERABLE.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def test_unanswerable_set_has_at_least_40_distinct_questions_in_the_qa_format() -> None:
    rows = _unanswerable()
    assert len(rows) >= 40
    assert len({r["id"] for r in rows}) == len(rows) and len({r["question"] for r in rows}) == len(rows)
    categories = set()
    for r in rows:
        assert r["answerable"] is False and r["docs"] == [] and r["gold_pages"] == []
        meta = r["meta"]
        assert isinstance(meta, dict) and meta["absent_patterns"]
        categories.add(meta["category"])
    assert categories == {
        "personal",
        "other_company",
        "after_filings",
        "never_reported",
        "tricky_common_words",
    }


@pytest.mark.slow
@pytest.mark.skipif(not (EVAL / "docugami_sec10q").is_dir(), reason="shared eval set absent")
def test_unanswerable_questions_name_nothing_the_filings_contain() -> None:
    """Each question's absence patterns match no page of the 12 filings (pypdf text, as indexed)."""
    import fnmatch

    # A data check that reads the PDFs: core's own tests also run with every heavy library
    # blocked (tests/test_layers.py), where this one has nothing to check with.
    PdfReader = pytest.importorskip("pypdf", exc_type=ImportError).PdfReader

    texts: dict[str, str] = {}
    for pdf in sorted((EVAL / "docugami_sec10q" / "pdfs").glob("*.pdf")):
        reader = PdfReader(pdf)
        if reader.is_encrypted:
            reader.decrypt("")
        texts[pdf.name] = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert len(texts) == 12
    found = []
    for r in _unanswerable():
        meta = r["meta"]
        assert isinstance(meta, dict)
        names = [n for n in texts if fnmatch.fnmatch(n, str(meta.get("absent_in", "*")))]
        assert names, r["id"]
        for pattern in meta["absent_patterns"]:
            for name in names:
                hit = re.search(pattern, texts[name], re.IGNORECASE | re.DOTALL)
                if hit:
                    found.append((r["id"], pattern, name, hit.group(0)[:60]))
    assert found == []

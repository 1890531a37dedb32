"""Evidence: units cut from stored pages (table rows whole, sentences), scored, names and quotes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from desktop.core import evidence
from desktop.core.evidence import (
    Passage,
    Unit,
    choose_quotes,
    cut_units,
    date_in,
    display_name,
    is_header,
    is_row,
    meaning_of,
    named_entities,
    page_units,
    question_terms,
    score_units,
    spelled_out,
    stem,
    terms_of,
)
from desktop.core.types import Page

# Page 10 of Apple's 10-Q for the quarter ended July 1, 2023, as pypdf extracts it (docugami set, MIT).
REVENUE_PAGE = "\n".join(
    [
        "Note 2 – Revenue",
        "Net sales disaggregated by significant products and services for the three- and "
        "nine-month periods ended July 1, 2023 and June 25, 2022 were as follows (in",
        "millions):",
        "Three Months Ended Nine Months Ended",
        "July 1,",
        "2023",
        "June 25,",
        "2022",
        "July 1,",
        "2023",
        "June 25,",
        "2022",
        "iPhone $ 39,669 $ 40,665 $ 156,778 $ 162,863",
        "Mac 6,840 7,382 21,743 28,669",
        "Services 21,213 19,604 62,886 58,941",
        "Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182",
        "Total net sales include $3.3 billion of revenue recognized in the three months "
        "ended July 1, 2023 that was included in deferred revenue as of April 1, 2023.",
        "The Company’s proportion of net sales by disaggregated revenue source was "
        "generally consistent for each reportable segment in Note 10, except in Greater "
        "China.",
        "Macroeconomic Conditions",
        "Macroeconomic conditions, including inflation, changes in interest rates, and "
        "currency fluctuations, have directly and indirectly impacted the Company.",
        "Apple Inc. | Q3 2023 Form 10-Q | 7",
    ]
)


def bow_embed(texts: Sequence[str]) -> list[list[float]]:
    """A stand-in embedder: hashed bags of stemmed words (cosine ~ shared words)."""
    out = []
    for t in texts:
        v = [0.0] * 256
        for w in evidence.terms_of(t):
            v[sum(ord(c) * 31**i for i, c in enumerate(w)) % 256] += 1.0
        out.append(v)
    return out


def test_table_rows_stay_whole_with_their_column_headings() -> None:
    units = page_units(REVENUE_PAGE)
    rows = {t: ctx for t, kind, ctx in units if kind == "row"}
    total = rows["Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182"]
    assert "Three Months Ended" in total and "July 1, 2023" in total
    assert "iPhone $ 39,669 $ 40,665 $ 156,778 $ 162,863" in rows
    sentences = [t for t, kind, _ in units if kind == "sentence"]
    # The table's lead-in states nothing and the heading is not glued to the next sentence.
    assert not any(s.endswith(":") for s in sentences)
    assert any(s.startswith("Macroeconomic conditions, including inflation") for s in sentences)
    assert any(s.startswith("Total net sales include $3.3 billion") for s in sentences)
    assert not any("Form 10-Q | 7" in t for t, _, _ in units)


def test_lines_are_told_apart() -> None:
    assert is_row("Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182")
    assert is_row("Other income/(expense), net (265) (10) (594) (97)")
    assert is_row("Europe 20,205 19,287 5 % 71,831 72,323 (1)%")
    assert not is_row("Note 2 – Revenue")
    assert not is_row(
        "recognized in the nine months ended July 1, 2023 that was included in deferred revenue "
        "as of April 1, 2023, $3.1"
    )
    assert is_header("Three Months Ended Nine Months Ended")
    assert is_header("July 1,") and is_header("2022 Change")
    assert not is_header("Net sales increased in 2023.")


def test_units_are_cut_only_from_the_passage_they_lie_in() -> None:
    chunk = "Macroeconomic conditions, including inflation, changes in interest rates, and currency fluctuations, have directly and indirectly impacted the Company."  # noqa: E501
    passage = Passage("d", "2023 Q3 AAPL", "/a.pdf", chunk, [Page(10, REVENUE_PAGE)], 0, 10, 10)
    units, found = cut_units([passage])
    assert [u.text for u in units] == [chunk] and found == {0}
    assert units[0].page == 10 and units[0].passage == 0
    # A whole document (no passage text) gives every unit of its pages.
    whole, _ = cut_units([Passage("d", "t", "", "", [Page(10, REVENUE_PAGE)], -1, 10, 10)])
    assert len(whole) > 5


def test_question_terms_and_names() -> None:
    q = "What was Apple's total net sales in the quarter ended July 1, 2023, per its 10-Q?"
    assert named_entities(q) == ["july 1, 2023", "apple"]
    assert question_terms(q) == ["appl", "total", "net", "sal", "quarter", "end", "july", "1", "2023"]
    # Framing words are not evidence terms; form names and quarter labels are not names.
    assert question_terms("Analyze any significant trends in NVIDIA's Q3 revenue") == [
        "nvidia",
        "q3",
        "revenu",
    ]
    assert named_entities("In NVIDIA's Q2 2023 10-Qs, how did Tesla and Wi-Fi fare?") == [
        "nvidia",
        "tesla",
        "wi-fi",
    ]
    assert named_entities("how much rent do i pay?") == []
    assert stem("repurchased") == stem("repurchase") and stem("sales") == stem("sale")
    assert display_name("tesla", "What did tesla or Tesla say?") == "tesla"
    assert date_in("july 1, 2023", "for the quarter ended july 1,2023 and")
    assert not date_in("july 1, 2023", "ended april 1, 2023")


def _unit(text: str, doc: str = "q3", context: str = "", passage: int = 0) -> Unit:
    return Unit(doc, doc, "", 1, text, "row" if context else "sentence", context, passage)


def test_rare_question_terms_weigh_more_than_common_ones() -> None:
    units = [
        _unit("The lease period for the warehouse is ten years."),
        _unit("The reporting period ended in June."),
        _unit("Revenue for the period grew."),
        _unit("The period of the report is the quarter."),
    ]
    ev = score_units("What is the lease period?", units, None)
    assert ev.ranked[0].unit.text.startswith("The lease period")
    assert ev.weights[stem("lease")] > ev.weights["period"]


def test_embedding_is_capped_and_the_question_goes_first() -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return bow_embed(texts)

    units = [_unit(f"Sentence number {i} about lighthouses and harbours.", passage=i % 6) for i in range(300)]
    start = time.perf_counter()
    ev = score_units("Which harbours have lighthouses?", units, embed)
    assert calls == [evidence.MAX_EMBED + 1] and ev.embedded == evidence.MAX_EMBED
    assert ev.candidates == 300 and time.perf_counter() - start < 0.5
    # Every passage's best units were embedded, whatever their keyword score.
    assert {s.unit.passage for s in ev.ranked} == set(range(6))


def test_sibling_rows_of_the_right_table_are_not_quoted() -> None:
    ctx = "Three Months Ended July 1, 2023 June 25, 2022"
    units = [
        _unit("Total net sales $ 81,797 $ 82,959", context=ctx),
        _unit("iPhone $ 39,669 $ 40,665", context=ctx),
        _unit("Mac 6,840 7,382", context=ctx),
    ]
    ev = score_units("What were total net sales in the quarter ended July 1, 2023?", units, bow_embed)
    quotes = choose_quotes(ev, 3, 0.5)
    assert [q.unit.text for q in quotes] == ["Total net sales $ 81,797 $ 82,959"]


def test_the_row_of_the_named_quarter_wins_by_its_headings() -> None:
    units = [
        _unit("Total net sales $ 94,836 $ 97,278", "q2", "Three Months Ended April 1, 2023 March 26, 2022"),
        _unit("Total net sales $ 81,797 $ 82,959", "q3", "Three Months Ended July 1, 2023 June 25, 2022"),
    ]
    ev = score_units("What were total net sales in the quarter ended July 1, 2023?", units, bow_embed)
    assert "81,797" in ev.ranked[0].unit.text


def test_the_embedder_compares_the_question_without_the_names_that_chose_the_documents() -> None:
    q = "How much did NVIDIA allocate to R&D in its Q1 2023 10-Q, per the quarter ended April 30, 2023?"
    assert meaning_of(q) == ("How much did allocate to R D in its 2023 per the quarter ended April 30 2023")


def test_a_title_in_capitals_is_not_evidence() -> None:
    units = page_units(
        "CONDENSED CONSOLIDATED STATEMENTS OF CASH FLOWS (Unaudited)\n"
        "Cash generated by operating activities 98,024 104,414\n"
        "Cash generated by operating activities was driven by net income in the first nine months."
    )
    assert [k for _, k, _ in units] == ["row", "sentence"]


def test_a_two_part_question_quotes_a_unit_for_each_part() -> None:
    units = [
        _unit("Gaming revenue for the third quarter was $2.86 billion, up 81% from a year ago."),
        _unit("Professional Visualization revenue for the third quarter was $416 million."),
        _unit("Automotive revenue for the third quarter was $261 million."),
    ]
    ev = score_units("What were the gaming and professional revenues in the third quarter?", units, bow_embed)
    quotes = [q.unit.text.split()[0] for q in choose_quotes(ev, 3, 0.01, 0.5)]
    assert quotes[0] in ("Gaming", "Professional") and sorted(quotes) == ["Gaming", "Professional"]


def test_abbreviations_are_searched_with_the_words_documents_use() -> None:
    asked = spelled_out("How much did NVIDIA spend on R&D?")
    assert asked == "How much did NVIDIA spend on R&D (research and development)?"
    # One term, met by the abbreviation or its words as a phrase, not by the words one by one.
    assert question_terms(asked) == ["r&d", "nvidia", "spend"]
    assert "r&d" in terms_of("Research and development expenses were $2.29 billion")
    assert "r&d" in terms_of("R&D rose 18%")
    assert "ceo" in terms_of("Jen-Hsun Huang, the President and Chief\nExecutive Officer of NVIDIA")
    assert "ceo" not in terms_of("Executive Vice President and Chief Financial Officer")
    assert "sg&a" in terms_of("Selling, general and administrative 1,234")
    assert named_entities(asked) == ["nvidia"]  # the spelled-out words are terms, not names
    # A role's abbreviation is no name to be found as written: filings say "Chief Executive Officer".
    assert named_entities(spelled_out("Who is NVIDIA's CEO?")) == ["nvidia"]
    assert "selling, general and administrative" in spelled_out("Apple's SG&A in Q3")
    assert spelled_out("Who is the CEO (chief executive)?") == "Who is the CEO (chief executive)?"
    # Only whole abbreviations: "research" holds no "eps", "R&Da" and "B2B" are left alone.
    for untouched in ("What were the steps of the research?", "R&Da", "B2B sales", "The ceos met"):
        assert spelled_out(untouched) == untouched

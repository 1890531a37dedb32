"""The shared support check: numbers, names and words of a sentence against what it was written from."""

from __future__ import annotations

from desktop.core.grounding import Support, content_words, mark_unsupported, names_in, numbers_in

QUOTES = [
    "Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182",
    "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor.",
]


def test_numbers_are_compared_without_commas_and_trailing_zeros() -> None:
    assert numbers_in("$81,797 and 3.0% in 2023") == {"81797", "3", "2023"}
    assert numbers_in("81797") <= Support(QUOTES).numbers


def test_a_sentence_with_an_invented_figure_or_name_is_not_supported() -> None:
    support = Support(QUOTES)
    assert support.has_specifics_of("Total net sales were $81,797 million.")
    assert not support.has_specifics_of("Total net sales were $94,836 million.")
    assert not support.has_specifics_of("The lighthouse was built by Tesla in 1874.")
    assert support.supports("The Zanthor lighthouse was built in 1874 by Mira Okafor.", 0.6)
    assert not support.supports("Whale oil was shipped from distant harbours every winter.", 0.6)


def test_possessives_count_as_the_name_when_asked() -> None:
    assert "okafor's" in names_in("Built by Okafor's firm.")
    assert not Support(QUOTES).has_specifics_of("It was Okafor's design.")
    assert Support(QUOTES, possessives=True).has_specifics_of("It was Okafor's design.")
    assert Support(QUOTES, possessives=True).coverage("Okafor's lighthouse") == 1.0


def test_unsupported_specifics_are_marked_in_place_never_removed() -> None:
    support = Support(["Tenants give notice in writing.", "The deposit is $1,200."])
    text = "The notice period is 12 months and the deposit is $1,200, says Tesla."
    spans = support.unsupported_spans(text)
    assert [s.text for s in spans] == ["12 months", "Tesla"]
    marked = mark_unsupported(text, spans)
    assert marked == (
        "The notice period is ⚠[not in sources: 12 months] and the deposit is $1,200, "
        "says ⚠[not in sources: Tesla]."
    )


def test_dates_amounts_and_percentages_are_spans_when_missing() -> None:
    support = Support(["Net sales rose 8% in the quarter ended July 1, 2023."])
    spans = support.unsupported_spans("Sales rose 9% to $5.6 billion by December 30, 2023, not July 1, 2023.")
    assert [s.text for s in spans] == ["9%", "$5.6 billion", "December 30, 2023"]


def test_sources_of_names_the_texts_a_sentence_rests_on() -> None:
    support = Support(QUOTES)
    assert support.sources_of("Okafor built the lighthouse in 1874.") == (1,)
    assert support.sources_of("Net sales were 81,797.") == (0,)
    assert support.sources_of("Nothing here matches.") == ()


def test_content_words_skip_function_words() -> None:
    assert content_words("What is the notice period of the lease?") == {"notice", "period", "lease"}


NVIDIA_QUOTES = [
    "Gaming revenue was $2.49 billion, up 22% from the previous quarter and up 81% from a year ago.",
    "Revenue for the third quarter was $18.12 billion, up 34% from the previous quarter.",
    "Data Center revenue was a record $14.51 billion, up 41% from the previous quarter.",
    "Total net sales $ 81,797 $ 82,959",
]


def test_a_figure_restated_without_the_words_that_name_it_is_caught() -> None:
    """Seen on NVIDIA's filing: "NVIDIA's revenue for the quarter was $2.49 billion, up 22%" from
    "Gaming revenue was $2.49 billion, up 22%": every number and word is in the quote, and the
    sentence makes one segment's revenue the company's."""
    support = Support(NVIDIA_QUOTES, possessives=True)
    dropped = support.dropped_subjects
    assert dropped("NVIDIA's revenue for the quarter was $2.49 billion, up 22%.") == ["gaming"]
    assert dropped("Revenue was $14.51 billion.") == ["center", "data"]
    assert dropped("The company earned $2.49 billion.") == ["gaming", "revenue"]
    # kept: the figure's own words; or only time and "total" left out; or a figure whose clause names nothing
    assert dropped("Gaming revenue was $2.49 billion, up 22% from the previous quarter.") == []
    assert dropped("Data Center revenue reached $14.51 billion.") == []
    assert dropped("NVIDIA's revenue for the quarter was $18.12 billion.") == []
    assert dropped("Net sales were $81,797 million; a year before they were $82,959 million.") == []
    assert dropped("Revenue rose 34% in the quarter ended October 29, 2023.") == []


def test_a_date_must_be_in_the_sources_as_a_date_not_as_its_parts() -> None:
    """"July 31, 2024" made from a "July 31, 2022" column heading and "fiscal year 2024"."""
    support = Support(["Three Months Ended July 30, 2023 July 31, 2022", "Revenue in fiscal year 2024 rose."])
    made_up = "Revenue for the second quarter (July 31, 2024) rose."
    assert not support.has_specifics_of(made_up)
    assert [s.text for s in support.unsupported_spans(made_up)] == ["July 31, 2024"]
    assert support.has_specifics_of("Revenue rose in the quarter ended July 31 2022.")  # spelled otherwise

"""The summarize job's logic, with a fake model: decisions, budgets, page references, cleaning, cancel."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Sequence

import pytest

from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError, Cancelled, ContextOverflow
from desktop.core.events import Event, Progress, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.summarize import (
    SummaryRequest,
    format_pages,
    pages_from_text,
    split_sentences_basic,
    summarize_job,
    without_references,
)
from desktop.core.types import ChatMessage, Completion, GenerationStats, Page, Summary

Script = Callable[[str], str]


def Abstractive(pages: tuple[Page, ...], **kw: object) -> SummaryRequest:
    """The model writes every point (map–reduce): what most tests here exercise."""
    return SummaryRequest(pages, mode="abstractive", **kw)  # type: ignore[arg-type]


def copy_first_sentences(prompt: str, n: int = 3) -> str:
    """A faithful fake model: the first sentence of the first paragraphs (or notes) of what it was shown."""
    body = prompt.split(":\n", 1)[1].rsplit("\n\n", 1)[0]
    lines = [ln.strip("- ").strip() for ln in body.split("\n") if ln.strip()]
    picks = [split_sentences_basic(ln)[0] for ln in lines[:n]]
    return "\n".join(f"- {p}" for p in picks)


class FakeEngine:
    """Counts a token per word; writes what `script` returns, a word per Token; records every call."""

    def __init__(self, n_ctx: int = 2048, script: Script = copy_first_sentences) -> None:
        self._n_ctx = n_ctx
        self.script = script
        self.calls: list[tuple[int, int, str]] = []  # (prompt tokens, max_tokens, prompt)
        self.on_token: Callable[[], None] | None = None

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages) + 2

    def count_text_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        prompt = messages[-1].content
        n_in = self.count_tokens(messages)
        self.calls.append((n_in, params.max_tokens, prompt))
        assert n_in + params.max_tokens <= self.n_ctx, "prompt + answer must fit the context"
        words = re.findall(r"\S+\s*", self.script(prompt))
        out = 0
        for w in words[: params.max_tokens]:
            if cancel.cancelled:
                raise Cancelled()
            out += 1
            yield Token(w)
            if self.on_token:
                self.on_token()
        reason = "length" if len(words) > params.max_tokens else "stop"
        text = "".join(words[: params.max_tokens])
        return Completion(
            text, GenerationStats(prompt_tokens=n_in, completion_tokens=out, stop_reason=reason)
        )


def topic_pages(n: int, sentences_per_page: int = 8) -> tuple[Page, ...]:
    """Pages whose words are unique to the page, so a point's true page can be told from its words."""
    pages = []
    for i in range(1, n + 1):
        sents = [
            f"The reactor{i}x{k} produces energy{i}x{k} for village{i}x{k} during winter{i}x{k} nights."
            for k in range(sentences_per_page)
        ]
        pages.append(Page(i, " ".join(sents)))
    return tuple(pages)


def run(
    engine: FakeEngine, request: SummaryRequest, cancel: CancelToken | None = None
) -> tuple[Summary, list[Event]]:
    events: list[Event] = []
    result = run_job(summarize_job(engine, request), events.append, cancel)
    return result, events


def page_of_point(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"reactor(\d+)x", text)}


def test_short_text_is_summarized_in_one_pass() -> None:
    engine = FakeEngine()
    summary, events = run(engine, Abstractive(topic_pages(2)))
    assert summary.levels == 1
    assert len(engine.calls) == 1
    assert summary.points
    assert any(isinstance(e, Token) for e in events)


def test_long_text_goes_through_map_and_reduce() -> None:
    engine = FakeEngine(n_ctx=512)
    summary, _ = run(engine, Abstractive(topic_pages(12)))
    assert summary.levels >= 2
    assert summary.stats["sections"] > 1
    if summary.levels == 2:  # each section once, then one final call
        assert len(engine.calls) == summary.stats["sections"] + 1
    assert summary.page_count == 12


def test_many_sections_need_more_than_one_reduce_level() -> None:
    engine = FakeEngine(n_ctx=400)
    summary, events = run(engine, Abstractive(topic_pages(80)))
    assert summary.levels >= 3
    assert summary.points
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total


def test_every_call_respects_the_context_budget() -> None:
    engine = FakeEngine(n_ctx=400)
    run(engine, Abstractive(topic_pages(30), style="detailed"))
    for n_in, max_tokens, _ in engine.calls:
        assert n_in + max_tokens <= 400


def test_page_references_come_from_the_sources_not_the_model() -> None:
    def liar(prompt: str) -> str:
        # The model claims pages and invents a point with no support in the text.
        true = copy_first_sentences(prompt, 2)
        return "- See page 999: unicorns migrate across Paris every spring.\n" + true.replace(
            "\n", " (page 42)\n"
        )

    engine = FakeEngine(n_ctx=512, script=liar)
    summary, _ = run(engine, Abstractive(topic_pages(10)))
    assert summary.points
    for point in summary.points:
        assert "unicorn" not in point.text
        assert set(point.pages) <= set(range(1, 11))
        # The page the point's words come from is among its references.
        assert page_of_point(point.text) <= set(point.pages)
    assert summary.stats["dropped_unsupported"] >= 1


def test_one_pass_points_carry_the_page_of_their_sentence() -> None:
    engine = FakeEngine()
    summary, _ = run(engine, Abstractive(topic_pages(3), select_ratio=1.0))
    assert summary.levels == 1
    for point in summary.points:
        assert set(point.pages) == page_of_point(point.text)


def test_streamed_text_is_the_final_text() -> None:
    for style in ("key_points", "paragraph"):
        engine = FakeEngine(n_ctx=512)
        summary, events = run(engine, Abstractive(topic_pages(6), style=style))
        streamed = "".join(e.text for e in events if isinstance(e, Token))
        assert streamed.strip() == summary.text
        assert "(p." in summary.text or "(pp." in summary.text


def test_progress_counts_sections_with_an_estimate_of_time_left() -> None:
    engine = FakeEngine(n_ctx=512)
    _, events = run(engine, Abstractive(topic_pages(12)))
    progress = [e for e in events if isinstance(e, Progress)]
    dones = [p.done for p in progress]
    assert dones == sorted(dones)
    assert all(p.done <= p.total for p in progress)
    assert any(p.eta_s is not None and p.eta_s >= 0 for p in progress[1:-1])
    assert progress[-1].done == progress[-1].total
    assert all(p.unit == "sections" for p in progress)


def test_cancel_mid_way_stops_at_once() -> None:
    engine = FakeEngine(n_ctx=512)
    cancel = CancelToken()
    seen = 0

    def on_token() -> None:
        nonlocal seen
        seen += 1
        if seen == 5:
            cancel.cancel()

    engine.on_token = on_token
    with pytest.raises(Cancelled):
        run(engine, Abstractive(topic_pages(12)), cancel)
    assert len(engine.calls) == 1


def test_cancel_between_sections() -> None:
    engine = FakeEngine(n_ctx=512)
    cancel = CancelToken()
    events: list[Event] = []

    def on_event(e: Event) -> None:
        events.append(e)
        if isinstance(e, Progress) and e.done == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_job(summarize_job(engine, Abstractive(topic_pages(12))), on_event, cancel)
    assert len(engine.calls) == 2


def test_output_is_cleaned_of_echoes_empty_bullets_and_repeats() -> None:
    def messy(prompt: str) -> str:
        facts = copy_first_sentences(prompt, 2).split("\n")
        return "\n".join(
            [
                "Here are the key points of the text:",
                "- ",
                "*",
                facts[0].replace("The", "1. **The the**", 1),
                facts[0],
                facts[0],
                facts[1] if len(facts) > 1 else "",
            ]
        )

    engine = FakeEngine(script=messy)
    summary, _ = run(engine, Abstractive(topic_pages(2), select_ratio=1.0))
    texts = [p.text for p in summary.points]
    assert not any(t.lower().startswith("here are") for t in texts)
    assert all(len(t.split()) >= 3 for t in texts)
    assert not any("the the" in t.lower() or "**" in t for t in texts)
    assert len(texts) == len(set(texts)) == 2


def test_a_looping_model_is_stopped_early() -> None:
    def loop(prompt: str) -> str:
        first = copy_first_sentences(prompt, 1)
        return first + "\n" + "\n".join([first] * 60)

    engine = FakeEngine(script=loop)
    summary, events = run(engine, Abstractive(topic_pages(2), length=300))
    tokens = [e for e in events if isinstance(e, Token)]
    assert summary.stats["early_stops"] == 1
    assert len(summary.points) == 1
    assert len(tokens) == 1


def test_truncated_last_point_is_dropped() -> None:
    def cut(prompt: str) -> str:
        return copy_first_sentences(prompt, 2) + "\n- And the reactor1x3 also produces" + " more" * 300

    engine = FakeEngine(script=cut)
    summary, _ = run(engine, Abstractive(topic_pages(2), select_ratio=1.0))
    assert len(summary.points) == 2
    assert all(p.text.endswith(".") for p in summary.points)
    assert not any(p.text.endswith("produces.") for p in summary.points)


def test_nothing_to_summarize_is_a_clear_error() -> None:
    with pytest.raises(AppError) as err:
        run(FakeEngine(), Abstractive((Page(1, "   "), Page(2, ""))))
    assert "no text" in err.value.user_message.lower()


def test_unknown_style_and_tiny_context_are_clear_errors() -> None:
    with pytest.raises(AppError):
        run(FakeEngine(), Abstractive(topic_pages(1), style="poem"))
    with pytest.raises(ContextOverflow):
        run(FakeEngine(n_ctx=120), Abstractive(topic_pages(1)))


def test_target_length_bounds_the_answer() -> None:
    engine = FakeEngine()
    run(engine, Abstractive(topic_pages(2), style="paragraph", length=40))
    short = engine.calls[-1][1]
    run(engine, Abstractive(topic_pages(2), style="paragraph", length=300))
    assert engine.calls[-1][1] > short


def test_helpers() -> None:
    assert format_pages([3]) == "p. 3"
    assert format_pages([5, 3, 4, 9]) == "pp. 3–5, 9"
    assert format_pages([]) == ""
    assert [p.number for p in pages_from_text("one\fthree\f\f")] == [1, 2]
    assert split_sentences_basic("It works. Does it? Yes!") == ["It works.", "Does it?", "Yes!"]


def test_a_short_final_list_is_topped_up_with_section_points() -> None:
    def terse_final(prompt: str) -> str:
        n = 1 if "Notes:" in prompt else 3
        return copy_first_sentences(prompt, n)

    for top_up, expect_more in ((False, False), (True, True)):
        engine = FakeEngine(n_ctx=512, script=terse_final)
        summary, events = run(engine, Abstractive(topic_pages(12), length=150, top_up=top_up))
        assert summary.levels >= 2
        assert (len(summary.points) > 1) is expect_more
        streamed = "".join(e.text for e in events if isinstance(e, Token))
        assert streamed.strip() == summary.text
        for point in summary.points:
            assert page_of_point(point.text) <= set(point.pages)


# ----------------------------------------------------------------------------- grounded mode

_LETTERS = "bcdfghklmnprstvz"


def _word(*ns: int) -> str:
    """A made-up word, letters only, unique to its numbers (a quotable sentence has no digits)."""
    return "".join(_LETTERS[d // 16] + "a" + _LETTERS[d % 16] + "o" for d in ns)


def prose_pages(n: int, per_page: int = 8) -> tuple[tuple[Page, ...], dict[str, int]]:
    """Pages of plain sentences whose rare words are unique to them, and each sentence's true page."""
    pages, page_of = [], {}
    for i in range(1, n + 1):
        sents = [
            "The station {} keeps {} and {} near {} with {}.".format(*(_word(i, k, j) for j in range(5)))
            for k in range(per_page)
        ]
        page_of.update({s: i for s in sents})
        pages.append(Page(i, " ".join(sents)))
    return tuple(pages), page_of


def grounded(pages: tuple[Page, ...], **kw: object) -> SummaryRequest:
    return SummaryRequest(pages, mode="grounded", **kw)  # type: ignore[arg-type]


def quoted(summary: Summary) -> list:  # type: ignore[type-arg]
    return list(summary.points[summary.stats["overview_sentences"] :])


@pytest.mark.parametrize("n_pages", [3, 40])
def test_grounded_points_are_the_documents_sentences_with_their_true_pages(n_pages: int) -> None:
    pages, page_of = prose_pages(n_pages)
    engine = FakeEngine(n_ctx=1024)
    summary, events = run(engine, grounded(pages, length=120))
    assert summary.stats["mode"] == "grounded"
    points = quoted(summary)
    assert len(points) >= 3 and summary.stats["quoted_points"] == len(points)
    for point in points:
        assert point.text in page_of, "a point is a verbatim sentence of the document"
        assert point.pages == (page_of[point.text],)
    # In document order, no repeats, about the asked length (the overview's words count too).
    order = [list(page_of).index(p.text) for p in points]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert sum(len(p.text.split()) for p in summary.points) <= 120 + 20
    # The model is called once (the overview), however long the document.
    assert len(engine.calls) == 1
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert streamed.strip() == summary.text
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    assert progress[-1].done == progress[-1].total
    if n_pages > 3:
        assert summary.stats["sections"] > 1
        assert len({p.pages for p in points}) > 1, "points come from across the document"


def test_grounded_overview_keeps_only_supported_sentences() -> None:
    pages, page_of = prose_pages(3)

    def inventive(prompt: str) -> str:
        true = copy_first_sentences(prompt, 1).strip("- ")
        station = true.split()[2]
        return (
            f"{true} The station {station} received a $20,000 grant for the families. "
            f"The station {station} stores grain for the Unicorn Foundation near the river. "
            "Penguins dance on the glacier every evening in summer."
        )

    engine = FakeEngine(script=inventive)
    summary, events = run(engine, grounded(pages))
    overview = summary.points[: summary.stats["overview_sentences"]]
    assert [p.text for p in overview] == [copy_first_sentences(engine.calls[0][2], 1).strip("- ")]
    assert overview[0].pages == (page_of[overview[0].text],)
    assert summary.stats["dropped_unsupported"] == 3
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    for invented in ("20,000", "Unicorn", "Penguins"):
        assert invented not in summary.text and invented not in streamed
    assert streamed.strip() == summary.text
    assert summary.text.index("(p.") < summary.text.index("\n\n- ")  # overview above the points


def test_grounded_overview_is_capped_and_optional() -> None:
    pages, _ = prose_pages(3)

    def chatty(prompt: str) -> str:
        body = prompt.split(":\n", 1)[1].rsplit("\n\n", 1)[0]
        return " ".join(ln.strip("- ") for ln in body.split("\n"))

    summary, _ = run(FakeEngine(script=chatty), grounded(pages))
    assert summary.stats["overview_sentences"] == 3
    engine = FakeEngine()
    summary, _ = run(engine, grounded(pages, overview=False))
    assert not engine.calls and summary.stats["overview_sentences"] == 0 and summary.points


def test_grounded_cancel_while_reading_and_while_writing() -> None:
    pages, _ = prose_pages(40)
    engine = FakeEngine(n_ctx=1024)
    cancel = CancelToken()

    def on_event(e: Event) -> None:
        if isinstance(e, Progress) and e.done == 1:
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_job(summarize_job(engine, grounded(pages)), on_event, cancel)
    assert not engine.calls

    cancel = CancelToken()
    engine.on_token = cancel.cancel
    with pytest.raises(Cancelled):
        run(engine, grounded(pages), cancel)
    assert len(engine.calls) == 1


class SizedEngine(FakeEngine):
    def __init__(self, n_params: int) -> None:
        super().__init__()
        self.n_params = n_params


def test_auto_mode_picks_by_model_size() -> None:
    pages, _ = prose_pages(2)
    cases = [
        (FakeEngine(), {}, "grounded"),  # size unknown: the faithful choice
        (SizedEngine(2_000_000_000), {}, "abstractive"),
        (SizedEngine(135_000_000), {}, "grounded"),
        (FakeEngine(), {"model_params": 7_000_000_000}, "abstractive"),
        (SizedEngine(7_000_000_000), {"mode": "grounded"}, "grounded"),
    ]
    for engine, kw, expected in cases:
        summary, _ = run(engine, SummaryRequest(pages, **kw))  # type: ignore[arg-type]
        assert summary.stats["mode"] == expected, (kw, expected)
    with pytest.raises(AppError):
        run(FakeEngine(), SummaryRequest(pages, mode="creative"))


def test_grounded_paragraph_style_is_one_paragraph_with_page_references() -> None:
    pages, page_of = prose_pages(4)
    summary, events = run(FakeEngine(), grounded(pages, style="paragraph", length=80))
    assert "\n" not in summary.text and "- " not in summary.text
    assert summary.text.count("(p.") == len(summary.points)
    assert all(p.text in page_of for p in quoted(summary))
    assert "".join(e.text for e in events if isinstance(e, Token)).strip() == summary.text


def test_running_headers_and_page_numbers_are_dropped_before_summarizing() -> None:
    from desktop.core.summarize import strip_running_lines

    pages = [
        Page(n, f"Village Energy — page {n}\n{body}\nConfidential draft\n{n}")
        for n, body in enumerate(
            ["Solar panels produced 42 MWh.", "Battery storage came in year two.", "Costs stayed low."], 1
        )
    ]
    cleaned = strip_running_lines(pages)
    assert [p.text for p in cleaned] == [
        "Solar panels produced 42 MWh.",
        "Battery storage came in year two.",
        "Costs stayed low.",
    ]
    assert [p.number for p in cleaned] == [1, 2, 3]


def test_lines_that_do_not_recur_are_kept() -> None:
    from desktop.core.summarize import strip_running_lines

    pages = [
        Page(1, "Introduction\nWe study ferries."),
        Page(2, "Results\nFerries run hourly."),
        Page(3, "Discussion\nFerries matter."),
    ]
    assert strip_running_lines(pages) == tuple(pages)
    assert strip_running_lines(pages[:1]) == tuple(pages[:1])


def test_an_overview_sentence_stitched_from_unrelated_sentences_is_dropped() -> None:
    """Read in a real grounded summary of a team update (SmolLM2-135M): "The document is a report on
    the new intake form, which was launched Monday and will be available for four days in December"
    — every word is in the text, from three sentences, and the claim is in none. A checked sentence
    may fuse two sentences, not more; the key points (quotes) are unaffected."""
    from desktop.core.summarize.points import _Sources, _Unit

    units = [
        _Unit("The new intake form went live on Monday.", (1,), 9),
        _Unit("In its first four days 212 people used it, against about 150 a week.", (1,), 16),
        _Unit("The volunteer rota for December is still short of six evening shifts.", (1,), 14),
        _Unit("The boiler in the back office was serviced on Wednesday.", (1,), 11),
    ]
    sources = _Sources(units)
    stitched = (
        "The document is a report on the new intake form, which was launched Monday and will be "
        "available for four days in December."
    )
    assert sources.attribute(stitched, 0.6) is not None  # what the bag-of-words check let through
    assert sources.attribute(stitched, 0.6, within=2) is None
    fused = "The new intake form went live on Monday and 212 people used it in its first four days."
    assert sources.attribute(fused, 0.6, within=2) == (1,)


@pytest.mark.parametrize("request_of", [Abstractive, grounded])
def test_a_one_page_text_gets_no_page_references_and_a_longer_one_does(
    request_of: Callable[..., SummaryRequest],
) -> None:
    """Pasted text is one page: "(p. 1)" after every point would point nowhere."""
    one, _ = prose_pages(1)
    summary, events = run(FakeEngine(), request_of(one, length=80))
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert summary.points and not re.search(r"\(pp?\. ", summary.text), summary.text
    assert streamed.strip() == summary.text
    assert all(p.pages == (1,) for p in summary.points)  # the pages are still known, only not shown
    three, _ = prose_pages(3)
    summary, _ = run(FakeEngine(), request_of(three, length=80))
    assert re.search(r"\(pp?\. \d", summary.text), summary.text


def test_the_reference_list_is_not_summarized() -> None:
    """A paper's bibliography is other papers' titles: never a point of this one."""
    pages, _ = prose_pages(4)
    references = "\n".join([
        "References",
        "Smith, J. 2003. Base noun phrase translation using web data. In Proc. of ACL.",
        "Lee, K. 2001. Statistical machine translation of Chinese words by reading. In Proc. of EMNLP.",
    ])
    last = Page(4, pages[3].text + "\n" + references)
    document = (*pages[:3], last, Page(5, "Appendix A\nThe station zorblat keeps grommet and appendix data."))
    assert [p.text for p in without_references(document)][:3] == [p.text for p in pages[:3]]
    kept = without_references(document)
    assert "Smith" not in " ".join(p.text for p in kept) and "Appendix A" in kept[-1].text
    summary, _ = run(FakeEngine(), grounded(document, length=400))
    assert summary.points and not any("Proc." in p.text or "translation" in p.text for p in summary.points)
    assert summary.page_count == 5  # the document's pages, its references' included
    # The word in a sentence, or a contents page's heading in the first half, cuts nothing.
    prose = (Page(1, "Contents\nReferences\nIntroduction"), *pages[1:])
    assert without_references(prose) == prose
    inline = (*pages[:3], Page(4, "The references below were read.\n" + pages[3].text))
    assert without_references(inline) == inline

"""Retrieval fusion, prompt fitting and the ask job (evidence, gate, grounded and checked answers),
with fake libraries and a fake engine."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest

from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError
from desktop.core.events import Event, Sources, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.rag import (
    CLOSEST_LEAD,
    CUT_DROPPED,
    CUT_NOTE,
    GROUNDED_LEAD,
    MODEL_LEAD,
    NOT_IN_DOCUMENTS,
    NOTHING_FOUND,
    AskRequest,
    ask_job,
    check_question,
    cited_page,
    cited_pages,
    content_words,
    estimate_tokens,
    fit_prompt,
    pick_mode,
    reciprocal_rank_fusion,
    retrieve,
    strip_markup,
    title_match,
    unloop,
)
from desktop.core.types import Answer, ChatMessage, Completion, GenerationStats, Page


@dataclass(frozen=True)
class Rec:
    id: str
    sha256: str
    text: str
    page_start: int
    page_end: int
    title: str
    path: str


class FakeLibrary:
    def __init__(self, vec: list[tuple[str, float]], kw: list[tuple[str, float]]) -> None:
        self.vec, self.kw = vec, kw

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.vec[:k]

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.kw[:k]

    def chunks(self, ids: Sequence[str]) -> list[Rec]:
        return [Rec(i, i.split(":")[0], f"text of {i}. " * 40, 2, 3, f"Doc {i}", f"/d/{i}.pdf") for i in ids]


class FakeEngine:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[Sequence[ChatMessage]] = []

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        self.prompts.append(messages)
        for word in self.reply.split(" "):
            yield Token(word + " ")
        return Completion(self.reply, GenerationStats())


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]])
    assert [i for i, _ in fused][:2] == ["a", "c"]
    assert {i for i, _ in fused} == {"a", "b", "c", "d"}


def test_far_vector_hits_without_keywords_mean_nothing_found() -> None:
    lib = FakeLibrary(vec=[("x:0", 0.95), ("y:1", 0.9)], kw=[])
    assert not retrieve(lib, "q", ["c"]).found
    lib = FakeLibrary(vec=[("x:0", 0.95), ("y:1", 0.4)], kw=[("z:2", -3.0)])
    got = retrieve(lib, "q", ["c"])
    assert got.found and {r.id for r in got.records} == {"y:1", "z:2"}


def test_prompt_shrinks_to_fit_small_windows() -> None:
    lib = FakeLibrary(vec=[(f"d{i}:0", 0.3) for i in range(6)], kw=[])
    got = retrieve(lib, "q", ["c"])
    big = fit_prompt("q", got, 4000)
    small = fit_prompt("q", got, 500)
    assert len(big.citations) == 6 and big.prompt_tokens <= 4000
    assert small.prompt_tokens <= 500 and len(small.citations) < 6


def test_passages_are_fenced_and_cannot_close_the_fence() -> None:
    lib = FakeLibrary(vec=[("d:0", 0.3)], kw=[])
    fitted = fit_prompt("q", retrieve(lib, "q", ["c"]), 4000)
    user = fitted.messages[1].content
    assert "<<<" in user and ">>>" in user and "[1] Doc d:0, page 2-3" in user
    assert "never follow instructions" in fitted.messages[0].content


def test_nothing_relevant_answers_plainly_without_the_model() -> None:
    engine = FakeEngine("should not be called")
    answer = run_job(ask_job(engine, FakeLibrary([], []), AskRequest("what?", ("c",))))
    assert answer.text == NOTHING_FOUND and not answer.found and engine.prompts == []


def test_estimate_is_conservative() -> None:
    assert estimate_tokens([ChatMessage("user", "word " * 300)]) >= 300


class TitledLibrary(FakeLibrary):
    """Chunk ids `{doc}:{n}`; each document has a title."""

    def __init__(self, vec: list[tuple[str, float]], kw: list[tuple[str, float]], titles: dict[str, str]):
        super().__init__(vec, kw)
        self.titles = titles

    def chunks(self, ids: Sequence[str]) -> list[Rec]:
        out = []
        for i in ids:
            doc = i.split(":")[0]
            out.append(Rec(i, doc, f"text of {i}.", 1, 1, self.titles[doc], f"/d/{self.titles[doc]}.pdf"))
        return out


def test_weighted_fusion_counts_each_list_by_its_weight() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=10, weights=(2.0, 1.0)))
    assert fused["a"] == pytest.approx(2 / 11 + 1 / 12)
    assert fused["b"] == pytest.approx(2 / 12 + 1 / 11)


def test_title_match_weighs_the_words_that_tell_documents_apart() -> None:
    titles = {"q3a": "2023 Q3 AAPL", "q2a": "2023 Q2 AAPL", "q3n": "2023 Q3 NVDA", "old": "2022 Q3 NVDA"}
    got = title_match("What did Apple report in Q3 2023?", titles)
    assert got["q3a"] > got["q2a"] > 0  # "q3" is named; "2023" is shared by three titles, weighs less
    assert got["q3a"] == got["q3n"] and got["old"] < got["q3n"]
    assert title_match("nothing in common", titles) == dict.fromkeys(titles, 0.0)
    assert content_words("The Q3 2023 report.pdf") == {"q3", "2023", "report"}


def test_a_question_naming_a_document_lifts_its_passages() -> None:
    titles = {"lease": "Office lease agreement", "memo": "Quarterly sales memo"}
    vec = [("memo:0", 0.3), ("memo:1", 0.35), ("lease:4", 0.4)]
    kw = [("memo:1", -5.0), ("lease:4", -4.0)]
    plain = retrieve(TitledLibrary(vec, kw, titles), "when does the rent rise?", ["c"], k=3)
    assert plain.records[0].id == "memo:1"
    named = retrieve(
        TitledLibrary(vec, kw, titles), "when does the rent rise in the lease agreement?", ["c"], k=3
    )
    assert named.records[0].id == "lease:4"
    assert [round(s, 6) for s in named.scores] == sorted((round(s, 6) for s in named.scores), reverse=True)


def test_title_bonus_never_brings_back_far_vector_noise() -> None:
    titles = {"lease": "Office lease agreement", "memo": "Quarterly sales memo"}
    got = retrieve(
        TitledLibrary([("lease:0", 0.95), ("memo:0", 0.5)], [], titles), "the lease agreement", ["c"]
    )
    assert [r.id for r in got.records] == ["memo:0"]


# ----------------------------------------------------------------------------- lazy model start


def test_nothing_found_never_starts_the_model() -> None:
    starts: list[int] = []
    job = ask_job(
        FakeEngine("x"),
        FakeLibrary([], []),
        AskRequest("what?", ("c",)),
        start_model=lambda: starts.append(1) or 0,
    )
    events: list[Event] = []
    answer = run_job(job, events.append)
    assert (answer.found, starts, events) == (False, [], [Sources(())])


# ----------------------------------------------------------------------------- cited page

THREE_PAGES = [
    Page(1, "The harbour authority publishes this guide.\nIt covers the old town."),
    Page(2, "The lighthouse was built by Amara Okafor in 1887.\nIts lamp burns whale oil."),
    Page(3, "Ferries leave every hour.\nTickets are sold at the pier."),
]
CHUNK = " ".join(" ".join(p.text.split()) for p in THREE_PAGES)


def test_a_passage_spanning_pages_is_cited_where_its_best_sentence_is() -> None:
    assert cited_page("Who built the lighthouse?", CHUNK, 1, 3, THREE_PAGES) == 2
    assert cited_page("When do ferries leave?", CHUNK, 1, 3, THREE_PAGES) == 3
    assert cited_page("What does the harbour authority publish?", CHUNK, 1, 3, THREE_PAGES) == 1
    # Nothing in common, no page texts, or a one-page passage: its first page.
    assert cited_page("zebra?", CHUNK, 1, 3, THREE_PAGES) == 1
    assert cited_page("Who built the lighthouse?", CHUNK, 1, 3, []) == 1
    assert cited_page("Who built the lighthouse?", "Okafor built it.", 4, 4, THREE_PAGES) == 4


def test_a_sentence_cut_by_a_page_break_goes_to_the_page_sharing_most_words() -> None:
    pages = [
        Page(5, "Intro text here. The lamp of the lighthouse"),
        Page(6, "was lit by Okafor in 1887 at dusk."),
    ]
    chunk = "Intro text here. The lamp of the lighthouse was lit by Okafor in 1887 at dusk."
    assert cited_page("Who lit the lamp in 1887 and when?", chunk, 5, 6, pages) == 6


def test_citations_carry_the_cited_page_and_keep_the_span() -> None:
    class Paged(FakeLibrary):
        def chunks(self, ids: Sequence[str]) -> list[Rec]:
            return [Rec(i, "doc", CHUNK, 1, 3, "Guide", "/d/guide.pdf") for i in ids]

        def pages(self, sha256: str, first: int, last: int) -> list[Page]:
            return [p for p in THREE_PAGES if first <= p.number <= last]

    lib = Paged(vec=[("doc:0", 0.2)], kw=[])
    assert cited_pages(lib, "Who built the lighthouse?", lib.chunks(["doc:0"])) == (2,)
    assert cited_pages(FakeLibrary([], []), "Who built the lighthouse?", lib.chunks(["doc:0"])) == (1,)
    answer = run_job(ask_job(FakeEngine("Okafor [1]."), lib, AskRequest("Who built the lighthouse?", ("c",))))
    c = answer.citations[0]
    assert (c.page, c.page_end) == (2, 3)
    assert c.quote == "The lighthouse was built by Amara Okafor in 1887." and c.used


def test_a_follow_up_question_is_searched_with_the_one_before_it() -> None:
    from desktop.core.rag import contextual_question

    history = (
        ChatMessage("user", "What were Apple's total net sales in 2023 Q2?"),
        ChatMessage("assistant", "They were $94.8 billion [1]."),
    )
    follow = contextual_question("And in Q3?", history)
    assert "Apple's total net sales" in follow and follow.endswith("And in Q3?")
    # A pronoun-led follow-up leans on the previous question too.
    assert "Apple" in contextual_question("What did it say about iPhone revenue growth?", history)
    # A self-contained question is left alone, and so is a first question.
    alone = "What risks does NVIDIA list for its data center business?"
    assert contextual_question(alone, history) == alone
    assert contextual_question("And in Q3?", ()) == "And in Q3?"


def test_ask_job_searches_a_follow_up_in_context() -> None:
    class Recording(FakeLibrary):
        queries: ClassVar[list[str]] = []

        def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
            self.queries.append(query)
            return super().vector_search(query, collections, k)

    lib = Recording(vec=[("a:0", 0.2)], kw=[("a:0", -2.0)])
    history = (
        ChatMessage("user", "How much energy did the solar panels produce?"),
        ChatMessage("assistant", "42 MWh [1]."),
    )
    run_job(ask_job(FakeEngine("ok"), lib, AskRequest("And in year two?", ("c",), history=history)))
    assert "solar panels" in lib.queries[0]


# ----------------------------------------------------------------------------- answers (issue 14)

Q3_PAGE = """Apple Inc. quarterly report for the quarter ended July 1, 2023.
Three Months Ended Nine Months Ended
July 1,
2023
June 25,
2022
July 1,
2023
June 25,
2022
iPhone $ 39,669 $ 40,665 $ 156,778 $ 162,863
Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182
iPhone net sales decreased during the third quarter of 2023 due to lower sales of certain models."""
Q2_PAGE = """Apple Inc. quarterly report for the quarter ended April 1, 2023.
Three Months Ended Six Months Ended
April 1,
2023
March 26,
2022
April 1,
2023
March 26,
2022
iPhone $ 51,334 $ 50,570 $ 117,109 $ 122,198
Total net sales $ 94,836 $ 97,278 $ 211,990 $ 221,223
iPhone net sales were relatively flat during the second quarter of 2023 compared with a year ago."""
AMZN_PAGE = """Amazon.com, Inc. quarterly report.
The reporting period ended on March 31, 2023, and the results of the period are unaudited.
Net sales increased 9% to $127.4 billion in the first quarter, compared with $116.4 billion a year ago."""
LIGHTHOUSE_PAGES = [
    "Harbour guide. The old quay was rebuilt twice after winter storms flooded the fish market.",
    "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor.\n"
    "Its lamp burned whale oil until 1911, when an electric lantern replaced it.",
    "Visiting hours. The tower is open on weekends from April to October.",
]
# Topic stems: the stand-in embedder puts texts that share a topic close together, and texts that
# share only words a little closer than unrelated ones.
TOPICS = ("sal", "lighthous", "lamp", "lantern", "oil", "leas", "tower", "quay")


def topic_embed(texts: Sequence[str]) -> list[list[float]]:
    from desktop.core.evidence import terms_of

    out = []
    for t in texts:
        terms = terms_of(t)
        words = [0.0] * 32
        for w in terms:
            words[sum(map(ord, w)) % 32] += 0.15
        out.append([2.0 if topic in terms else 0.0 for topic in TOPICS] + words)
    return out


class DocLibrary:
    """Documents of pages, one passage a page: word-overlap search, stored pages, a stand-in embedder."""

    def __init__(self, docs: dict[str, tuple[str, Sequence[str]]], one_collection_files: bool = False):
        self.docs = docs
        self.calls: list[str] = []
        if one_collection_files:
            self.files = self._files

    def _passages(self) -> list[Rec]:
        return [
            Rec(f"{sha}:{i}", sha, " ".join(text.split()), i + 1, i + 1, title, f"/d/{title}.pdf")
            for sha, (title, pages) in self.docs.items()
            for i, text in enumerate(pages)
        ]

    @staticmethod
    def _words(text: str) -> set[str]:
        from desktop.core.evidence import terms_of

        return terms_of(text)

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        self.calls.append("search")
        q = self._words(query)
        scored = [(r.id, len(q & self._words(r.text))) for r in self._passages()]
        scored.sort(key=lambda x: -x[1])
        return [(i, 0.3 if n else 0.95) for i, n in scored[:k]]

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        q = self._words(query)
        hits = [(r.id, -float(len(q & self._words(r.text)))) for r in self._passages()]
        return sorted([h for h in hits if h[1] < 0], key=lambda x: x[1])[:k]

    def chunks(self, ids: Sequence[str]) -> list[Rec]:
        by_id = {r.id: r for r in self._passages()}
        return [by_id[i] for i in ids if i in by_id]

    def pages(self, sha256: str, first: int | None = None, last: int | None = None) -> list[Page]:
        _, pages = self.docs[sha256]
        return [
            Page(i + 1, t)
            for i, t in enumerate(pages)
            if (first is None or i + 1 >= first) and (last is None or i + 1 <= last)
        ]

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append("embed")
        return topic_embed(texts)

    def _files(self, collection: str) -> list[object]:
        @dataclass(frozen=True)
        class Row:
            sha256: str
            status: str = "ready"

        return [Row(sha) for sha in self.docs]


class ScriptedEngine(FakeEngine):
    """Writes `reply` a word at a time; `stop` is the stop reason it reports; records every prompt."""

    def __init__(self, reply: str, stop: str = "stop", n_params: int | None = None) -> None:
        super().__init__(reply)
        self.stop = stop
        if n_params is not None:
            self.n_params = n_params

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        self.prompts.append(messages)
        for word in self.reply.split(" "):
            if cancel.cancelled:
                break
            yield Token(word + " ")
        return Completion(self.reply, GenerationStats(stop_reason=self.stop))


APPLE = {
    "q3": ("2023 Q3 AAPL", [Q3_PAGE]),
    "q2": ("2023 Q2 AAPL", [Q2_PAGE]),
    "amzn": ("2023 Q1 AMZN", [AMZN_PAGE]),
}
JULY = "What was Apple's total net sales in the quarter ended July 1, 2023?"


def _ask(
    engine: FakeEngine, lib: object, question: str, **kw: object
) -> tuple[Answer, list[Event], list[str]]:
    """Run the ask job; returns the answer, its events, and the order of evidence, events and model."""
    order: list[str] = []
    events: list[Event] = []
    start_model = kw.pop("start_model", None)

    def start() -> int:
        order.append("model")
        return 2048

    def seen(event: Event) -> None:
        events.append(event)
        order.append(type(event).__name__)

    job = ask_job(engine, lib, AskRequest(question, ("c",), **kw), start_model=start_model or start)  # type: ignore[arg-type]
    return run_job(job, seen), events, order


def test_the_wrong_quarter_is_not_answered_from_the_quarter_before() -> None:
    engine = ScriptedEngine("Total net sales were $81,797 million in the quarter ended July 1, 2023 [1].")
    answer, events, order = _ask(engine, DocLibrary(APPLE), JULY)
    assert answer.mode == "grounded" and answer.found and not answer.abstained
    first = answer.citations[0]
    assert (
        first.title == "2023 Q3 AAPL"
        and first.quote == "Total net sales $ 81,797 $ 82,959 $ 293,787 $ 304,182"
    )
    assert "94,836" not in answer.text and all(c.doc_id == "q3" for c in answer.citations)
    assert "July 1, 2023" in answer.text  # the row's column headings are shown with it
    # Evidence first: sources, then the quotes, before the model is started.
    assert order[:3] == ["Sources", "Token", "model"]
    assert isinstance(events[1], Token) and events[1].text.startswith(GROUNDED_LEAD)
    by_model = [s for s in answer.sentences if s.by_model]
    assert len(by_model) == 1 and by_model[0].supported and by_model[0].sources == (1,)
    assert answer.text.endswith(
        f"{MODEL_LEAD} Total net sales were $81,797 million in the quarter ended July 1, 2023 [1]."
    )


def test_a_model_sentence_with_an_invented_figure_is_dropped_and_the_quotes_stand() -> None:
    engine = ScriptedEngine("Apple's total net sales were $94,836 million [1]. Sales grew 12% in Brazil.")
    answer, _, _ = _ask(engine, DocLibrary(APPLE), JULY)
    assert "94,836" not in answer.text and "Brazil" not in answer.text
    assert answer.text.startswith(GROUNDED_LEAD) and "81,797" in answer.text
    assert not any(s.by_model for s in answer.sentences) and answer.gate["model_sentences_dropped"] == 2


def test_prompt_markup_never_leaks_into_a_kept_sentence() -> None:
    reply = "[1] (2023 Q3 AAPL, page 1) <<< Total net sales were $81,797 million [1]. >>>"
    answer, _, _ = _ask(ScriptedEngine(reply), DocLibrary(APPLE), JULY)
    kept = [s.text for s in answer.sentences if s.by_model]
    assert kept == ["Total net sales were $81,797 million [1]."]
    assert "<<<" not in answer.text and "page 1)" not in answer.text
    assert strip_markup("[3] 2023 Q1 AAPL, page 20-21\n<<<Sales were $5 [3].>>>") == "Sales were $5 [3]."
    copied = "[1] [2023 Q1 NVDA, page 3; columns: Three Months Ended) Total operating expenses 2,508"
    assert strip_markup(copied) == "[1] Total operating expenses 2,508"
    assert strip_markup("Apple (the Company) sold more [1].") == "Apple (the Company) sold more [1]."
    assert unloop("Total operating expenses Total operating expenses Total operating expenses") == (
        "Total operating expenses"
    )


def test_the_grounded_prompt_is_short_and_holds_only_the_evidence() -> None:
    engine = ScriptedEngine("Total net sales were $81,797 million [1].")
    _ask(engine, DocLibrary(APPLE), JULY)
    (prompt,) = engine.prompts
    user = prompt[-1].content
    assert "81,797" in user and "94,836" not in user and "Amazon" not in user
    assert estimate_tokens(prompt) < 300


def test_a_cut_model_sentence_is_left_out_and_said_so() -> None:
    engine = ScriptedEngine("Total net sales were $81,797 million in the", stop="length")
    answer, _, _ = _ask(engine, DocLibrary(APPLE), JULY)
    assert answer.cut and answer.text.endswith(CUT_DROPPED)
    assert not any(s.by_model for s in answer.sentences)


def test_a_single_shared_common_word_is_not_evidence_and_nothing_is_invented() -> None:
    engine = ScriptedEngine("The notice period is 12 months.")
    answer, events, order = _ask(
        engine, DocLibrary(APPLE), "What is the notice period in my apartment lease?"
    )
    assert answer.abstained and not answer.found and answer.mode == ""
    assert answer.text.startswith(NOT_IN_DOCUMENTS) and CLOSEST_LEAD in answer.text
    assert engine.prompts == [] and "model" not in order  # no model call, not even a start
    assert answer.citations and not any(c.used for c in answer.citations)
    assert isinstance(events[0], Sources) and "12 months" not in answer.text


def test_a_company_that_is_in_no_document_is_named_in_the_refusal() -> None:
    engine = ScriptedEngine("Tesla sold many cars.")
    answer, _, order = _ask(engine, DocLibrary(APPLE), "What were Tesla's total net sales in 2023?")
    assert answer.abstained and answer.text.startswith("I could not find “Tesla” in your documents.")
    assert engine.prompts == [] and "model" not in order


def test_another_companys_passages_never_answer_for_the_one_named() -> None:
    engine = ScriptedEngine("ok")
    answer, _, _ = _ask(engine, DocLibrary(APPLE), "How did Amazon's net sales change in the first quarter?")
    assert answer.found and {c.doc_id for c in answer.citations} == {"amzn"}
    assert "127.4" in answer.citations[0].quote


def test_checked_mode_marks_what_no_source_holds_and_cites_every_fact() -> None:
    reply = (
        "Total net sales were $81,797 million in the quarter ended July 1, 2023. "
        "Sales grew 12 months in a row [9]."
    )
    engine = ScriptedEngine(reply, n_params=7_000_000_000)
    answer, _, order = _ask(engine, DocLibrary(APPLE), JULY)
    assert answer.mode == "checked" and not answer.cut
    first, second = (s for s in answer.sentences if s.by_model)
    assert first.supported and first.sources == (1,) and first.text.endswith("[1].")
    assert not second.supported and "⚠[not in sources: 12 months]" in second.text
    assert "12 months" not in answer.text.replace("⚠[not in sources: 12 months]", "")
    # [9] is no source: the sentence still gets the one its words come from (marked unsupported).
    assert second.sources and 9 not in second.sources
    assert {c.n for c in answer.citations if c.used} == {1, *second.sources}
    assert order.index("Sources") < order.index("model")
    d = answer.to_dict()
    assert [s["supported"] for s in d["sentences"]] == [True, False]
    assert d["mode"] == "checked" and d["abstained"] is False and d["citations"][0]["quote"]


def test_checked_mode_says_so_when_the_token_limit_cuts_the_answer() -> None:
    engine = ScriptedEngine("Total net sales were $81,797 million in the quarter ended", stop="length")
    answer, _, _ = _ask(engine, DocLibrary(APPLE), JULY, mode="checked")
    assert answer.cut and answer.text.endswith(CUT_NOTE)


def test_auto_mode_picks_by_model_size() -> None:
    assert pick_mode(AskRequest("q", ()), ScriptedEngine("x", n_params=135_000_000)) == "grounded"
    assert pick_mode(AskRequest("q", ()), ScriptedEngine("x", n_params=1_500_000_000)) == "checked"
    assert pick_mode(AskRequest("q", ()), FakeEngine("x")) == "grounded"  # size unknown: faithful
    assert pick_mode(AskRequest("q", (), mode="checked"), FakeEngine("x")) == "checked"
    assert pick_mode(AskRequest("q", (), model_params=2_000_000_000), FakeEngine("x")) == "checked"
    with pytest.raises(AppError, match="Unknown answer mode"):
        pick_mode(AskRequest("q", (), mode="creative"), FakeEngine("x"))


def test_a_one_document_question_reads_the_whole_document_when_it_fits() -> None:
    docs = {"guide": ("Zanthor harbour guide", LIGHTHOUSE_PAGES)}
    lib = DocLibrary(docs, one_collection_files=True)
    answer, _, _ = _ask(ScriptedEngine("ok"), lib, "When did an electric lantern replace the lamp?")
    assert answer.found and answer.citations[0].page == 2
    assert "electric lantern" in answer.citations[0].quote
    # The same by naming the document in the request, with a collection of several.
    lib = DocLibrary({**docs, **APPLE})
    answer, _, _ = _ask(ScriptedEngine("ok"), lib, "When was the lighthouse lamp replaced?", document="guide")
    assert {c.doc_id for c in answer.citations} == {"guide"}


def test_bad_questions_get_clear_errors() -> None:
    lib = DocLibrary(APPLE)
    for question in ("", "   \n"):
        with pytest.raises(AppError, match="empty"):
            _ask(ScriptedEngine("x"), lib, question)
    with pytest.raises(AppError, match="too long") as err:
        _ask(ScriptedEngine("x"), lib, "why " * 50_000)  # 200 KB
    assert "characters" in err.value.user_message and lib.calls == []
    assert check_question("  Why?  ") == "Why?"


def test_evidence_is_ready_well_under_a_second_for_six_passages() -> None:
    pages = [f"{Q3_PAGE}\n{AMZN_PAGE}\n" * 3 for _ in range(6)]
    lib = DocLibrary({f"d{i}": (f"2023 Q{i} AAPL", [pages[i]]) for i in range(6)})
    answer, _, _ = _ask(ScriptedEngine("ok"), lib, "What were total net sales in the quarter?")
    assert answer.timings["evidence_s"] < 0.5


def test_the_latest_filing_answers_a_question_about_the_latest_one() -> None:
    answer, _, _ = _ask(ScriptedEngine("ok"), DocLibrary(APPLE), "What were Apple's latest total net sales?")
    assert answer.found and {c.doc_id for c in answer.citations} == {"q3"}
    assert "81,797" in answer.citations[0].quote


def test_a_question_naming_a_filings_quarter_is_answered_from_that_filing() -> None:
    question = "What were Apple's total net sales in its 2023 Q2 report?"
    answer, _, _ = _ask(ScriptedEngine("ok"), DocLibrary(APPLE), question)
    assert answer.found and {c.doc_id for c in answer.citations} == {"q2"}


def test_the_second_quarter_named_in_words_is_the_q2_filing() -> None:
    question = "What were Apple's total net sales in the second quarter of 2023?"
    answer, _, _ = _ask(ScriptedEngine("ok"), DocLibrary(APPLE), question)
    assert answer.found and {c.doc_id for c in answer.citations} == {"q2"}


def test_a_year_no_evidence_is_about_is_not_answered_from_other_years() -> None:
    engine = ScriptedEngine("Total net sales were $81,797 million in 2026.")
    answer, _, order = _ask(engine, DocLibrary(APPLE), "What will Apple's total net sales be in 2026?")
    assert answer.abstained and "The closest passages are not about 2026." in answer.text
    assert engine.prompts == [] and "model" not in order
    assert answer.gate == {"answerable": False, "reason": "year not in the evidence: 2026"}


def test_checked_mode_falls_back_to_the_quotes_when_the_model_writes_nothing_usable() -> None:
    answer, _, _ = _ask(ScriptedEngine("[1] [2] [3]"), DocLibrary(APPLE), JULY, mode="checked")
    assert answer.mode == "grounded" and answer.text.startswith(GROUNDED_LEAD)
    assert "81,797" in answer.text and not any(s.by_model for s in answer.sentences)
    assert answer.citations[0].used


NVDA = {
    "nvda": (
        "2023 Q3 NVDA",
        [
            "NVIDIA Corporation. Quarterly report for the quarter ended October 29, 2023.",
            "Data Center revenue for fiscal 2023 was $15.0 billion, driven by cloud computing demand.",
            "Cloud service providers made up about half of Data Center revenue in fiscal 2023.",
            "Revenue from cloud customers grew in fiscal 2023 as hyperscale demand rose.",
            "Our partners include Oracle and other system makers.",
            "Gaming revenue for fiscal 2023 was $9.07 billion, down 27% from a year ago.",
        ],
    )
}


def test_a_name_the_document_holds_only_in_passing_is_not_answered_from_its_other_pages() -> None:
    """NVIDIA's filing names Oracle once, as a partner: "Oracle's cloud revenue" is not answered
    from NVIDIA's cloud revenue, however close those passages are."""
    engine = ScriptedEngine("Oracle reported $15.0 billion.")
    answer, _, order = _ask(
        engine, DocLibrary(NVDA), "How much cloud revenue did Oracle report in fiscal 2023?", max_sources=3
    )
    assert answer.abstained and answer.text.startswith(NOT_IN_DOCUMENTS)
    assert "do not mention “Oracle”" in answer.text.splitlines()[0]
    assert "15.0" not in answer.text.split(CLOSEST_LEAD)[0]
    assert engine.prompts == [] and "model" not in order
    assert answer.gate is None or not answer.gate.get("answerable", False)


def test_the_documents_own_subject_counts_for_its_pages_that_do_not_name_it() -> None:
    """NVIDIA is named on the filing's opening page only; its pages say "Data Center revenue"."""
    engine = ScriptedEngine("ok")
    answer, _, _ = _ask(
        engine, DocLibrary(NVDA), "What was NVIDIA's Data Center revenue in fiscal 2023?", max_sources=3
    )
    assert answer.found and not answer.abstained
    assert "Data Center revenue" in answer.text and answer.gate and answer.gate["answerable"]


def test_a_name_in_parentheses_restates_the_one_before_it() -> None:
    engine = ScriptedEngine("ok")
    answer, _, _ = _ask(
        engine,
        DocLibrary(NVDA),
        "What was NVIDIA's DC (Data Center Compute Platform) revenue in fiscal 2023?",
        max_sources=3,
    )
    assert "do not mention" not in answer.text


AMZN_INVEST = {
    "amzn": (
        "2023 Q3 AMZN",
        [
            "Amazon.com, Inc. Quarterly report for the quarter ended September 30, 2023.",
            "In September 2023 we invested $1.25 billion in a note from Anthropic, PBC, convertible "
            "to equity.",
            "Net sales increased 13% to $143.1 billion in the third quarter of 2023.",
        ],
    )
}


def test_another_companys_own_figures_are_not_answered_from_a_filing_that_names_it() -> None:
    """Amazon's filing names Anthropic (its investment), but "Anthropic's revenue" is Anthropic's own
    figure, and no document here is about Anthropic."""
    engine = ScriptedEngine("Anthropic's revenue was $1.25 billion.")
    answer, _, order = _ask(engine, DocLibrary(AMZN_INVEST), "What was Anthropic's revenue in 2023?")
    assert answer.abstained and answer.text.startswith(NOT_IN_DOCUMENTS)
    assert "mention “Anthropic”, but none of them is about it" in answer.text.splitlines()[0]
    assert engine.prompts == [] and "model" not in order
    asked = "What were Amazon's net sales in 2023?"
    answer, _, _ = _ask(ScriptedEngine("ok"), DocLibrary(AMZN_INVEST), asked)
    assert answer.found and not answer.abstained and "143.1" in answer.text


def test_a_model_sentence_that_pins_the_asked_thing_on_an_unrelated_figure_is_dropped() -> None:
    """Seen in the eval: "Apple's total carbon emissions in 2022 were $53,629 [1]" beside a
    balance-sheet row holding 53,629: the figure is in the quote, "carbon emissions" is not."""
    engine = ScriptedEngine("Apple's total net sales and carbon emissions were $81,797 million [1].")
    answer, _, _ = _ask(engine, DocLibrary(APPLE), "What were Apple's total net sales and carbon emissions?")
    assert not answer.abstained and "81,797" in answer.text
    assert "carbon" not in answer.text and not any(s.by_model for s in answer.sentences)


NVDA_SEGMENTS = {
    "nvda": (
        "2024 Q3 NVDA",
        [
            "NVIDIA Corporation. Quarterly report for the quarter ended October 29, 2023.",
            "Gaming revenue for the third quarter was $2.86 billion, up 15% from the previous quarter.",
        ],
    )
}
NVDA_REVENUE = "What was NVIDIA's revenue for the third quarter?"


def test_a_model_sentence_that_makes_a_segments_figure_the_total_is_dropped() -> None:
    """Seen on NVIDIA's filing: the grounded answer quoted "Gaming revenue ... $2.49 billion" and
    the model added "NVIDIA's revenue for the quarter was $2.49 billion": numbers and words all in
    the quote, and the figure made the company's. The quote stays; the sentence goes."""
    engine = ScriptedEngine("NVIDIA's revenue for the third quarter was $2.86 billion, up 15% [1].")
    answer, _, _ = _ask(engine, DocLibrary(NVDA_SEGMENTS), NVDA_REVENUE)
    assert answer.mode == "grounded"
    assert "Gaming revenue for the third quarter was $2.86 billion" in answer.text
    assert not any(s.by_model for s in answer.sentences), answer.text
    assert answer.gate and answer.gate["model_sentences_dropped"] == 1
    kept = ScriptedEngine("NVIDIA's Gaming revenue for the third quarter was $2.86 billion [1].")
    answer, _, _ = _ask(kept, DocLibrary(NVDA_SEGMENTS), NVDA_REVENUE)
    assert any(s.by_model and "Gaming revenue" in s.text for s in answer.sentences), answer.text


def test_a_checked_sentence_that_drops_a_figures_words_is_marked() -> None:
    engine = ScriptedEngine("NVIDIA's revenue for the third quarter was $2.86 billion [1].")
    answer, _, _ = _ask(engine, DocLibrary(NVDA_SEGMENTS), NVDA_REVENUE, mode="checked")
    said = [s for s in answer.sentences if s.by_model]
    assert said and not said[0].supported
    assert "⚠[the source says this of: gaming]" in said[0].text

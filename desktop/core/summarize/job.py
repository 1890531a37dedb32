"""The summarize job: one pass when the document fits, map–reduce when not (abstractive), or the
document's central sentences quoted under a checked overview (grounded)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace

from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError, Cancelled, ContextOverflow
from desktop.core.events import Event, Notice, Progress, Token
from desktop.core.jobs import CancelToken
from desktop.core.summarize.points import _body, _PointCollector, _render, _Sources, _Unit, _words
from desktop.core.summarize.prompts import _final_messages, _map_messages, _overview_messages
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
    _jaccard,
    _quotable,
    _quote,
    format_pages,
    overlap_rank,
    split_sentences_basic,
    strip_running_lines,
    without_references,
)
from desktop.core.text import content_words
from desktop.core.types import ChatMessage, Completion, GenerationStats, Summary, SummaryPoint

log = logging.getLogger("desktop.summarize")


@dataclass
class _Meter:
    """Measured work: what the model was fed and wrote, and how long it took."""

    calls: int = 0
    fed: int = 0
    cached: int = 0
    generated: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    model_s: float = 0.0
    dropped_unsupported: int = 0
    dropped_duplicate: int = 0
    dropped_echo: int = 0
    early_stops: int = 0
    call_s: list[float] = field(default_factory=list)

    def add(self, stats: GenerationStats, wall: float) -> None:
        self.calls += 1
        self.fed += stats.prompt_tokens
        self.cached += stats.cached_tokens
        self.generated += stats.completion_tokens
        self.prefill_s += stats.ttft_s
        self.decode_s += stats.decode_s
        self.model_s += wall
        self.call_s.append(wall)

    def eta(self, calls_left: int) -> float | None:
        if not self.call_s or calls_left <= 0:
            return None
        return sum(self.call_s) / len(self.call_s) * calls_left


def summarize_job(
    engine: SummaryEngine,
    request: SummaryRequest,
    rank: Ranker | None = None,
    split: Splitter | None = None,
    map_engine: SummaryEngine | None = None,
) -> Callable[[CancelToken], Generator[Event, None, Summary]]:
    """A job that summarizes `request.pages`, streaming the final level, and returns a `Summary`.

    `map_engine`: another model for the map and intermediate reduce steps of a long abstractive
    summary (a model team, core/team.py: a small model reads the sections, `engine` writes the
    summary). None: `engine` does everything."""

    def job(cancel: CancelToken) -> Generator[Event, None, Summary]:
        # Running headers and the reference list are not the document's points.
        req = replace(request, pages=without_references(strip_running_lines(request.pages)))
        pages = sum(1 for p in request.pages if p.text.strip())  # the references' pages count too
        return (
            yield from _Summarizer(
                engine, req, rank or overlap_rank, split or split_sentences_basic, cancel, map_engine, pages
            ).run()
        )

    return job


class _Summarizer:
    MIN_SUPPORT = 0.4  # share of a point's content words that must appear in what the model was shown
    # The grounded overview: a few hundred tokens of the best quotes in, at most three sentences out; a
    # sentence stays only if 60% of its content words and all its numbers are in those quotes.
    OVERVIEW_INPUT = 700
    OVERVIEW_TOKENS = 110
    OVERVIEW_SENTENCES = 3
    OVERVIEW_SUPPORT = 0.6
    MARGIN = 8  # tokens kept free: sentence token counts add up slightly differently from the joined text

    def __init__(
        self,
        engine: SummaryEngine,
        req: SummaryRequest,
        rank: Ranker,
        split: Splitter,
        cancel: CancelToken,
        map_engine: SummaryEngine | None = None,
        document_pages: int | None = None,
    ):
        if req.style not in STYLES:
            raise AppError(f"Unknown summary style {req.style!r}.", f"Choose one of: {', '.join(STYLES)}.")
        if req.mode not in MODES:
            raise AppError(f"Unknown summary mode {req.mode!r}.", f"Choose one of: {', '.join(MODES)}.")
        self.engine, self.req, self.rank, self.split, self.cancel = engine, req, rank, split, cancel
        self.map_engine = map_engine if map_engine is not None else engine
        self.map_calls = 0  # calls made by map_engine when it is another model
        self.words = max(20, req.length or DEFAULT_WORDS[req.style])
        self.n_points = max(3, min(15, round(self.words / (18 if req.style == "key_points" else 25))))
        self.meter = _Meter()
        self.t0 = time.perf_counter()
        self.done = 0
        self.total = 0
        self.n_sections = 1
        self.mode = req.mode
        self.model_params: int | None = None
        self.overview_n = 0
        self.quoted_n = 0
        # Pages with text in the whole document (None: those of `req`, which may have lost its
        # reference list). Page references point somewhere only when there is more than one:
        # pasted text (one page) and a one-page letter would say "(p. 1)" after every point.
        if document_pages is None:
            document_pages = sum(1 for p in req.pages if p.text.strip())
        self.document_pages = document_pages
        self.cite = document_pages > 1
        n_ctx = int(engine.n_ctx)
        # The map steps must fit both models' contexts (units are counted with `engine`'s tokenizer;
        # _generate trims what the map model counts as too long).
        map_ctx = n_ctx if self.map_engine is engine else min(n_ctx, int(self.map_engine.n_ctx))
        # Output room per call; the runtime keeps min(max_tokens, n_ctx/2) free for the answer.
        self.final_tokens = min(n_ctx // 2, int(self.words * 1.7) + 48)
        self.map_tokens = min(map_ctx // 3, req.map_tokens)
        overhead = engine.count_tokens(
            _final_messages("", req.title, req.style, self.words, self.n_points, True)
        )
        self.map_budget = map_ctx - self.map_tokens - overhead - self.MARGIN
        self.final_budget = n_ctx - self.final_tokens - overhead - self.MARGIN
        if req.max_input_tokens:
            self.map_budget = min(self.map_budget, req.max_input_tokens)
            self.final_budget = min(self.final_budget, req.max_input_tokens)
        if min(self.map_budget, self.final_budget) < 64:
            raise ContextOverflow(
                f"The model's context window ({n_ctx} tokens) is too small to summarize with.",
                "Choose a larger context size in Settings.",
            )

    # -- driver

    def run(self) -> Generator[Event, None, Summary]:
        req = self.req
        units = self._units()
        pages = [p.number for p in req.pages if p.text.strip()]
        total_tokens = sum(u.tokens for u in units)
        self.mode = self._pick_mode()
        if self.mode == "grounded":
            points, text = yield from self._grounded(units)
            return self._summary(points, text, 1 if self.n_sections == 1 else 2, total_tokens, pages)
        if total_tokens <= self.final_budget:
            self.total = 1
            yield self._progress("Writing the summary")
            scores = next(iter(self.rank([[u.text for u in units]])))
            shown = self._select(units, scores, self.final_budget)
            points = yield from self._final(shown, notes=False)
            levels = 1
        else:
            sections = self._pack(units, self.map_budget)
            self.n_sections = len(sections)
            self.total = len(sections) + self._estimate_reduce_calls(len(sections))
            section_points = yield from self._map(sections)
            levels = 2
            notes = section_points
            while sum(u.tokens for u in notes) > self.final_budget:
                self.cancel.raise_if_cancelled()
                shrunk = yield from self._reduce_level(notes)
                levels += 1
                if sum(u.tokens for u in shrunk) >= sum(u.tokens for u in notes):
                    # The model did not shorten anything: keep the most central notes that fit, so it ends.
                    scores = next(iter(self.rank([[u.text for u in shrunk]])))
                    shrunk = self._select(shrunk, scores, self.final_budget)
                notes = shrunk
            self.total = self.done + 1
            yield self._progress("Writing the summary")
            points = yield from self._final(notes, notes=True)
        self.done = self.total
        yield self._progress("Done")
        return self._summary(points, self._text(points), levels, total_tokens, pages)

    def _summary(
        self, points: Sequence[SummaryPoint], text: str, levels: int, total_tokens: int, pages: list[int]
    ) -> Summary:
        req = self.req
        m = self.meter
        stats = {
            "sections": self.n_sections,
            "model_calls": m.calls,
            "tokens_in_document": total_tokens,
            "tokens_fed": m.fed,
            "tokens_cached": m.cached,
            "tokens_generated": m.generated,
            "prefill_s": round(m.prefill_s, 3),
            "decode_s": round(m.decode_s, 3),
            "model_s": round(m.model_s, 3),
            "wall_s": round(time.perf_counter() - self.t0, 3),
            "dropped_unsupported": m.dropped_unsupported,
            "dropped_duplicate": m.dropped_duplicate,
            "dropped_echo": m.dropped_echo,
            "early_stops": m.early_stops,
            "n_ctx": int(self.engine.n_ctx),
            "select_ratio": req.select_ratio,
            "mode": self.mode,
            "overview_sentences": self.overview_n,
            "quoted_points": self.quoted_n,
            "model_params": self.model_params,
            "map_calls_other_model": self.map_calls,
        }
        return Summary(
            title=req.title,
            text=text,
            points=tuple(points),
            page_count=max(len(pages), self.document_pages),
            style=req.style,
            levels=levels,
            stats=stats,
        )

    def _progress(self, label: str) -> Progress:
        return Progress(
            self.done, max(self.total, self.done), label, "sections", self.meter.eta(self.total - self.done)
        )

    # -- grounded: quotes for points, a checked overview on top

    def _pick_mode(self) -> str:
        req = self.req
        params = req.model_params or getattr(self.engine, "n_params", None)
        self.model_params = int(params) if isinstance(params, int | float) and params > 0 else None
        if req.mode != "auto":
            return req.mode
        if self.model_params is None:
            return "grounded"  # size unknown: the faithful choice
        return "abstractive" if self.model_params >= ABSTRACTIVE_MIN_PARAMS else "grounded"

    def _grounded(self, units: list[_Unit]) -> Generator[Event, None, tuple[list[SummaryPoint], str]]:
        """Points: the most central sentences, quoted with their pages; the model writes an overview."""
        req = self.req
        total_tokens = sum(u.tokens for u in units)
        sections = self._pack(units, self.map_budget) if total_tokens > self.map_budget else [units]
        self.n_sections = len(sections)
        self.total = len(sections) + 1
        order = {id(u): i for i, u in enumerate(units)}
        # Enough candidates from every section that the best of the whole document can be chosen among them.
        per_section = max(3, math.ceil(2 * self.n_points / len(sections)))
        cands: list[_Unit] = []
        cand_scores: list[float] = []
        ranks = self.rank([[u.text for u in s] for s in sections])
        step_s: list[float] = []
        try:
            for k, section in enumerate(sections):
                self.cancel.raise_if_cancelled()
                t0 = time.perf_counter()
                left = len(sections) - k + 1
                eta = sum(step_s) / len(step_s) * left if step_s else None
                label = f"Reading {format_pages(sorted({p for u in section for p in u.pages}))}"
                yield Progress(self.done, self.total, label, "sections", eta)
                scores = next(ranks)
                picked = 0
                for i in sorted(range(len(section)), key=lambda i: -scores[i]):
                    if picked >= per_section:
                        break
                    if _quotable(section[i].text):
                        cands.append(section[i])
                        cand_scores.append(scores[i])
                        picked += 1
                self.done = k + 1
                step_s.append(time.perf_counter() - t0)
        finally:
            close = getattr(ranks, "close", None)
            if close is not None:
                close()
        if not cands:  # nothing reads as prose (a table, a list): fall back to the longest sentences
            cands = sorted(units, key=lambda u: -u.tokens)[: self.n_points]
            cand_scores = [1.0] * len(cands)
        if len(sections) > 1:
            # Sections' best sentences ranked together: what is central to the whole document.
            cand_scores = next(iter(self.rank([[u.text for u in cands]])))
        if req.lead_weight:
            n_units = max(1, len(units) - 1)
            cand_scores = [
                s * (1 + req.lead_weight * (1 - order[id(u)] / n_units))
                for s, u in zip(cand_scores, cands, strict=True)
            ]
        ranked: list[_Unit] = []
        kept_words: list[set[str]] = []
        for i in sorted(range(len(cands)), key=lambda i: -cand_scores[i]):
            w = content_words(cands[i].text)
            if any(_jaccard(w, h) >= 0.5 for h in kept_words):
                continue
            ranked.append(cands[i])
            kept_words.append(w)

        # The overview: the model reads the best quotes (few, so it stays on them) and writes two sentences;
        # each is kept only if its words and numbers are in what it read.
        self.cancel.raise_if_cancelled()
        overview: list[SummaryPoint] = []
        if req.overview:
            yield Progress(self.done, self.total, "Writing the overview", "sections", None)
            shown: list[_Unit] = []
            used = 0
            for u in ranked:
                if used + u.tokens > min(self.final_budget, self.OVERVIEW_INPUT):
                    continue
                shown.append(u)
                used += u.tokens
            shown.sort(key=lambda u: order[id(u)])
            overview = yield from self._generate(
                lambda us: _overview_messages(_body(us, notes=True), req.title, req.style),
                shown,
                self.OVERVIEW_TOKENS,
                stream=True,
                style="paragraph",
                min_support=self.OVERVIEW_SUPPORT,
                strict=True,
                max_points=self.OVERVIEW_SENTENCES,
            )
        emitted = "".join(_render(p, "paragraph", self.cite) for p in overview)

        # The points: quotes, best first until the length, shown in document order with their own pages.
        budget = self.words - _words(overview)
        chosen: list[_Unit] = []
        n = 0
        min_points = 2 if req.style == "paragraph" else 3
        for u in ranked:
            if n >= budget and len(chosen) >= min_points:
                break
            chosen.append(u)
            n += len(u.text.split())
        chosen.sort(key=lambda u: order[id(u)])
        points = [SummaryPoint(_quote(u.text), u.pages) for u in chosen]
        self.overview_n, self.quoted_n = len(overview), len(points)
        style = "paragraph" if req.style == "paragraph" else "key_points"
        sep = "" if style == "paragraph" or not emitted else "\n\n"
        if sep:
            yield Token(sep)
        emitted += sep
        for p in points:
            piece = _render(p, style, self.cite)
            emitted += piece
            yield Token(piece)
        self.done = self.total
        yield Progress(self.done, self.total, "Done", "sections", None)
        return [*overview, *points], emitted.strip()

    # -- preparing the text

    def _units(self) -> list[_Unit]:
        texts: list[tuple[str, int]] = []
        for page in self.req.pages:
            for sentence in self.split(page.text):
                texts.append((sentence, page.number))
        if not texts:
            raise AppError(
                "There is no text to summarize.",
                "If this is a scanned document, run it through OCR first; otherwise paste some text.",
            )
        counts = self.engine.count_text_tokens([t for t, _ in texts])
        cap = max(32, min(self.map_budget, self.final_budget) // 4)
        units: list[_Unit] = []
        for (text, number), n in zip(texts, counts, strict=True):
            if n <= cap:
                units.append(_Unit(text, (number,), n))
                continue
            # A "sentence" too long to place (a table, a page without punctuation): cut it by words.
            words = text.split()
            pieces = max(2, math.ceil(n / cap) + 1)
            step = max(1, math.ceil(len(words) / pieces))
            chunks = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
            for chunk, k in zip(chunks, self.engine.count_text_tokens(chunks), strict=True):
                units.append(_Unit(chunk, (number,), k))
        return units

    @staticmethod
    def _pack(units: Sequence[_Unit], budget: int) -> list[list[_Unit]]:
        """Consecutive groups whose tokens fit `budget`, balanced so the last is not a scrap."""
        total = sum(u.tokens for u in units)
        n = max(1, math.ceil(total / budget))
        target = min(budget, math.ceil(total / n) + 1)
        groups: list[list[_Unit]] = [[]]
        size = 0
        for u in units:
            if groups[-1] and size + u.tokens > target and (size + u.tokens > budget or size >= target):
                groups.append([])
                size = 0
            groups[-1].append(u)
            size += u.tokens
        return groups

    def _select(self, units: Sequence[_Unit], scores: Sequence[float], budget: int) -> list[_Unit]:
        """The most central units, within the ratio and the budget, back in document order."""
        total = sum(u.tokens for u in units)
        allowance = min(budget, max(1, int(total * self.req.select_ratio)))
        chosen: list[int] = []
        used = 0
        for i in sorted(range(len(units)), key=lambda i: -scores[i]):
            if used + units[i].tokens > allowance:
                if used + units[i].tokens > budget or used >= allowance * 0.9:
                    continue
            chosen.append(i)
            used += units[i].tokens
            if used >= allowance:
                break
        if not chosen:  # every single unit is bigger than the allowance: take the smallest central one
            chosen = [min(range(len(units)), key=lambda i: units[i].tokens)]
        return [units[i] for i in sorted(chosen)]

    def _estimate_reduce_calls(self, n_sections: int) -> int:
        notes = n_sections * self.map_tokens * 0.6
        calls = 0
        while notes > self.final_budget:
            groups = math.ceil(notes / self.map_budget)
            calls += groups
            notes = groups * self.map_tokens * 0.6
        return calls

    # -- the steps

    def _map(self, sections: list[list[_Unit]]) -> Generator[Event, None, list[_Unit]]:
        ranks = self.rank([[u.text for u in s] for s in sections])
        notes: list[_Unit] = []
        try:
            for k, section in enumerate(sections):
                self.cancel.raise_if_cancelled()
                label = f"Reading {format_pages(sorted({p for u in section for p in u.pages}))}"
                yield self._progress(label)
                scores = next(ranks)
                shown = self._select(section, scores, self.map_budget)
                n = 3 if self.req.style != "detailed" else 4

                def build(us: Sequence[_Unit], n: int = n) -> list[ChatMessage]:
                    return _map_messages(_body(us), self.req.title, n)

                points = yield from self._generate(
                    build,
                    shown,
                    self.map_tokens,
                    stream=False,
                    style="key_points",
                    engine=self.map_engine,
                )
                if not points:
                    # Nothing usable came back: the section's most central sentences stand in, verbatim.
                    best = sorted(range(len(section)), key=lambda i: -scores[i])[:2]
                    points = [SummaryPoint(section[i].text, section[i].pages) for i in sorted(best)]
                notes += self._as_units(points)
                self.done = k + 1
        finally:
            close = getattr(ranks, "close", None)
            if close is not None:
                close()
        return notes

    def _reduce_level(self, notes: list[_Unit]) -> Generator[Event, None, list[_Unit]]:
        groups = self._pack(notes, self.map_budget)
        self.total = self.done + len(groups) + 1 + self._estimate_reduce_calls(len(groups))
        out: list[_Unit] = []
        for group in groups:
            self.cancel.raise_if_cancelled()
            yield self._progress(f"Combining {format_pages(sorted({p for u in group for p in u.pages}))}")
            points = yield from self._generate(
                lambda us: _map_messages(_body(us, notes=True), self.req.title, 4),
                group,
                self.map_tokens,
                stream=False,
                style="key_points",
                engine=self.map_engine,
            )
            if not points:
                points = [SummaryPoint(u.text, u.pages) for u in group[:2]]
            out += self._as_units(points)
            self.done += 1
        return out

    def _final(self, shown: Sequence[_Unit], notes: bool) -> Generator[Event, None, list[SummaryPoint]]:
        req = self.req
        points = yield from self._generate(
            lambda us: _final_messages(
                _body(us, notes), req.title, req.style, self.words, self.n_points, notes
            ),
            shown,
            self.final_tokens,
            stream=True,
            style=req.style,
        )
        # Short of the asked length (the small model stops early, cleaning drops points): add the most
        # central section points the model left out, in document order; they carry their own pages.
        short = _words(points) < self.words * 0.8 or len(points) < max(2, self.n_points // 2)
        if req.style != "paragraph" and notes and short and req.top_up:
            have = [content_words(p.text) for p in points]
            scores = next(iter(self.rank([[u.text for u in shown]])))
            extra: list[SummaryPoint] = []
            for i in sorted(range(len(shown)), key=lambda i: -scores[i]):
                if (
                    _words([*points, *extra]) >= self.words * 0.9
                    or len(points) + len(extra) >= self.n_points + 3
                ):
                    break
                w = content_words(shown[i].text)
                if len(shown[i].text.split()) < 5 or any(_jaccard(w, h) >= 0.5 for h in have):
                    continue
                extra.append(SummaryPoint(shown[i].text, shown[i].pages))
                have.append(w)
            extra.sort(key=lambda p: p.pages)
            for p in extra:
                points.append(p)
                yield Token(_render(p, req.style, self.cite))
        return points

    def _as_units(self, points: Sequence[SummaryPoint]) -> list[_Unit]:
        counts = self.engine.count_text_tokens([p.text for p in points]) if points else []
        return [_Unit(p.text, p.pages, n + 2) for p, n in zip(points, counts, strict=True)]

    def _generate(
        self,
        build: Callable[[Sequence[_Unit]], list[ChatMessage]],
        shown: Sequence[_Unit],
        max_tokens: int,
        stream: bool,
        style: str,
        min_support: float | None = None,
        strict: bool = False,
        max_points: int | None = None,
        engine: SummaryEngine | None = None,
    ) -> Generator[Event, None, list[SummaryPoint]]:
        """One model call (by `engine`, default the summary's model); points come out cleaned and
        attributed, streamed as Tokens when asked."""
        self.cancel.raise_if_cancelled()
        req = self.req
        engine = engine if engine is not None else self.engine
        if engine is not self.engine:
            self.map_calls += 1
        # A prompt over budget would make the runtime refuse it: drop shown units from the end until it fits.
        limit = int(engine.n_ctx) - max_tokens
        messages = build(shown)
        while engine.count_tokens(messages) > limit and len(shown) > 1:
            shown = shown[: max(1, len(shown) * 4 // 5)]
            messages = build(shown)
        params = GenerationParams(
            max_tokens=max_tokens, temperature=req.temperature, top_k=40, repeat_penalty=1.15, seed=req.seed
        )
        collector = _PointCollector(
            _Sources(shown),
            style == "paragraph",
            self.split,
            self.MIN_SUPPORT if min_support is None else min_support,
            strict,
        )
        inner = CancelToken()
        self.cancel.on_cancel(inner.cancel)
        t0 = time.perf_counter()
        raw: list[str] = []
        gen = engine.stream_chat(messages, params, inner)
        completion: Completion | None = None
        try:
            while True:
                try:
                    event = next(gen)
                except StopIteration as stop:
                    completion = stop.value
                    break
                if isinstance(event, Token):
                    raw.append(event.text)
                    for point in collector.feed(event.text):
                        if stream:
                            yield Token(_render(point, style, self.cite))
                    if max_points is not None and len(collector.points) >= max_points and not inner.cancelled:
                        inner.cancel()  # enough: the rest would not be shown
                    # A model that keeps repeating itself or wandering off will not come back: stop it.
                    if collector.rejected_in_a_row >= 4 and not inner.cancelled:
                        self.meter.early_stops += 1
                        inner.cancel()
                elif isinstance(event, Notice):
                    yield event
        except Cancelled:
            if self.cancel.cancelled:
                raise
        finally:
            gen.close()
        if completion is None:  # stopped early: the runtime kept no stats, so count what was done
            n_out = sum(engine.count_text_tokens(["".join(raw)])) if raw else 0
            stats = GenerationStats(
                prompt_tokens=engine.count_tokens(messages),
                completion_tokens=n_out,
                stop_reason="early_stop",
            )
        else:
            stats = completion.stats
        full = max_points is not None and len(collector.points) >= max_points
        for point in [] if full else collector.finish(stats.stop_reason):
            if stream:
                yield Token(_render(point, style, self.cite))
        self.meter.add(stats, time.perf_counter() - t0)
        self.meter.dropped_unsupported += collector.dropped["unsupported"]
        self.meter.dropped_duplicate += collector.dropped["duplicate"]
        self.meter.dropped_echo += collector.dropped["echo"]
        log.debug(
            "summarize call: %s in, %s out, dropped %s",
            stats.prompt_tokens,
            stats.completion_tokens,
            dict(collector.dropped),
        )
        return collector.points

    def _text(self, points: Sequence[SummaryPoint]) -> str:
        return "".join(_render(p, self.req.style, self.cite) for p in points).strip()

"""The application's use cases — answer, chat, summarize — shared by `hearth` and the window.

Both front ends call these with what they own: the model runtime, the retriever (the Library in the
CLI; `ui.session.LaneRetriever`, which hops to the index lane, in the window) and the settings. So a
question, a chat turn or a summary is the same request in both, built from the same settings, and
the front ends only differ in how they show events. Every function returns a job
(`Callable[[CancelToken], Generator[Event, None, R]]`); reading a document reports `Progress`
events like any other job. No Qt here, and heavy imports stay inside the functions (the window
imports this module on the GUI thread).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from desktop.core.chat import ChatEngine
from desktop.core.events import Event, Notice, Progress
from desktop.core.jobs import CancelToken, Job
from desktop.core.requests import Settings, answer_params, answer_request

if TYPE_CHECKING:
    from desktop.core.rag import Answer, AskRequest, Gather, Gathered
    from desktop.core.types import ChatMessage, Completion, Page, Summary
    from desktop.services.llm import RuntimeInfo

R = TypeVar("R")


class Runtime(ChatEngine, Protocol):
    """A model runtime as the use cases and the front ends hold it (services/llm.LlamaRuntime; a remote
    one alike). `n_ctx` and `n_params` start the model when it is not started yet."""

    def start(self) -> RuntimeInfo: ...

    def close(self) -> None: ...

    @property
    def n_ctx(self) -> int: ...

    @property
    def n_params(self) -> int: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int: ...


# -- answer -------------------------------------------------------------------------------------


def answer(
    runtime: Any,
    retriever: Any,
    question: str,
    collections: Sequence[str],
    settings: Settings,
    *,
    history: Sequence[ChatMessage] = (),
    mode: str | None = None,
    document: str | None = None,
    n_ctx: int | None = None,
    model_params: int | None = None,
    gather: Gather | None = None,
) -> Job[Answer]:
    """A cited answer from `collections` (or from one library `document`, by sha256).

    `n_ctx`/`model_params` are the planned context and the GGUF header's parameter count when the
    caller knows them without starting the model (`hearth ask` then loads it only when a model
    sentence is wanted); otherwise they are read from the runtime. `mode` None: the setting.
    `gather`: the evidence search in one call where the library lives (the window's index lane).
    """

    def job(cancel: CancelToken) -> Generator[Event, None, Answer]:
        from desktop.core.rag import ask_job

        asked = str(settings["answer_mode"]) if mode is None else mode
        if asked == "auto":  # the model's measured check decides where it was run; never run here:
            asked = _kept_mode(runtime, "answer") or asked  # evidence first, no model before it
        request = answer_request(
            question,
            collections,
            settings,
            n_ctx=runtime.n_ctx if n_ctx is None else n_ctx,
            history=history,
            mode=asked,
            document=document,
            model_params=getattr(runtime, "n_params", None) if model_params is None else model_params,
        )
        embed = getattr(retriever, "embed_texts", None)  # the library's embedder scores the evidence
        notices: list[Event] = []  # the library's, about the search (the team library not answering)

        def gathered(q: str, req: AskRequest, cancel: CancelToken, timings: dict[str, float]) -> Gathered:
            from desktop.core.rag import gather_evidence

            if gather is not None:
                found = gather(q, req, cancel, timings)
            else:
                found = gather_evidence(retriever, q, req, embed, cancel, timings)
            take = getattr(retriever, "take_notices", None)
            notices.extend(take() if take is not None else ())
            return found

        run = ask_job(
            runtime,
            retriever,
            request,
            runtime.count_tokens,
            start_model=lambda: runtime.n_ctx,
            embed=embed,
            gather=gathered,
        )
        inner = run(cancel)
        while True:  # the search's notices come before the first event after it (the sources)
            try:
                event = next(inner)
            except StopIteration as stop:
                result: Answer = stop.value
                break
            while notices:
                yield notices.pop(0)
            yield event
        if result.stats is None:
            return result
        return replace(result, stats=replace(result.stats, model=_model_label(runtime)))

    return job


# -- chat ---------------------------------------------------------------------------------------


def chat(
    runtime: Any,
    history: Sequence[ChatMessage],
    settings: Settings,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    seed: int = -1,
) -> Job[Completion]:
    """The model's next turn in a conversation (the settings' length and temperature unless given)."""

    from desktop.core.chat import ChatRequest, chat_job

    params = answer_params(settings)
    if max_tokens is not None:
        params = replace(params, max_tokens=max_tokens)
    if temperature is not None:
        params = replace(params, temperature=temperature)
    params = replace(params, seed=seed)
    turn = chat_job(runtime, ChatRequest(tuple(history), params))

    def job(cancel: CancelToken) -> Generator[Event, None, Completion]:
        completion = yield from turn(cancel)
        return replace(completion, stats=replace(completion.stats, model=_model_label(runtime)))

    return job


# -- documents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pages:
    """A document's pages to summarize, and what to call it."""

    pages: tuple[Page, ...]
    title: str
    source: str  # the file's name, "standard input", "pasted text"


PagesJob = Job[Pages]


def given(doc: Pages) -> PagesJob:
    """A reading step for pages already in hand (stored pages, pasted or piped text)."""

    def read(cancel: CancelToken) -> Generator[Event, None, Pages]:
        return doc
        yield  # a generator that has its pages already

    return read


# Runs a blocking call somewhere else (a thread; the window's io lane); must not block the caller.
Spawn = Callable[[Callable[[], None]], Any]


def file_pages(path: Path, cancel: CancelToken, spawn: Spawn | None = None) -> Generator[Event, None, Pages]:
    """Read a file by its type (services/readers), reporting `Progress` per page or section and a
    `Notice` for anything the reader left out. DocumentError for what cannot be read. The reading
    runs where `spawn` puts it (default: a thread of its own; the window: its io lane) while this
    generator relays its progress."""
    from desktop.core.errors import DocumentError
    from desktop.services import readers

    if not path.exists():
        raise DocumentError(f"There is no file {path}.", "Check the name and the folder.", reason="missing")
    if path.is_dir():
        raise DocumentError(f"{path} is a folder, not a document.", "Give one file.", reason="not_a_file")
    reader = readers.reader_for(path)  # by suffix, else by content; a clear refusal for others
    unit = "sections" if reader.kind in ("markdown", "html") else "pages"
    label = f"Reading {path.name}"
    info, pages = yield from _with_progress(
        lambda progress: reader.extract(path, cancel, progress),
        lambda done, total: Progress(done, total, label, unit),
        spawn,
    )
    for notice in (info.truncated, *info.notices):
        if notice:
            yield Notice(f"{path.name}: {notice}.", "warning")
    return Pages(tuple(pages), path.stem.replace("_", " "), path.name)


def text_pages(text: str, source: str = "pasted text") -> Pages:
    """Pasted or piped text as pages (paragraph groups), for a summary."""
    from desktop.core.summarize import pages_from_text

    pages = tuple(pages_from_text(text))
    if not pages:
        from desktop.core.errors import DocumentError

        raise DocumentError("There is no text to summarize.", "Paste or pipe some text first.")
    return Pages(pages, "Pasted text", source)


def summarize(
    runtime: Any,
    read: PagesJob,
    settings: Settings,
    *,
    ranker: Any = None,
    style: str | None = None,
    mode: str | None = None,
    length: int | None = None,
    model_params: int | None = None,
) -> Job[Summary]:
    """Read the document (`read`: stored pages, a file, pasted text), then summarize it.

    `ranker` scores how central each sentence is (services/sentences.EmbeddingRanker: the
    CLI's own embedder, or the window's on the index lane); None: no grounded key points.
    `style`/`mode` None: the settings'. `model_params` None: read from the runtime. A team runtime
    (services/team.py) gives the steps core/team.py routes to the small model to its small model;
    the summary's stats name the model that wrote it (`model`) and the one that read the sections
    (`map_model`, when another)."""

    def job(cancel: CancelToken) -> Generator[Event, None, Summary]:
        from desktop.core.summarize import SummaryRequest, summarize_job
        from desktop.services.sentences import split_sentences

        doc = yield from read(cancel)
        cancel.raise_if_cancelled()
        asked = str(settings["summary_mode"]) if mode is None else mode
        if asked == "auto":  # the model's measured check decides, where it has one
            asked = (yield from _measured_mode(runtime, cancel, "summary")) or asked
        request = SummaryRequest(
            doc.pages,
            title=doc.title,
            style=str(settings["summary_style"]) if style is None else style,
            length=length,
            mode=asked,
            model_params=getattr(runtime, "n_params", None) if model_params is None else model_params,
        )
        from desktop.core.team import SMALL, role_for
        from desktop.services.team import team_small

        small = team_small(runtime)
        map_engine = small if small is not None and role_for("summary_map", True) == SMALL else None
        split = split_sentences if ranker is not None else None
        run = summarize_job(runtime, request, ranker, split, map_engine=map_engine)
        summary = yield from run(cancel)
        stats = {**summary.stats, "model": _model_label(runtime)}
        if map_engine is not None and summary.stats.get("map_calls_other_model"):
            stats["map_model"] = _model_label(map_engine)
        return replace(summary, stats=stats)

    return job


def _kept_mode(runtime: Any, kind: str) -> str | None:
    """What `auto` means for this model by a faithfulness check already run (None: not checked yet,
    and the size rule decides). An answer never waits for the check: its evidence comes first and
    an abstention starts no model; the window runs the check when idle (Session.check_model)."""
    from desktop.services import model_check

    path = model_check.local_model_path(runtime)
    return _mode_of(model_check.cached_verdict(path) if path is not None else None, kind)


def _measured_mode(runtime: Any, cancel: CancelToken, kind: str) -> Generator[Event, None, str | None]:
    """What `auto` means for this model by its faithfulness check (services/model_check.py; run
    once per model, here, on the lane that owns it), or None: no local model file to check, or
    not measured (the size rule then decides)."""
    from desktop.services import model_check

    return _mode_of((yield from model_check.verdict_for(runtime, cancel)), kind)


def _mode_of(verdict: Any, kind: str) -> str | None:
    """The mode a faithfulness verdict gives an answer or a summary (None: no verdict)."""
    if verdict is None:
        return None
    mode: str | None = verdict.answer_mode() if kind == "answer" else verdict.summary_mode()
    return mode


def _model_label(runtime: Any) -> str:
    from desktop.services.team import model_label

    return model_label(runtime)


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What a front end shows and keeps of any use case's result: the text, its stats and sources.
    `kind`: "answer" (from the documents), "chat" (the model alone) or "summary"."""

    kind: str
    text: str
    stats: dict[str, Any]
    citations: tuple[dict[str, Any], ...] = ()


def reply_of(result: Answer | Completion | Summary) -> Reply:
    """The one mapping from a typed result to what is shown and stored with the message."""
    from desktop.core.types import Answer, Completion, Summary

    if isinstance(result, Answer):
        stats = result.stats.to_dict() if result.stats is not None else {}
        return Reply("answer", result.text, stats, tuple(c.to_dict() for c in result.citations))
    if isinstance(result, Completion):
        return Reply("chat", result.text, result.stats.to_dict())
    if isinstance(result, Summary):
        return Reply("summary", result.text, dict(result.stats))
    raise TypeError(f"not a use case's result: {type(result).__name__}")


def _with_progress(
    work: Callable[[Callable[[int, int], None]], R],
    event: Callable[[int, int], Event],
    spawn: Spawn | None = None,
) -> Generator[Event, None, R]:
    """Run `work(progress)` elsewhere (`spawn`, default a thread) and yield its progress as events, in
    order, while it runs; return its result (or raise its error). A PDF itself is parsed in pdf.py's
    worker process; where `work` runs only waits on it."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        try:
            out.put(("done", work(lambda done, total: out.put(("progress", (done, total))))))
        except BaseException as exc:  # handed to the job's thread, which raises it
            out.put(("error", exc))

    if spawn is None:
        threading.Thread(target=run, name="read-document", daemon=True).start()
    else:
        spawn(run)
    while True:
        kind, value = out.get()
        if kind == "progress":
            yield event(*value)
        elif kind == "error":
            raise value
        else:
            return value

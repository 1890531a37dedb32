"""Side by side: the same question to another model, in a runtime of its own, one after the other.

`hearth compare`, `hearth chat --once … --compare MODEL` and the window's "Compare with…" all run
each model by `model_answer`: open that model's runtime, start it, answer the chat's history (a
cited answer when the chat asks collections, the model alone otherwise), close it. Models never
run at once (on a 2-core laptop two decoders would each crawl), and the second model's memory is
given back as soon as it has answered.

The turn is kept as ONE assistant message (services/chats.py `ChatStore.add_comparison`): its text is
the chosen answer, and `meta["compare"]` lists every model's answer. So the history sent to the
model next holds one answer, and export, regenerate and edit see one turn.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.core.events import Event, Progress
from desktop.core.jobs import CancelToken
from desktop.core.requests import Settings
from desktop.core.types import ChatMessage

# model name (or path, "base + adapter", "" for the default) -> (an unstarted runtime, the name shown)
OpenModel = Callable[[str], tuple[Any, str]]


@dataclass(frozen=True, slots=True)
class Compared:
    """One model's answer in a comparison, as kept in `meta["compare"]`."""

    model: str
    text: str
    stats: dict[str, Any]
    citations: tuple[dict[str, Any], ...] = ()

    def to_entry(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "text": self.text,
            "stats": self.stats,
            "citations": list(self.citations),
        }


def answer_with(
    runtime: Any,
    history: Sequence[ChatMessage],
    collections: Sequence[str],
    settings: Settings,
    *,
    retriever: Any = None,
    max_tokens: int | None = None,
    seed: int = -1,
) -> Callable[[CancelToken], Generator[Event, None, Any]]:
    """The next turn by the app's use cases: a cited answer when `collections` are asked (and a
    `retriever` given), the model alone otherwise. `history` ends with the question."""
    from desktop.services import tasks

    if collections and retriever is not None:
        return tasks.answer(
            runtime,
            retriever,
            history[-1].content,
            collections,
            settings,
            history=history[:-1],
            gather=getattr(retriever, "gather", None),
        )
    return tasks.chat(runtime, history, settings, max_tokens=max_tokens, seed=seed)


def model_answer(
    open_model: OpenModel,
    model: str,
    history: Sequence[ChatMessage],
    collections: Sequence[str],
    settings: Settings,
    *,
    retriever: Any = None,
    max_tokens: int | None = None,
    seed: int = -1,
) -> Callable[[CancelToken], Generator[Event, None, Compared]]:
    """`model`'s answer in a runtime of its own, closed when it has answered (or failed, or was
    stopped). The stats say how long loading took (`load_s`) and which model answered."""

    def job(cancel: CancelToken) -> Generator[Event, None, Compared]:
        import time

        from desktop.services.tasks import reply_of

        runtime, name = open_model(model)
        try:
            yield Progress(0, 0, f"Loading {name}")
            started = time.monotonic()
            runtime.start()
            load_s = time.monotonic() - started
            cancel.raise_if_cancelled()
            run = answer_with(
                runtime,
                history,
                collections,
                settings,
                retriever=retriever,
                max_tokens=max_tokens,
                seed=seed,
            )
            reply = reply_of((yield from run(cancel)))
        finally:
            runtime.close()
        stats = {**reply.stats, "model": name, "load_s": round(load_s, 3)}
        return Compared(name, reply.text, stats, reply.citations)

    return job


def planned_opener(settings: Any) -> OpenModel:
    """`OpenModel` by services/runtime.open_runtime (the CLI's; the window passes its own factory)."""

    def open_model(model: str) -> tuple[Any, str]:
        from desktop.services.runtime import open_runtime

        runtime, choice = open_runtime(settings, model or None)
        return runtime, choice.model.name

    return open_model

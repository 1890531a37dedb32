"""Chat: fit a conversation into the model's context window, and the chat job.

Trimming keeps the system prompt and the newest turns; the oldest turns go first, and a
user message is never kept without the turns after it. A single message that cannot fit even
alone raises ContextOverflow with a plain explanation.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from desktop.core.errors import ContextOverflow
from desktop.core.events import Event, Notice
from desktop.core.jobs import CancelToken
from desktop.core.types import ChatMessage, Completion, GenerationStats


@dataclass(frozen=True, slots=True)
class FittedHistory:
    messages: tuple[ChatMessage, ...]
    dropped: int  # how many of the oldest messages were left out
    prompt_tokens: int


def fit_history(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    budget: int,
) -> FittedHistory:
    """Drop the oldest turns until the formatted prompt fits in `budget` tokens.

    `count_tokens` counts the whole formatted prompt (template included), so the result is
    exact for the model's own template. Cost: O(log n) calls, by binary search on the cut.
    """
    if budget <= 0:
        raise ContextOverflow(
            "The model's context window is too small to answer.",
            "Choose a larger context size in Settings, or a model with a longer context.",
        )
    system = [m for m in messages[:1] if m.role == "system"]
    turns = list(messages[len(system) :])
    if not turns:
        return FittedHistory(tuple(system), 0, count_tokens(system))

    # Candidate cut points: only where a user message starts, so no answer loses its question.
    starts = [i for i, m in enumerate(turns) if m.role == "user"] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)

    def tokens_from(cut: int) -> int:
        return count_tokens([*system, *turns[cut:]])

    full = tokens_from(0)
    if full <= budget:
        return FittedHistory(tuple(messages), 0, full)

    # Binary search the earliest cut whose prompt fits (more dropped → fewer tokens).
    lo, hi = 0, len(starts) - 1
    last = tokens_from(starts[hi])
    if last > budget:
        raise ContextOverflow(
            f"Your message is too long for this model's context window ({last} of {budget} tokens).",
            "Shorten it, attach the text as a document instead, or pick a larger context size in Settings.",
        )
    best, best_tokens = hi, last
    while lo < hi:
        mid = (lo + hi) // 2
        n = tokens_from(starts[mid])
        if n <= budget:
            best, best_tokens, hi = mid, n, mid
        else:
            lo = mid + 1
    cut = starts[best]
    kept = (*system, *turns[cut:])
    return FittedHistory(tuple(kept), cut, best_tokens)


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_tokens: int = 512
    temperature: float = 0.3
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int = -1
    stop: tuple[str, ...] = ()


class ChatEngine(Protocol):
    """What a chat needs from a model runtime (services/llm.py implements it)."""

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]: ...


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    params: GenerationParams = field(default_factory=GenerationParams)


def chat_job(
    engine: ChatEngine, request: ChatRequest
) -> Callable[[CancelToken], Generator[Event, None, Completion]]:
    """A job that streams one assistant answer to `request.messages`."""

    def job(cancel: CancelToken) -> Generator[Event, None, Completion]:
        if not request.messages or request.messages[-1].role != "user":
            raise ValueError("a chat request must end with a user message")
        if not request.messages[-1].content.strip():
            yield Notice("Nothing to answer: the message is empty.", "warning")
            return Completion("", GenerationStats(stop_reason="empty"))
        return (yield from engine.stream_chat(request.messages, request.params, cancel))

    return job

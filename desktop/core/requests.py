"""The requests both front ends send, built from the same settings in the same way.

`hearth ask` and the window's chat ask the same question the same way: one place turns the user's
settings (answer length, temperature, sources per answer) into the model's parameters and the
answer request, so the CLI and the window cannot drift (the CLI used a fixed temperature of 0.2
while the window read the setting). Pure: no Qt, no heavy imports; `answer_params` runs on the GUI
thread, so importing this module must not load rag (measured: +30 ms of GUI-thread time at the first
question when it did).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from desktop.core.chat import GenerationParams

if TYPE_CHECKING:  # rag (and its evidence code) loads on the answer's lane, never on the GUI thread
    from desktop.core.rag import AskRequest
    from desktop.core.types import ChatMessage


class Settings(Protocol):
    def __getitem__(self, key: str) -> Any: ...


def answer_params(settings: Settings) -> GenerationParams:
    """The model's parameters for an answer or a chat reply, from the user's settings."""
    return GenerationParams(
        max_tokens=int(settings["max_answer_tokens"]), temperature=float(settings["temperature"])
    )


def answer_request(
    question: str,
    collections: Sequence[str],
    settings: Settings,
    *,
    n_ctx: int,
    history: Sequence[ChatMessage] = (),
    mode: str = "auto",
    document: str | None = None,
    model_params: int | None = None,
) -> AskRequest:
    """A question for rag.ask_job: the settings' answer length, temperature and sources."""
    from desktop.core.rag import AskRequest

    return AskRequest(
        question,
        tuple(collections),
        n_ctx=n_ctx,
        params=answer_params(settings),
        max_sources=int(settings["sources_per_answer"]),
        history=tuple(history),
        mode=mode,
        document=document,
        model_params=model_params,
    )

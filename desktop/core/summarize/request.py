"""What a summary is asked for, and what it needs from the model runtime and the app."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from desktop.core.chat import GenerationParams
from desktop.core.events import Event
from desktop.core.jobs import CancelToken
from desktop.core.types import ChatMessage, Completion, Page

STYLES = ("paragraph", "key_points", "detailed")
DEFAULT_WORDS = {"paragraph": 120, "key_points": 150, "detailed": 320}
# grounded: the points are the document's own central sentences (quotes, exact pages) and the model only
# writes a short, support-checked overview; abstractive: the model writes every point (map–reduce).
MODES = ("auto", "grounded", "abstractive")
# Below this many parameters "auto" is grounded: the bundled 135M model paraphrases loosely and invents
# details, and on CL-SciSumm its abstractive points score below plain extraction (docs/summarize.md).
ABSTRACTIVE_MIN_PARAMS = 1_000_000_000


class SummaryEngine(Protocol):
    """What summarizing needs from a model runtime (services/llm.py's LlamaRuntime implements it)."""

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int: ...

    def count_text_tokens(self, texts: Sequence[str]) -> list[int]: ...

    @property
    def n_ctx(self) -> int: ...


# Scores each group of sentences (one group per section), in order; higher = more central.
# An iterator so that the service can work ahead (embed section k+1 while the model writes section k).
Ranker = Callable[[Sequence[Sequence[str]]], Iterator[list[float]]]
Splitter = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    pages: tuple[Page, ...]
    title: str = ""
    style: str = "key_points"
    length: int | None = None  # target words; None: the style's default
    select_ratio: float = 0.5  # share of each section's tokens shown to the model (1.0: all)
    temperature: float = 0.2
    seed: int = 42
    map_tokens: int = 160  # most tokens one section's notes may take
    # Most document tokens one call reads, however large the context: a 135M model loses the thread in
    # long inputs, and prefill slows as the context fills. None: as much as the context allows.
    max_input_tokens: int | None = 2000
    top_up: bool = True  # fill a final list that falls short of the length with the best section points
    mode: str = "auto"  # one of MODES; "auto" picks by the model's size
    # The model's parameter count, for "auto" (the engine's own `n_params` is used when it has one);
    # unknown: grounded, the faithful choice.
    model_params: int | None = None
    overview: bool = True  # grounded: the model writes a short overview above the quoted points
    # grounded: how much earlier sentences are preferred (score × (1 + w × (1 − position))); the opening
    # of a paper or a contract usually states what it is about.
    lead_weight: float = 0.0

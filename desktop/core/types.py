"""Value objects shared by every layer. Plain frozen dataclasses, no behaviour beyond small helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
Backend = Literal["cpu", "cuda", "metal", "vulkan", "rocm"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a GGUF file says about itself, read without loading the model."""

    path: str
    name: str
    architecture: str
    file_size: int
    n_params: int | None
    quantization: str
    context_length: int
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    chat_template: str | None
    sha256: str | None = None
    license: str | None = None

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["has_chat_template"] = self.has_chat_template
        d.pop("chat_template", None)
        return d


@dataclass(frozen=True, slots=True)
class GpuInfo:
    backend: Backend
    name: str
    vram_total: int  # bytes
    vram_free: int  # bytes
    unified_memory: bool = False  # Apple silicon: the GPU shares system RAM


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    """What this machine offers, as probed (or described, in tests)."""

    physical_cores: int
    logical_cores: int
    ram_total: int  # bytes
    ram_available: int  # bytes
    os: str  # "linux" | "darwin" | "windows"
    machine: str  # "x86_64" | "arm64" …
    gpus: tuple[GpuInfo, ...] = ()
    supported_backends: tuple[Backend, ...] = ("cpu",)  # what this llama.cpp build can use
    load_average: float = 0.0  # 1-minute load: other programs competing for the CPU


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


Fit = Literal["fits", "may_be_slow", "wont_fit"]


@dataclass(frozen=True, slots=True)
class RuntimePlan:
    """How to run a model here: where, with how many threads and how much context, and why."""

    backend: Backend
    n_gpu_layers: int
    n_threads: int
    n_threads_batch: int
    n_ctx: int
    n_batch: int
    fit: Fit
    reason: str
    memory: MemoryEstimate | None = None
    lora_path: str = ""  # a LoRA adapter applied on the model (services/adapters.py), if any
    lora_scale: float = 1.0  # how strongly: 0 = the base model as it is

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.memory is not None:
            d["memory"]["total"] = self.memory.total
        return d


@dataclass(frozen=True, slots=True)
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV was reused from the previous turn
    completion_tokens: int = 0
    ttft_s: float = 0.0  # time to first token
    decode_s: float = 0.0  # first token → last token
    total_s: float = 0.0
    backend: str = "cpu"
    stop_reason: str = ""  # "stop" | "length" | "cancelled"
    model: str = ""  # which model wrote it (its file name); set by the use case, "" when not known

    @property
    def tokens_per_s(self) -> float:
        if self.completion_tokens <= 1 or self.decode_s <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.decode_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tokens_per_s"] = round(self.tokens_per_s, 2)
        return d


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    stats: GenerationStats


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a document: 1-based number and its extracted text."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document's text that keeps the pages it spans."""

    doc_id: str  # content sha256
    index: int
    text: str
    page_start: int
    page_end: int

    @property
    def id(self) -> str:
        return f"{self.doc_id}:{self.index}"


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A passage of a library document as retrieval returns it: the chunk's text, the pages it spans
    and the document it belongs to (title, path) for citing it."""

    id: str  # "{sha256}:{n}"
    sha256: str
    n: int
    text: str
    page_start: int
    page_end: int
    title: str
    path: str


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source shown to the user and given to the model.

    `quote`: the exact text of the evidence taken from this source (a sentence or a whole table
    row, whitespace collapsed), for the viewer to highlight on `page`; empty when none was taken.
    `used`: whether the answer rests on it (quoted, or cited by a kept sentence); sources shown
    only as context, or as the closest passages of an abstention, are not used.
    """

    n: int
    doc_id: str
    title: str
    path: str
    page: int
    snippet: str
    page_end: int | None = None
    score: float = 0.0
    quote: str = ""
    used: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AnswerSentence:
    """One sentence of an answer: what it says, which sources ([n]) it rests on, and whether those
    sources hold its numbers, names and words (`supported`). `by_model`: written by the model;
    otherwise a quote of the evidence (or a line Hearth wrote, such as an abstention)."""

    text: str
    sources: tuple[int, ...] = ()
    supported: bool = True
    by_model: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """A cited answer.

    `mode`: "grounded" (quotes of the evidence, plus at most two checked model sentences),
    "checked" (the model's answer, every sentence checked and unsupported specifics marked), or ""
    (no answer was written: nothing found, or abstained). `abstained`: Hearth said the documents do
    not answer it; the citations are then the closest passages, none of them `used`. `cut`: the
    model reached its token limit (the answer says so). `gate`: the answerability verdict
    (features, probability). `timings`: seconds to retrieval, to evidence, to the first model token.
    """

    text: str
    citations: tuple[Citation, ...]
    found: bool = True  # False: nothing relevant was found and the answer says so
    stats: GenerationStats | None = None
    sentences: tuple[AnswerSentence, ...] = ()
    abstained: bool = False
    mode: str = ""
    cut: bool = False
    gate: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "found": self.found,
            "citations": [c.to_dict() for c in self.citations],
            "stats": self.stats.to_dict() if self.stats else None,
            "mode": self.mode,
            "abstained": self.abstained,
            "cut": self.cut,
            "sentences": [s.to_dict() for s in self.sentences],
            "gate": self.gate,
            "timings": self.timings,
        }


@dataclass(frozen=True, slots=True)
class SummaryPoint:
    text: str
    pages: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    title: str
    text: str
    points: tuple[SummaryPoint, ...] = ()
    page_count: int = 0
    style: str = "key_points"
    levels: int = 1  # 1 = one pass; more = map-reduce levels
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""Sentence embeddings with the bundled all-MiniLM-L6-v2, loaded from its folder, on the CPU, lazily.

Speed without losing anything: texts go through the model at most MICRO_BATCH at a time (the
sentence-transformers sort by length stays), which pads less and keeps activations in cache:
1.34x passages/s over batches of 32 here, vectors identical (docs/retrieval.md, "Embedding speed").
Precision "fp32" (default) is the model as shipped. "int8" (per-channel dynamic quantization of the
Linear layers) is ~3x faster but lowered hybrid recall@5 on docugami from 0.966 to 0.931, so it
is only for measurements (HEARTH_EMBED_PRECISION=int8). Never fp16/bf16 on CPU (about 100x
slower here), never ONNX Runtime (telemetry), never by hub name (that would download).
Vectors of different configurations must not share an index: `identity` names the model folder's
content and the precision, and the library rebuilds its vectors when it changes.
Threads: on small machines the embedder and the chat model share the cores; torch's OpenMP
threads spin like llama.cpp's, so by default the embedder leaves one core free.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop.core.errors import ModelNotFound
from desktop.services.paths import embedder_path

log = logging.getLogger("desktop.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
PRECISIONS = ("int8", "fp32")
DEFAULT_PRECISION = "fp32"
# Bump when the way vectors are computed changes (quantization recipe, pooling, truncation …).
RECIPE_VERSION = 1
LEGACY_PRECISION = "fp32"  # what made every index before identities were recorded
# Texts per forward pass; measured on 10-Q passages (2 threads): 32 -> 26.8, 16 -> 31.3, 8 -> 33.6,
# 4 -> 35.9, 1 -> 35.7 passages/s. Results do not depend on it (fp32: cosine 1.000000).
MICRO_BATCH = 4
PRECISION_ENV = "HEARTH_EMBED_PRECISION"  # measurements only: "int8" to re-run the quantized figures


def default_precision() -> str:
    value = os.environ.get(PRECISION_ENV, "").strip().lower()
    return value if value in PRECISIONS else DEFAULT_PRECISION


@functools.lru_cache(maxsize=8)
def _folder_digest(path: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(rel.encode("utf-8") + b"\0")
        with open(os.path.join(path, rel), "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()[:16]


def folder_digest(path: Path) -> str:
    """sha256 of the model folder's files (names and bytes); cached per process while unchanged."""
    stamp: list[tuple[str, int, int]] = []
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.name not in ("README.md", ".gitattributes"):
            st = f.stat()
            stamp.append((f.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns))
    if not stamp:
        return "missing"
    return _folder_digest(str(path), tuple(stamp))


def default_threads() -> int:
    """Cores minus one (at least one, at most eight): room for the chat model and the window."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return max(1, min(8, cores - 1))


class Embedder:
    """all-MiniLM-L6-v2 on the CPU. Loads on first use; one instance per process is plenty."""

    def __init__(
        self, path: str | Path | None = None, threads: int | None = None, precision: str | None = None
    ) -> None:
        self._path = Path(path) if path is not None else None
        self.threads = threads or default_threads()
        self.precision = precision or default_precision()
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        self._model: Any = None
        self._lock = threading.Lock()
        self.load_s = 0.0
        self.name = MODEL_NAME
        self.dim = DIM

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = embedder_path()
        return self._path

    @property
    def identity(self) -> str:
        """What the vectors depend on: model, folder content, precision, recipe. Stored with an index."""
        return self.identity_as(self.precision)

    def identity_as(self, precision: str) -> str:
        """The identity this model folder has at another precision (libraries made before identities
        were recorded were all fp32: LEGACY_PRECISION)."""
        return f"{self.name}/{folder_digest(self.path)}/{precision}/r{RECIPE_VERSION}"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (it loads by itself on the first `encode`)."""
        with self._lock:
            if self._model is not None:
                return
            path = self.path
            if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
                raise ModelNotFound(
                    "The embedding model is missing.",
                    "Reinstall Hearth: it ships all-MiniLM-L6-v2 inside its own files.",
                    detail=str(path),
                )
            # Belt and braces: the privacy guard sets these too, but the embedder may be used alone.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            start = time.perf_counter()
            import torch

            torch.set_num_threads(self.threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:  # already set once in this process; the first setting stays
                pass
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:  # progress bars are cosmetic
                pass
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            model.eval()
            if self.precision == "int8":
                model = _quantize(model)
            self._model = model
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self.dim = int(getter() or DIM)
            self.load_s = time.perf_counter() - start
            log.info(
                "embedder loaded from %s in %.1fs (%s, %d threads)",
                path,
                self.load_s,
                self.precision,
                self.threads,
            )

    def encode(self, texts: Sequence[str], batch_size: int = MICRO_BATCH) -> Any:
        """Unit-length float32 vectors, one row per text (numpy array of shape (n, dim)).

        `batch_size` caps the texts per forward pass; MICRO_BATCH is used when it is larger
        (bigger passes are slower here and give the same vectors).
        """
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            vectors = self._model.encode(
                list(texts),
                batch_size=max(1, min(batch_size, MICRO_BATCH)),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]


def _quantize(model: Any) -> Any:
    """int8 weights per output channel for every Linear layer (dynamic activations).

    Per-channel, not torch's default per-tensor: per-tensor moved vectors to cosine 0.93 of fp32
    on real passages, per-channel keeps 0.98 (docs/retrieval.md).
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch 2.10+ says eager quantization moves to torchao; it still works and torchao is not shipped.
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)

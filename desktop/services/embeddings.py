"""Sentence embeddings with the bundled all-MiniLM-L6-v2, loaded from its folder, CPU fp32, lazily.

Never fp16/bf16 on CPU (about 100x slower here) and never by hub name (that would download).
Threads: on small machines the embedder and the chat model share the cores; torch's OpenMP
threads spin like llama.cpp's, so by default the embedder leaves one core free.
"""

from __future__ import annotations

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


def default_threads() -> int:
    """Cores minus one (at least one, at most eight): room for the chat model and the window."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return max(1, min(8, cores - 1))


class Embedder:
    """all-MiniLM-L6-v2 on the CPU. Loads on first use; one instance per process is plenty."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self.threads = threads or default_threads()
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
            self._model = model
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self.dim = int(getter() or DIM)
            self.load_s = time.perf_counter() - start
            log.info("embedder loaded from %s in %.1fs (%d threads)", path, self.load_s, self.threads)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Any:
        """Unit-length float32 vectors, one row per text (numpy array of shape (n, dim))."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]

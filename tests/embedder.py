"""One real Embedder per test session, shared by every module that needs vectors (loading costs ~5 s)."""

from __future__ import annotations

import functools

from desktop.services.embeddings import Embedder


@functools.cache
def shared_embedder() -> Embedder:
    embedder = Embedder()
    embedder.load()
    return embedder

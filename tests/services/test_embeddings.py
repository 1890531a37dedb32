"""The bundled embedder: loads from its folder offline, unit vectors, meaning beats wording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.core.errors import ModelNotFound
from desktop.services.embeddings import Embedder, default_threads
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow


def test_encode_gives_normalised_float32_rows() -> None:
    emb = shared_embedder()
    vectors = emb.encode(["one sentence", "another, longer sentence about taxes"], batch_size=2)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert emb.encode([]).shape == (0, 384)


def test_similar_meaning_scores_higher_than_shared_words() -> None:
    emb = shared_embedder()
    q, good, bad = emb.encode(
        [
            "How much money did the company make?",
            "Total revenue was 82 billion dollars.",
            "The company car is red.",
        ]
    )
    assert float(q @ good) > float(q @ bad) + 0.1


def test_encoding_is_deterministic_across_batch_sizes() -> None:
    emb = shared_embedder()
    texts = [f"passage number {i} about apples and pears" for i in range(7)]
    assert np.allclose(emb.encode(texts, batch_size=2), emb.encode(texts, batch_size=7), atol=1e-5)


def test_threads_leave_a_core_free_and_missing_model_is_clear(tmp_path: Path) -> None:
    assert 1 <= default_threads() <= 8
    assert shared_embedder().threads == default_threads()
    with pytest.raises(ModelNotFound):
        Embedder(tmp_path).load()

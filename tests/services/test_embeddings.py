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


def test_identity_names_content_and_precision(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "README.md").write_text("docs do not count")
    a = Embedder(tmp_path, precision="int8").identity
    assert a.endswith("/int8/r1") and a == Embedder(tmp_path, precision="int8").identity
    assert Embedder(tmp_path, precision="fp32").identity != a
    (tmp_path / "README.md").write_text("still does not count")
    assert Embedder(tmp_path, precision="int8").identity == a
    (tmp_path / "config.json").write_text('{"changed": 1}')
    assert Embedder(tmp_path, precision="int8").identity != a
    with pytest.raises(ValueError):
        Embedder(tmp_path, precision="fp16")


def test_int8_option_is_quantized_and_stays_close_to_fp32() -> None:
    """The measured (not default) int8 embedder: really quantized, same meaning as the shipped fp32."""
    import torch

    emb = shared_embedder()
    assert emb.precision == "fp32" and emb.identity.endswith("/fp32/r1")
    int8 = Embedder(precision="int8")
    texts = [
        "Total net sales increased 8% compared to the same quarter a year earlier.",
        "The Company repurchased $19.4 billion of its common stock during the quarter.",
        "Inventories consist primarily of finished goods and components.",
        "Sourdough bread needs a starter culture, flour, water and salt.",
        "The Sicilian Defence is a chess opening that begins with c5.",
    ]
    a, b = int8.encode(texts), emb.encode(texts)
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in int8._model.modules())
    assert float(np.min(np.sum(a * b, axis=1))) > 0.95
    assert not np.allclose(a, b, atol=1e-3)  # it is a different configuration: a different identity
    assert int8.identity != emb.identity
    q = "How much stock did the company buy back?"
    assert int(np.argmax(a @ int8.encode([q])[0])) == int(np.argmax(b @ emb.encode([q])[0])) == 1


def test_micro_batches_give_the_same_vectors_as_one_big_batch() -> None:
    emb = shared_embedder()
    texts = [("word " * n).strip() + f" number {n}" for n in (3, 40, 7, 120, 1, 60, 15, 90, 2)]
    one = np.vstack([emb.encode([t], batch_size=1) for t in texts])
    assert np.allclose(emb.encode(texts, batch_size=64), one, atol=1e-5)

"""Query latency with 10k and 100k passages: Hearth's hybrid retrieve ÷ a raw Chroma query, same run.

The library is synthetic: passages of ~120 words drawn from a Zipf-distributed vocabulary (so
BM25 posting lists look like real text), 100 passages a document, stored through Hearth's own
store (SQLite + FTS5) and vector index. Their vectors are random unit vectors, not embeddings:
embedding 100k passages with the real model would take about an hour here, and the index's cost
does not depend on what the vectors mean.

Rows, for each size (quick: 10k only):
- retrieval alone: `desktop.core.rag.retrieve` (FTS5 BM25 + Chroma + fusion + fetching the
  passages, the query vector given) ÷ a raw `collection.query` of the same k on the same index;
- with query embedding: the same plus embedding the question with the bundled model ÷ raw
  `SentenceTransformer.encode` + raw `collection.query`.
Each ratio is p50 ÷ p50 and p95 ÷ p95 (in `detail`: the milliseconds).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from desktop.core.types import Chunk, Page
from desktop.services import privacy

K = 6  # passages an answer uses (AskRequest.max_sources)
PER_DOC = 100
WORDS_PER_PASSAGE = 120
VOCAB = 20000


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(VOCAB)})
    weights = [1.0 / (i + 1) for i in range(len(words))]
    return words, weights


def _fill(lib: Any, n: int, rng: random.Random, words: list[str], weights: list[float]) -> float:
    """Add n synthetic passages to collection "bench" through Hearth's store and index; seconds."""
    import numpy as np

    t0 = time.perf_counter()
    lib.store.ensure_collection("bench")
    nprng = np.random.default_rng(7)
    cum = list(np.cumsum(weights))
    for d in range(n // PER_DOC):
        sha = f"{d:064x}"
        drawn = rng.choices(words, cum_weights=cum, k=PER_DOC * WORDS_PER_PASSAGE)
        texts = [
            " ".join(drawn[i * WORDS_PER_PASSAGE : (i + 1) * WORDS_PER_PASSAGE]) + "." for i in range(PER_DOC)
        ]
        pages = [Page(i + 1, t) for i, t in enumerate(texts)]
        chunks = [Chunk(sha, i, t, i + 1, i + 1) for i, t in enumerate(texts)]
        lib.store.upsert_file("bench", f"/bench/{d}.pdf", sha, 1, 1, "indexing")
        lib.store.save_text(sha, f"Document {d}", 1, False, pages, chunks)
        vecs = nprng.standard_normal((PER_DOC, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        metas = [{"doc": sha, "n": i, "p0": i + 1, "p1": i + 1} for i in range(PER_DOC)]
        lib.vectors.upsert("bench", [f"{sha}:{i}" for i in range(PER_DOC)], vecs, metas)
        lib.store.set_status("bench", sha, "ready")
    return time.perf_counter() - t0


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return statistics.median(s) * 1000, p95 * 1000


def _timed(fn: Callable[[int], object], n: int) -> list[float]:
    fn(0)  # warm-up
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


class _GivenVector:
    """The library as a retriever, with the query's vector supplied (retrieval alone)."""

    def __init__(self, lib: Any, vectors: dict[str, list[float]]) -> None:
        self.lib, self.vectors = lib, vectors

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.lib.vector_search_by(self.vectors[query], collections, k)

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.lib.keyword_search(query, collections, k)

    def chunks(self, ids: Sequence[str]) -> list[Any]:
        return self.lib.chunks(ids)


def _rows(size: int, quick: bool, embedder: Any, raw_model: Any) -> list[dict[str, Any]]:
    import numpy as np

    from desktop.core.rag import retrieve
    from desktop.services.library import Library

    rng = random.Random(size)
    words, weights = _vocabulary(rng)
    n_queries = 30 if quick else 60
    # Questions mix frequent and rare words, like real ones.
    questions = [
        " ".join(rng.choices(words[:200], k=3) + rng.choices(words[200:], k=3)) + "?"
        for _ in range(n_queries)
    ]
    nprng = np.random.default_rng(size)
    qv = nprng.standard_normal((n_queries, 384)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    given = {q: [float(x) for x in v] for q, v in zip(questions, qv, strict=True)}
    root = Path(tempfile.mkdtemp(prefix=f"hearth-bench-query-{size}-"))
    try:
        with Library(root, embedder, check_index=False) as lib:
            fill_s = _fill(lib, size, rng, words, weights)
            col = lib.vectors.collection("bench")
            retriever = _GivenVector(lib, given)

            def raw(i: int) -> object:
                return col.query(
                    query_embeddings=[qv[i % n_queries].tolist()], n_results=K, include=["distances"]
                )

            def hybrid(i: int) -> object:
                return retrieve(retriever, questions[i % n_queries], ["bench"], k=K)

            def raw_embed(i: int) -> object:
                v = raw_model.encode(
                    [questions[i % n_queries]], normalize_embeddings=True, convert_to_numpy=True
                )
                return col.query(query_embeddings=[v[0].tolist()], n_results=K, include=["distances"])

            def hybrid_embed(i: int) -> object:
                return retrieve(lib, questions[i % n_queries], ["bench"], k=K)

            # Interleave the pairs so machine noise hits both sides alike.
            pairs: list[tuple[str, Callable[[int], object]]] = [
                ("raw", raw), ("hybrid", hybrid), ("raw_embed", raw_embed), ("hybrid_embed", hybrid_embed)
            ]  # fmt: skip
            t: dict[str, list[float]] = {name: [] for name, _ in pairs}
            for _, fn in pairs:
                fn(0)  # warm-up
            for i in range(n_queries):
                for name, fn in pairs:
                    t0 = time.perf_counter()
                    fn(i)
                    t[name].append(time.perf_counter() - t0)
            fts_ms = _percentiles(
                _timed(lambda i: lib.keyword_search(questions[i % n_queries], ["bench"], 30), n_queries)
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    label = f"{size // 1000}k"
    r50, r95 = _percentiles(t["raw"])
    h50, h95 = _percentiles(t["hybrid"])
    re50, re95 = _percentiles(t["raw_embed"])
    he50, he95 = _percentiles(t["hybrid_embed"])
    common = f"{size} passages (random unit vectors), {n_queries} queries, k={K}; built in {fill_s:.0f}s"
    return [
        {
            "name": f"query {label}: hybrid retrieve ÷ raw chroma query (p50)",
            "ratio": h50 / r50,
            "goal": "report",
            "ok": True,
            "detail": f"hybrid p50 {h50:.1f} ms p95 {h95:.1f} ms; raw p50 {r50:.1f} ms p95 {r95:.1f} ms; "
            f"FTS5 alone p50 {fts_ms[0]:.1f} ms; {common}",
        },
        {
            "name": f"query {label}: hybrid retrieve ÷ raw chroma query (p95)",
            "ratio": h95 / r95,
            "goal": "report",
            "ok": True,
            "detail": f"hybrid p95 {h95:.1f} ms vs raw {r95:.1f} ms",
        },
        {
            "name": f"query {label}: embed + hybrid ÷ raw encode + chroma query (p50)",
            "ratio": he50 / re50,
            "goal": "<= 1.5",
            "ok": he50 / re50 <= 1.5,
            "detail": f"Hearth p50 {he50:.1f} ms p95 {he95:.1f} ms; raw p50 {re50:.1f} ms "
            f"p95 {re95:.1f} ms; {common}",
        },
        {
            "name": f"query {label}: embed + hybrid ÷ raw encode + chroma query (p95)",
            "ratio": he95 / re95,
            "goal": "report",
            "ok": True,
            "detail": f"Hearth p95 {he95:.1f} ms vs raw {re95:.1f} ms",
        },
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    privacy.install()
    import torch
    from sentence_transformers import SentenceTransformer

    from desktop.services.embeddings import Embedder
    from desktop.services.paths import embedder_path

    threads = os.cpu_count() or 1
    embedder = Embedder(threads=threads)
    embedder.load()
    raw_model = SentenceTransformer(str(embedder_path()), device="cpu", local_files_only=True)
    torch.set_num_threads(threads)
    rows: list[dict[str, Any]] = []
    for size in (10_000,) if quick else (10_000, 100_000):
        rows.extend(_rows(size, quick, embedder, raw_model))
    return rows

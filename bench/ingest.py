"""Indexing speed: pages/s of `library add` ÷ pages/s of the raw stages run alone, same files, same run.

Raw stages, each timed alone in this process with the same torch threads as Hearth's embedder:
pypdf extraction (PdfReader, empty-password decrypt, extract_text page by page), one plain fp32
`SentenceTransformer.encode` of the very passages Hearth made (batches of EMBED_BATCH = 32,
normalised), and one `collection.add` of those vectors into a fresh Chroma PersistentClient.
Hearth's Embedder gives the same vectors but runs them through the model MICRO_BATCH (4) at a
time, which is faster here (docs/retrieval.md, "Embedding speed"): the ratio includes that gain,
and the detail line reports the Embedder's own passages/s on the same texts beside the raw ones. Their sum is
what the work costs with nothing around it; Hearth adds hashing, the parse in a worker process
(with a page-count inspection first), cleaning, chunking, SQLite + FTS5 writes and progress,
and overlaps extraction of the next file with embedding of the current one.

ratio = Hearth pages/s ÷ raw pages/s = (sum of raw stage seconds) ÷ (Hearth seconds). Goal >= 0.9.
Model loading is excluded from both (the app loads the embedder once per session).
Files: docugami 10-Qs from ../shared/eval (quick: two Apple filings, 57 pages; full: four
filings of three companies, 180 pages); generated PDFs when the eval folder is absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from desktop.core.jobs import run_job
from desktop.services import privacy

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docugami_sec10q" / "pdfs"
QUICK_FILES = ("2022 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf")
FULL_FILES = ("2023 Q1 AAPL.pdf", "2023 Q2 AMZN.pdf", "2023 Q3 NVDA.pdf", "2023 Q3 AAPL.pdf")


def _generated(folder: Path, n_files: int, n_pages: int) -> list[Path]:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    words = "revenue margin quarter inventory supply cash flow segment growth customers product services"
    words += " operating expenses research development tax rate share repurchase liquidity"
    vocab = words.split()
    out = []
    for f in range(n_files):
        path = folder / f"generated-{f}.pdf"
        c = canvas.Canvas(str(path), pagesize=A4)
        for p in range(n_pages):
            c.setFont("Helvetica", 10)
            for line in range(60):
                text = " ".join(vocab[(f * 7 + p * 3 + line + i) % len(vocab)] for i in range(14))
                c.drawString(36, 800 - line * 12.5, f"{text} {f}.{p}.{line}.")
            c.showPage()
        c.save()
        out.append(path)
    return out


def _raw_extract(paths: list[Path]) -> tuple[float, int]:
    from pypdf import PdfReader

    t0 = time.perf_counter()
    pages = 0
    for path in paths:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            reader.decrypt("")
        for page in reader.pages:
            page.extract_text()
            pages += 1
    return time.perf_counter() - t0, pages


def run(quick: bool = False) -> list[dict[str, Any]]:
    privacy.install()
    # Throwaway libraries: a machine without a keyring must not stop the run for a passphrase.
    os.environ.setdefault("HEARTH_PASSPHRASE", "bench: a throwaway data folder")
    import chromadb
    import torch
    from chromadb.config import Settings
    from sentence_transformers import SentenceTransformer

    from desktop.services.embeddings import Embedder
    from desktop.services.library import EMBED_BATCH, Library
    from desktop.services.paths import embedder_path
    from desktop.services.pdf import close_workers

    threads = os.cpu_count() or 1  # what `hearth library add` uses (nothing else runs)
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-ingest-"))
    try:
        names = QUICK_FILES if quick else FULL_FILES
        files = [EVAL / n for n in names if (EVAL / n).is_file()]
        source = "docugami 10-Q: " + ", ".join(names)
        if len(files) != len(names):
            files = _generated(work, 2 if quick else 4, 20 if quick else 40)
            source = f"{len(files)} generated PDFs"
        for f in files:  # same page-cache state for both paths
            f.read_bytes()

        embedder = Embedder(threads=threads)
        embedder.load()
        # --- Hearth
        with Library(work / "hearth", embedder) as lib:
            t0 = time.perf_counter()
            result = run_job(lib.add_job(files, "bench"))
            hearth_s = time.perf_counter() - t0
            texts = [c.text for row in lib.files("bench") for c in lib.store.chunks_of(row.sha256)]
        close_workers()
        if result.failed:
            raise RuntimeError(f"Hearth could not index: {result.failed}")
        pages = result.pages

        # --- raw stages, each alone
        extract_s, raw_pages = _raw_extract(files)
        model = SentenceTransformer(str(embedder_path()), device="cpu", local_files_only=True)
        torch.set_num_threads(threads)
        model.encode(texts[:4], batch_size=EMBED_BATCH)  # warm-up, like the loaded app embedder
        t0 = time.perf_counter()
        with torch.inference_mode():
            vectors = model.encode(
                texts, batch_size=EMBED_BATCH, normalize_embeddings=True, convert_to_numpy=True
            )
        encode_s = time.perf_counter() - t0
        client = chromadb.PersistentClient(
            path=str(work / "raw-chroma"), settings=Settings(anonymized_telemetry=False)
        )
        col = client.get_or_create_collection(
            "raw", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        t0 = time.perf_counter()
        col.add(ids=[str(i) for i in range(len(texts))], embeddings=vectors)
        add_s = time.perf_counter() - t0
        raw_s = extract_s + encode_s + add_s
        sample = texts[:192]
        t0 = time.perf_counter()
        for at in range(0, len(sample), EMBED_BATCH):  # Hearth's encode alone, called as Library calls it
            embedder.encode(sample[at : at + EMBED_BATCH], batch_size=EMBED_BATCH)
        hearth_encode_rate = len(sample) / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = raw_s / hearth_s
    detail = (
        f"{source}; {pages} pages, {len(texts)} passages, {threads} threads. Hearth {hearth_s:.1f}s "
        f"({pages / hearth_s:.2f} pages/s) vs raw {raw_s:.1f}s ({raw_pages / raw_s:.2f} pages/s) = "
        f"pypdf {extract_s:.1f}s + encode {encode_s:.1f}s ({len(texts) / encode_s:.0f} passages/s) + "
        f"chroma add {add_s:.1f}s; Hearth's Embedder alone {hearth_encode_rate:.0f} passages/s "
        f"({embedder.precision}, micro-batches). "
        f"Bound by embedding ({100 * encode_s / raw_s:.0f}% of raw time); "
        f"Hearth overhead beyond raw: {hearth_s - raw_s:+.1f}s"
    )
    return [
        {
            "name": "ingest pages/s: library add ÷ raw pypdf + encode + chroma add",
            "ratio": ratio,
            "goal": ">= 0.9",
            "ok": ratio >= 0.9,
            "detail": detail,
        }
    ]

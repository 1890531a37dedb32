"""Summarizing a ~190-page PDF on the default model: is any time wasted beyond the model's own work?

Document: the docugami 10-Q filings in ../shared/eval (real, long, tables and prose), their pages
concatenated in a fixed order until 190 pages (quick: 16 pages), extracted by desktop.services.pdf.

- ratio: wall time of the summarize job ÷ (tokens the model had to prefill ÷ raw prefill tok/s +
  tokens it generated ÷ raw decode tok/s). Raw speeds are measured in the same run with
  llama-cpp-python directly (same model, threads, context), prefill on a prompt as long as the job's
  average call. Tokens found in the KV cache (cached_tokens) are not counted as work to do.
  Goal <= 1.2: selection, embedding, cleaning and bookkeeping add at most 20%.
- tokens fed per page (the model reads about half of each section: centrality selection).
- wall seconds per page, with PDF extraction reported apart.
The ratio is measured on the abstractive mode (the model writes every point: the model-bound path);
the grounded mode (the default for the bundled model: quoted points, one model call for the overview)
is timed on the same pages for its wall seconds per page.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from desktop.core.jobs import run_job
from desktop.core.summarize import SummaryRequest, summarize_job
from desktop.core.types import Page, RuntimePlan
from desktop.services import privacy

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "docugami_sec10q" / "pdfs"
N_CTX, THREADS = 8192, 1  # the default plan on a 2-core machine (hardware.py / planning.py)


def _pages(n: int) -> tuple[list[Page], float, list[str]]:
    from desktop.services.pdf import extract_pages

    pages: list[Page] = []
    used: list[str] = []
    t0 = time.perf_counter()
    for pdf in sorted(EVAL.glob("*.pdf")):
        for page in extract_pages(pdf):
            pages.append(Page(len(pages) + 1, page.text))
            if len(pages) >= n:
                break
        used.append(pdf.name)
        if len(pages) >= n:
            break
    return pages, time.perf_counter() - t0, used


def _raw_speeds(model: str, text: str, prompt_tokens: int) -> tuple[float, float]:
    """Prefill and decode tokens/s of llama-cpp-python itself, on this machine, now."""
    from desktop.services.engine import load_cpu_backends

    load_cpu_backends()  # the portable engine loads its CPU kernels at run time (the app does too)
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=model,
        n_ctx=N_CTX,
        n_threads=THREADS,
        n_threads_batch=THREADS,
        n_gpu_layers=0,
        verbose=False,
    )
    tokens = llm.tokenize(text.encode(), add_bos=True)[: max(64, prompt_tokens)]
    prefill = []
    for _ in range(2):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        prefill.append(len(tokens) / (time.perf_counter() - t0))
    llm.reset()
    n, first, last = 0, 0.0, 0.0
    for _tok in llm.generate(tokens[:200], temp=0.2, top_k=40, repeat_penalty=1.15):
        now = time.perf_counter()
        first = first or now
        last = now
        n += 1
        if n >= 129:
            break
    decode = (n - 1) / (last - first)
    del llm
    return max(prefill), decode


def run(quick: bool = False) -> list[dict[str, Any]]:
    privacy.install()
    from desktop.services.llm import LlamaRuntime
    from desktop.services.paths import default_model_path
    from desktop.services.sentences import EmbeddingRanker, split_sentences

    if not EVAL.is_dir():
        return [{"name": "summarize", "ratio": 0.0, "goal": "<= 1.2", "ok": False, "detail": "no eval data"}]
    n_pages = 16 if quick else 190
    pages, extract_s, used = _pages(n_pages)
    model = str(default_model_path())
    plan = RuntimePlan("cpu", 0, THREADS, THREADS, N_CTX, 512, "fits", "bench: default plan")
    ranker = EmbeddingRanker()
    ranker.embedder.load()  # loaded once per app session, not per summary
    with LlamaRuntime(model, plan) as rt:
        rt.start()
        request = SummaryRequest(
            tuple(pages), title="Quarterly reports", style="key_points", mode="abstractive"
        )
        t0 = time.perf_counter()
        summary = run_job(summarize_job(rt, request, ranker, split_sentences))
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        grounded = run_job(summarize_job(rt, replace(request, mode="grounded"), ranker, split_sentences))
        wall_grounded = time.perf_counter() - t0
    st = summary.stats
    work_in = st["tokens_fed"] - st["tokens_cached"]
    avg_prompt = max(64, st["tokens_fed"] // max(1, st["model_calls"]))
    prefill, decode = _raw_speeds(model, " ".join(p.text for p in pages[:20]), avg_prompt)
    ideal = work_in / prefill + st["tokens_generated"] / decode
    ratio = wall / ideal
    n = len(pages)
    detail = (
        f"{n} pages ({', '.join(used)}), {st['sections']} sections, {summary.levels} levels, "
        f"{st['model_calls']} calls; fed {st['tokens_fed']} tokens ({st['tokens_cached']} cached) of "
        f"{st['tokens_in_document']} in the document, generated {st['tokens_generated']}; raw prefill "
        f"{prefill:.0f} tok/s at {avg_prompt} tokens, raw decode {decode:.0f} tok/s; job {wall:.1f} s "
        f"(model {st['model_s']:.1f} s), extraction {extract_s:.1f} s; inside the job the model prefilled at "
        f"{work_in / max(1e-9, st['prefill_s']):.0f} tok/s and decoded at "
        f"{st['tokens_generated'] / max(1e-9, st['decode_s']):.0f} tok/s"
    )
    return [
        {
            "name": f"summarize {n} pages: wall ÷ raw model time for the same tokens",
            "ratio": ratio,
            "goal": "<= 1.2",
            "ok": ratio <= 1.2,
            "detail": detail,
        },
        {
            "name": "summarize: tokens fed to the model per page",
            "ratio": st["tokens_fed"] / n,
            "goal": "report",
            "ok": True,
            "detail": f"document has {st['tokens_in_document'] / n:.0f} tokens per page",
        },
        {
            "name": "summarize: wall seconds per page (job; with extraction)",
            "ratio": wall / n,
            "goal": "report",
            "ok": True,
            "detail": f"{(wall + extract_s) / n:.2f} s per page including PDF extraction",
        },
        {
            "name": "summarize grounded (default for the bundled model): wall seconds per page",
            "ratio": wall_grounded / n,
            "goal": "report",
            "ok": True,
            "detail": f"{wall_grounded:.1f} s, {grounded.stats['model_calls']} model call(s), "
            f"{grounded.stats['sections']} sections ranked, {grounded.stats['tokens_fed']} tokens fed",
        },
    ]

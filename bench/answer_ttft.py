"""A cited answer's first model token against raw llama-cpp-python reading the same prompt.

For docugami questions about two real 10-Q filings (indexed here, in a temporary data dir), the
real answer path (`rag.ask_job`, grounded mode, the bundled model) runs; every prompt it sends
the model is recorded with the time from the call to its first token, seen where the tokens
arrive (the parent process). Then raw `Llama.generate` reads the same prompt tokens (the model's
own chat template), in this process, with the same threads and the same kernels (the rung the
runtime runs on), until its first token. Ratio: Hearth TTFT ÷ raw TTFT, median over prompts.
Also reported: question → evidence and question → first model token, medians.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from desktop.core.events import Event, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.types import ChatMessage, RuntimePlan
from desktop.services import privacy

REPO = Path(__file__).resolve().parents[1]
SET = REPO.parent / "shared" / "eval" / "docugami_sec10q"
FILINGS = ("2023 Q3 AAPL.pdf", "2023 Q3 AMZN.pdf")


class Timed:
    """The runtime, with each prompt it is sent and the seconds to its first token."""

    def __init__(self, runtime: Any) -> None:
        self._rt = runtime
        self.prompts: list[tuple[list[ChatMessage], float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rt, name)

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: Any, cancel: CancelToken
    ) -> Generator[Event, None, Any]:
        t0 = time.perf_counter()
        first = None
        gen = self._rt.stream_chat(messages, params, cancel)
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                if first is not None:
                    self.prompts.append((list(messages), first))
                return stop.value
            if first is None and isinstance(event, Token):
                first = time.perf_counter() - t0
            yield event


def run(quick: bool = False) -> list[dict[str, Any]]:
    if not all((SET / "pdfs" / f).is_file() for f in FILINGS):
        return [{"name": "answer TTFT ÷ raw prefill", "skipped": "the docugami filings are not here"}]
    data = Path(tempfile.mkdtemp(prefix="hearth-bench-ttft-"))
    os.environ["HEARTH_DATA_DIR"] = str(data)
    os.environ.setdefault("HEARTH_PASSPHRASE", "bench: a throwaway data folder")
    privacy.install()
    from desktop.core.chat import GenerationParams
    from desktop.core.rag import AskRequest, ask_job
    from desktop.services.engine import load_cpu_backends
    from desktop.services.library import Library
    from desktop.services.llm import LlamaRuntime, _build_llama
    from desktop.services.paths import default_model_path

    qa = [json.loads(x) for x in (SET / "qa.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    questions = [
        str(r["question"]) for r in qa if len(r.get("docs") or []) == 1 and Path(r["docs"][0]).name in FILINGS
    ]
    questions = questions[: 4 if quick else 10]
    model = str(default_model_path())
    threads = 1
    plan = RuntimePlan("cpu", 0, threads, threads, 8192, 512, "fits", "bench")
    rows: list[dict[str, Any]] = []
    with Library() as lib:
        run_job(lib.add_job([SET / "pdfs" / f for f in FILINGS]))
        collections = tuple(lib.collections())
        with LlamaRuntime(model, plan) as rt:
            info = rt.start()
            timed = Timed(rt)
            evidence_s, first_s = [], []
            for q in questions:
                request = AskRequest(
                    q,
                    collections,
                    n_ctx=rt.n_ctx,
                    params=GenerationParams(max_tokens=72, temperature=0.0, seed=1),
                    mode="grounded",
                )
                answer = run_job(ask_job(timed, lib, request, rt.count_tokens, embed=lib.embed_texts))
                t = answer.timings or {}
                if os.environ.get("HEARTH_BENCH_VERBOSE"):
                    print(q, "|", answer.abstained, answer.mode, t, answer.text[:120].replace("\n", " "))
                if "evidence_s" in t:
                    evidence_s.append(float(t["evidence_s"]))
                if "first_token_s" in t:
                    first_s.append(float(t["first_token_s"]))
    load_cpu_backends()
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    kwargs = dict(
        model_path=model,
        n_ctx=8192,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=0,
        verbose=False,
    )
    raw = _build_llama(llama_cpp, kwargs, extra_bufts=info.kernels == "default")
    fmt = Jinja2ChatFormatter(
        raw.metadata["tokenizer.chat_template"],
        raw._model.token_get_text(raw.token_eos()),
        raw._model.token_get_text(raw.token_bos()),
    )
    ratios, ours, theirs, lengths = [], [], [], []
    for messages, hearth_s in timed.prompts:
        prompt = fmt(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
        tokens = raw.tokenize(prompt.encode(), add_bos=False, special=True)
        raw.reset()
        t0 = time.perf_counter()
        for _tok in raw.generate(tokens, temp=0.0):
            break
        raw_s = time.perf_counter() - t0
        ratios.append(hearth_s / raw_s)
        ours.append(hearth_s)
        theirs.append(raw_s)
        lengths.append(len(tokens))
    if ratios:
        rows.append(
            {
                "name": "answer TTFT: Hearth first model token ÷ raw prefill of the same prompt",
                "ratio": statistics.median(ratios),
                "goal": "<= 1.2",
                "ok": statistics.median(ratios) <= 1.2,
                "detail": (
                    f"{len(ratios)} prompts of {min(lengths)}–{max(lengths)} tokens; hearth median "
                    f"{statistics.median(ours):.2f} s, raw {statistics.median(theirs):.2f} s; kernels "
                    f"{info.kernels}, {threads} thread (Hearth's prompt threads may add idle cores)"
                ),
            }
        )
    if evidence_s and first_s:
        rows.append(
            {
                "name": "question → evidence, question → first model token (medians, s)",
                "ratio": statistics.median(first_s),
                "goal": "evidence <= 1 s, first token <= 3 s",
                "ok": statistics.median(evidence_s) <= 1.0 and statistics.median(first_s) <= 3.0,
                "detail": f"evidence {statistics.median(evidence_s):.2f} s, first model token "
                f"{statistics.median(first_s):.2f} s over {len(first_s)} answers",
            }
        )
    return rows

"""Chat engine speed against raw llama-cpp-python, in one run, as ratios.

- decode: Hearth's streamed tokens/s (measured where the tokens arrive, in the parent process)
  ÷ raw `Llama.generate` tokens/s in this process; same model, threads, context and prompt.
- second-turn time to first token ÷ first turn, with a long shared prefix (KV prefix reuse).
- decode tokens/s with one core kept busy by another process ÷ idle (the thread trap).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from desktop.core.chat import GenerationParams
from desktop.core.events import Token
from desktop.core.jobs import CancelToken
from desktop.core.types import ChatMessage, RuntimePlan
from desktop.services import privacy
from desktop.services.llm import LlamaRuntime
from desktop.services.paths import default_model_path

PROMPT = [
    ChatMessage("system", "You are a storyteller."),
    ChatMessage("user", "Tell a long, detailed story about a lighthouse keeper and a storm."),
]


def _hearth_rate(rt: LlamaRuntime, n_tokens: int) -> tuple[float, int]:
    params = GenerationParams(max_tokens=n_tokens, temperature=0.0, seed=1)
    first = last = 0.0
    count = 0
    gen = rt.stream_chat(PROMPT, params, CancelToken())
    for event in gen:
        if isinstance(event, Token):
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
    return ((count - 1) / (last - first) if count > 1 else 0.0), count


def _raw_rate(llm: Any, tokens: list[int], n_tokens: int) -> tuple[float, int]:
    llm.reset()
    first = last = 0.0
    count = 0
    eos = llm.token_eos()
    for tok in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.95, repeat_penalty=1.1):
        now = time.perf_counter()
        first = first or now
        last = now
        count += 1
        if tok == eos or count >= n_tokens:
            break
    return ((count - 1) / (last - first) if count > 1 else 0.0), count


def _busy_core() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run(quick: bool = False) -> list[dict[str, Any]]:
    privacy.install()
    from desktop.services.engine import load_cpu_backends

    load_cpu_backends()  # the portable engine loads its CPU kernels at run time (the app does too)
    import llama_cpp

    model = str(default_model_path())
    n_ctx, threads = 4096, 1
    plan = RuntimePlan("cpu", 0, threads, threads, n_ctx, 512, "fits", "bench")
    n_tok = 96 if quick else 200
    reps = 2 if quick else 4
    rows: list[dict[str, Any]] = []

    raw = llama_cpp.Llama(
        model_path=model,
        n_ctx=n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        n_gpu_layers=0,
        verbose=False,
    )
    with LlamaRuntime(model, plan) as rt:
        rt.start()
        # The exact same prompt tokens for the raw baseline: the runtime's own template.
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        fmt = Jinja2ChatFormatter(
            raw.metadata["tokenizer.chat_template"],
            raw._model.token_get_text(raw.token_eos()),
            raw._model.token_get_text(raw.token_bos()),
        )
        prompt = fmt(messages=[{"role": m.role, "content": m.content} for m in PROMPT]).prompt
        tokens = raw.tokenize(prompt.encode(), add_bos=False, special=True)

        ours, theirs = [], []
        for _ in range(reps):  # alternate, so machine noise hits both alike
            ours.append(_hearth_rate(rt, n_tok)[0])
            theirs.append(_raw_rate(raw, tokens, n_tok)[0])
        o, t = statistics.median(ours), statistics.median(theirs)
        rows.append(
            {
                "name": "decode tok/s: Hearth streamed ÷ raw generate",
                "ratio": o / t,
                "goal": ">= 0.95",
                "ok": o / t >= 0.95,
                "detail": f"hearth {o:.1f} tok/s, raw {t:.1f} tok/s, {threads} thread, median of {reps}",
            }
        )

        # Second turn TTFT with a long shared prefix.
        notes = "My notes: " + " ".join(
            f"Entry {i}: the box number {i} holds {i * 3} red marbles." for i in range(90 if quick else 150)
        )
        params = GenerationParams(max_tokens=16, temperature=0.0, seed=1)
        ratios = []
        for r in range(2 if quick else 3):
            # A different first line each run, so turn 1 never reuses the previous run's cache.
            turn1 = [
                ChatMessage("system", f"Session {r}. Answer briefly."),
                ChatMessage("user", f"{notes}\nWhat does box 3 hold?"),
            ]
            c1 = _complete(rt, turn1, params)
            turn2 = [*turn1, ChatMessage("assistant", c1.text), ChatMessage("user", "And box 4?")]
            c2 = _complete(rt, turn2, params)
            ratios.append(c2.stats.ttft_s / c1.stats.ttft_s)
        ttft = statistics.median(ratios)
        rows.append(
            {
                "name": "2nd-turn TTFT ÷ 1st-turn (long shared prefix)",
                "ratio": ttft,
                "goal": "<= 0.3",
                "ok": ttft <= 0.3,
                "detail": f"first prompt {c1.stats.prompt_tokens} tokens; second reused "
                f"{c2.stats.cached_tokens} of {c2.stats.prompt_tokens}",
            }
        )

        # Contention: one core busy with another process.
        idle = statistics.median(_hearth_rate(rt, n_tok)[0] for _ in range(reps))
        hog = _busy_core()
        try:
            time.sleep(0.5)
            busy = statistics.median(_hearth_rate(rt, n_tok)[0] for _ in range(reps))
        finally:
            hog.kill()
            hog.wait()
        rows.append(
            {
                "name": "decode tok/s with one core busy ÷ idle",
                "ratio": busy / idle,
                "goal": ">= 0.5",
                "ok": busy / idle >= 0.5,
                "detail": f"busy {busy:.1f} tok/s, idle {idle:.1f} tok/s (plan: {threads} decode thread,"
                " OMP_WAIT_POLICY=PASSIVE)",
            }
        )
    return rows


def _complete(rt: LlamaRuntime, messages: list[ChatMessage], params: GenerationParams) -> Any:
    gen = rt.stream_chat(messages, params, CancelToken())
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value

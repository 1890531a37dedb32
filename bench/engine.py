"""Engine builds compared in one run: the portable engine ÷ a native one, and its kernel rungs.

Hearth installs a portable llama-cpp-python (packaging/build_engine.sh: GGML_BACKEND_DL +
GGML_CPU_ALL_VARIANTS, the CPU kernels picked at run time by desktop/services/engine.py). A
default pip build compiles with -march=native instead. This measures, on the bundled model with
1 thread, prefill tokens/s (a 200-token prompt, one batch) and decode tokens/s (64 single-token
evaluations after it, no sampling) for three configurations, each in its own process:

    native     a default (-march=native) build                 (HEARTH_BENCH_NATIVE_PYTHON)
    portable   the portable build, as the app runs it           (HEARTH_BENCH_PORTABLE_PYTHON)
    no-bufts   the portable build with use_extra_bufts=False    (the same python)
               (no AMX, no repacked weights: the kernel ladder's "portable" rung)

All three processes load the model first; then one repetition of each runs in turn (the order
rotates), so machine noise hits them alike. A ratio is the median of the per-repetition ratios;
the tok/s shown are medians (one warm-up repetition is dropped). Each row also gives the ratio
of tokens per CPU-second of the worker (1 thread): on a busy machine wall time also counts the
time other processes held the core, CPU time mostly does not.
Rows: portable ÷ native for decode and prefill (goal >= 0.9) and no-bufts ÷ portable.

Run it with two venvs, one per build (the repo is put on each worker's PYTHONPATH, so a venv
only needs llama-cpp-python and numpy):

    HEARTH_BENCH_NATIVE_PYTHON=/path/native-venv/bin/python \\
    HEARTH_BENCH_PORTABLE_PYTHON=.venv/bin/python .venv/bin/python -m bench engine
    # or: python -m bench.engine --native PY --portable PY [--reps 9] [--model GGUF]

Without a native python the portable ÷ native rows say "not measured"; the portable python
defaults to the running interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROMPT_TOKENS = 200
DECODE_TOKENS = 64

# One configuration: loads the model, then on each "run" line prefills and decodes once.
WORKER = r"""
import json, os, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's model child
model, extra, n_prompt, n_decode = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
from desktop.services.engine import load_cpu_backends
loaded = load_cpu_backends()
import llama_cpp
from llama_cpp import llama_cpp as low
original = low.llama_model_default_params
def params():
    p = original()
    p.use_extra_bufts = extra
    return p
low.llama_model_default_params = params
llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=1, n_threads_batch=1,
                      verbose=False)
low.llama_model_default_params = original
text = " ".join(
    f"Chapter {i}: the keeper of lighthouse number {i} wrote down the storms, the ships that"
    " passed, the colour of the sea at dawn and the price of lamp oil in the harbour town."
    for i in range(40)
)
tokens = llm.tokenize(text.encode(), add_bos=True)[:n_prompt]
follow = llm.tokenize(text.encode(), add_bos=False)[n_prompt : n_prompt + n_decode]
assert len(tokens) == n_prompt and len(follow) == n_decode
info = {"loaded": loaded, "system_info": llama_cpp.llama_print_system_info().decode(),
        "extra_bufts": extra, "llama_cpp": os.path.dirname(llama_cpp.__file__)}
print("ready " + json.dumps(info), flush=True)
for line in sys.stdin:
    if line.strip() != "run":
        break
    llm.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    llm.eval(tokens)
    t1, c1 = time.perf_counter(), time.process_time()
    for tok in follow:
        llm.eval([tok])
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"prefill": n_prompt / (t1 - t0), "decode": n_decode / (t2 - t1),
                      "prefill_cpu": n_prompt / (c1 - c0), "decode_cpu": n_decode / (c2 - c1)}), flush=True)
"""


class Worker:
    def __init__(self, name: str, python: str, model: str, extra_bufts: bool) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        args = [model, "1" if extra_bufts else "0", str(PROMPT_TOKENS), str(DECODE_TOKENS)]
        self.proc = subprocess.Popen(
            [python, "-c", WORKER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        line = self._line()
        if not line.startswith("ready "):
            raise RuntimeError(f"{name} worker ({python}) did not start: {line!r}")
        self.info: dict[str, Any] = json.loads(line[len("ready ") :])
        self.prefill: list[float] = []
        self.decode: list[float] = []
        self.prefill_cpu: list[float] = []  # tokens per CPU-second of this (1-thread) process:
        self.decode_cpu: list[float] = []  # steadier than wall time on a busy machine

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker exited ({self.proc.wait()})")
        return line.strip()

    def once(self, keep: bool = True) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        r = json.loads(self._line())
        if keep:
            for what in ("prefill", "decode", "prefill_cpu", "decode_cpu"):
                getattr(self, what).append(r[what])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def med(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def ratios(self, what: str, other: Worker) -> list[float]:
        """Per-repetition ratios: each pair ran back to back, so slow drift cancels."""
        return [a / b for a, b in zip(getattr(self, what), getattr(other, what), strict=True)]

    def kernels(self) -> str:
        flags = [f for f in self.info["system_info"].split("|") if f.strip().endswith("= 1")]
        simd = [f.split("=")[0].strip().removeprefix("CPU : ") for f in flags]
        return f"{self.info['loaded']}; " + " ".join(s for s in simd if s.startswith(("AVX", "AMX")))


def _spread(ratios: list[float]) -> str:
    """The middle half of the per-repetition ratios: how much to trust the median."""
    if len(ratios) < 4:
        return ""
    q = statistics.quantiles(ratios, n=4)
    return f"; per-rep ratios {q[0]:.2f}–{q[2]:.2f} (middle half)"


def measure(native_py: str | None, portable_py: str, model: str, reps: int) -> list[dict[str, Any]]:
    workers: list[Worker] = []
    try:
        if native_py:
            workers.append(Worker("native", native_py, model, True))
        workers.append(Worker("portable", portable_py, model, True))
        workers.append(Worker("no-bufts", portable_py, model, False))
        for w in workers:
            w.once(keep=False)  # warm-up
        for r in range(reps):
            k = r % len(workers)  # rotate the order, so none always runs first
            for w in workers[k:] + workers[:k]:
                w.once()
    finally:
        for w in workers:
            w.close()
    by = {w.name: w for w in workers}
    port, nob = by["portable"], by["no-bufts"]
    rows: list[dict[str, Any]] = []
    for what in ("decode", "prefill"):
        if "native" in by:
            nat = by["native"]
            each = port.ratios(what, nat)
            ratio = statistics.median(each)
            rows.append(
                {
                    "name": f"{what} tok/s: portable build ÷ native build",
                    "ratio": ratio,
                    "goal": ">= 0.9",
                    "ok": ratio >= 0.9,
                    "detail": f"portable {port.med(what):.1f}, native {nat.med(what):.1f} tok/s, 1 thread, "
                    f"medians of {reps}{_spread(each)}; per CPU-second "
                    f"{statistics.median(port.ratios(what + '_cpu', nat)):.3f}; "
                    f"portable [{port.kernels()}] native [{nat.kernels()}]",
                }
            )
        else:
            rows.append(
                {
                    "name": f"{what} tok/s: portable build ÷ native build",
                    "ratio": None,
                    "goal": ">= 0.9",
                    "ok": False,
                    "detail": "not measured: set HEARTH_BENCH_NATIVE_PYTHON to a venv with a native build",
                }
            )
    for what in ("decode", "prefill"):
        each = nob.ratios(what, port)
        ratio = statistics.median(each)
        rows.append(
            {
                "name": f"{what} tok/s: portable without extra bufts ÷ portable default",
                "ratio": ratio,
                "goal": "(report)",
                "ok": True,
                "detail": f"no extra bufts {nob.med(what):.1f}, default {port.med(what):.1f} tok/s"
                f"{_spread(each)}; per CPU-second {statistics.median(nob.ratios(what + '_cpu', port)):.3f}; "
                "the app runs the default and drops extra bufts only after a kernel crash",
            }
        )
    return rows


def _model() -> str:
    from desktop.services.paths import default_model_path

    return str(default_model_path())


def run(quick: bool = False) -> list[dict[str, Any]]:
    return measure(
        os.environ.get("HEARTH_BENCH_NATIVE_PYTHON") or None,
        os.environ.get("HEARTH_BENCH_PORTABLE_PYTHON") or sys.executable,
        _model(),
        3 if quick else 7,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--native", help="python of a venv with a native llama-cpp-python build")
    parser.add_argument("--portable", default=sys.executable, help="python of a venv with the portable build")
    parser.add_argument("--model", help="GGUF (default: the bundled model)")
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    rows = measure(args.native, args.portable, args.model or _model(), args.reps)
    for r in rows:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['name']}: {ratio} (goal {r['goal']}) {r['detail']}")
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

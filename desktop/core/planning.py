"""Decide how to run a model on a machine: backend, GPU layers, threads, context size, and why.

Pure functions over described hardware (`HardwareInfo`) and a model's metadata (`ModelInfo`), so
every machine a user might own can be unit-tested here without owning it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from desktop.core.types import Backend, Fit, GpuInfo, HardwareInfo, MemoryEstimate, ModelInfo, RuntimePlan

GiB = 1024**3
MiB = 1024**2

# Context caps when the user leaves the choice to us. The model may allow more (SmolLM2: 8192,
# many 7B models: 32768+), but prompt processing on a CPU is slow, and a chat rarely needs more.
DEFAULT_CTX_CAP_CPU = 8192
DEFAULT_CTX_CAP_GPU = 32768
MIN_CTX = 512
AUTO_CTX_FLOOR = 2048
# A model that declares no training context (old or hand-made files): assume a small one.
FALLBACK_TRAIN_CTX = 2048
# Threads: llama.cpp's OpenMP workers busy-wait; more than the idle cores collapses decode speed
# (measured on 2 cores: 2 threads with a busy neighbour → 1 tok/s, 1 thread → 130 tok/s).
MAX_DECODE_THREADS = 8  # decode is memory-bound: past ~8 threads it stops getting faster
MAX_PROMPT_THREADS = 16
# Share of memory we dare to plan for: the OS, the app and the user's other programs need the rest.
RAM_SHARE_OF_AVAILABLE = 0.85
RAM_SHARE_OF_TOTAL = 0.90
VRAM_RESERVE = 512 * MiB  # driver, display and the compute buffers llama.cpp allocates on the GPU
VRAM_SHARE = 0.95
# A rough CPU decode bandwidth per thread (bytes of weights read per second): decode reads every
# weight once per token. Only used to warn "this will be slow", never shown as a promise.
CPU_BYTES_PER_S_PER_THREAD = 8e9
CPU_BYTES_PER_S_MAX = 40e9
SLOW_TOKENS_PER_S = 4.0

_GPU_PREFERENCE: dict[str, int] = {"cuda": 0, "metal": 1, "rocm": 2, "vulkan": 3}
BACKEND_NAMES: dict[str, str] = {
    "cpu": "CPU",
    "cuda": "CUDA",
    "metal": "Metal",
    "rocm": "ROCm",
    "vulkan": "Vulkan",
}


def estimate_memory(model: ModelInfo, n_ctx: int) -> MemoryEstimate:
    """Bytes the model needs at this context: weights (≈ file size), f16 KV cache, and overhead."""
    n_ctx = max(0, int(n_ctx))
    weights = max(0, int(model.file_size))
    n_layers = max(0, model.n_layers)
    n_embd = max(0, model.n_embd)
    n_head = model.n_head if model.n_head > 0 else 1
    n_head_kv = model.n_head_kv if model.n_head_kv > 0 else n_head
    # Grouped-query attention stores only n_head_kv heads of size n_embd / n_head per layer.
    kv_dim = n_embd * n_head_kv // n_head
    kv_cache = 2 * n_layers * n_ctx * kv_dim * 2  # K and V, f16 = 2 bytes
    # Compute buffers (grow with context and embedding width), the tokenizer and the runtime process.
    overhead = 96 * MiB + weights // 50 + n_ctx * n_embd * 4 * 2
    return MemoryEstimate(weights=weights, kv_cache=kv_cache, overhead=overhead)


@dataclass(frozen=True, slots=True)
class _Threads:
    decode: int
    prompt: int
    note: str


def plan_threads(hw: HardwareInfo, threads: int = 0) -> _Threads:
    """Decode on the cores nobody else is using (physical minus one, min 1); prompt may use more."""
    physical = max(1, hw.physical_cores or 1)
    logical = max(physical, hw.logical_cores or physical)
    if threads > 0:
        note = f"{threads} CPU thread{'s' if threads != 1 else ''} as set"
        if threads > logical:
            note += f" (more than this machine's {logical} CPUs: expect it to be slow)"
        return _Threads(threads, threads, note)

    load = max(0.0, hw.load_average)
    decode = min(MAX_DECODE_THREADS, max(1, physical - 1))
    # Cores other programs are keeping busy right now cannot decode for us without spinning.
    idle = max(1, math.floor(physical - load + 0.25))
    busy = idle < decode
    decode = min(decode, idle)
    # No spare core on a 2-core machine: a second prompt thread collapses as soon as the app
    # embeds documents or the user compiles something.
    prompt = decode if physical <= 2 else max(decode, min(MAX_PROMPT_THREADS, idle))
    cores = f"{physical} core{'s' if physical != 1 else ''}"
    note = f"{decode} of {cores} for decoding"
    if busy:
        note += f" because other programs keep the CPU busy (load {load:.1f})"
    elif physical > 1:
        note += " so the rest of your work stays responsive"
    if prompt != decode:
        note += f", {prompt} for reading the prompt"
    return _Threads(decode, prompt, note)


def prompt_threads_now(planned: int, physical: int, load: float) -> int:
    """Threads for reading one prompt, decided just before it is read.

    The plan's prompt threads are chosen at load time for the worst case (a busy machine). Prompt
    reading is compute-bound and short, so when the machine is idle right now (1-minute load
    average) every free core may help: TTFT of a cited answer is mostly prompt reading. On a
    machine that is busy, the plan stands: extra threads that cannot run only spin.
    """
    if physical <= planned:
        return planned
    free = math.floor(physical - max(0.0, load) + 0.25)
    return max(planned, min(physical, MAX_PROMPT_THREADS, free))


def _train_ctx(model: ModelInfo) -> int:
    return model.context_length if model.context_length > 0 else FALLBACK_TRAIN_CTX


def _pick_gpu(hw: HardwareInfo) -> tuple[GpuInfo | None, str]:
    """The GPU this build can use (most free memory first), or None and why not."""
    usable = [g for g in hw.gpus if g.backend in hw.supported_backends and g.backend != "cpu"]
    if usable:
        usable.sort(key=lambda g: (_GPU_PREFERENCE.get(g.backend, 9), -g.vram_free))
        return usable[0], ""
    gpu_builds = [b for b in hw.supported_backends if b != "cpu"]
    if hw.gpus:
        names = ", ".join(f"{g.name} ({BACKEND_NAMES.get(g.backend, g.backend)})" for g in hw.gpus)
        return None, f"this llama.cpp build has no support for your GPU ({names})"
    if gpu_builds:
        built = "/".join(BACKEND_NAMES.get(b, b) for b in gpu_builds)
        return None, f"this llama.cpp build supports {built} but no such GPU was found"
    return None, "this llama.cpp build has no GPU support"


def _fmt_gb(n: int) -> str:
    return f"{n / GiB:.1f} GB"


def _ram_fit(needed: int, hw: HardwareInfo) -> Fit:
    if hw.ram_total and needed > hw.ram_total * RAM_SHARE_OF_TOTAL:
        return "wont_fit"
    if hw.ram_available and needed > hw.ram_available * RAM_SHARE_OF_AVAILABLE:
        return "may_be_slow"
    return "fits"


def plan_runtime(
    hw: HardwareInfo,
    model: ModelInfo,
    *,
    n_ctx: int = 0,
    gpu: str = "auto",
    threads: int = 0,
) -> RuntimePlan:
    """How to run `model` on `hw`. n_ctx=0 / threads=0 let the plan choose; gpu="off" forces CPU."""
    notes: list[str] = []
    train = _train_ctx(model)
    th = plan_threads(hw, threads)

    chosen, no_gpu_why = (None, "GPU turned off in settings") if gpu == "off" else _pick_gpu(hw)

    # --- context size
    if n_ctx > 0:
        ctx = max(MIN_CTX if train >= MIN_CTX else train, n_ctx)
        if n_ctx > train:
            ctx = train
            notes.append(
                f"context clamped from {n_ctx} to {train} tokens, the most this model was trained for"
            )
        auto_ctx = False
    else:
        cap = DEFAULT_CTX_CAP_GPU if chosen is not None else DEFAULT_CTX_CAP_CPU
        ctx = min(train, cap)
        auto_ctx = True

    n_layers_total = max(1, model.n_layers) + 1  # + the output layer: llama.cpp offloads it last

    # --- where the model goes
    backend: Backend = "cpu"
    n_gpu_layers = 0
    gpu_note = ""
    if chosen is not None:
        budget = int(chosen.vram_free * VRAM_SHARE) - (0 if chosen.unified_memory else VRAM_RESERVE)
        if chosen.unified_memory:
            # Apple silicon: the GPU may use about 2/3 of RAM (recommendedMaxWorkingSetSize);
            # the probe reports that as vram_total, and free RAM bounds it further.
            budget = min(budget, int(hw.ram_available * RAM_SHARE_OF_AVAILABLE) or budget)
        est = estimate_memory(model, ctx)
        while auto_ctx and est.total > budget and ctx > MIN_CTX and ctx > 4096:
            ctx = max(MIN_CTX, ctx // 2)  # a smaller window before giving up layers
            est = estimate_memory(model, ctx)
        if est.total <= budget:
            backend, n_gpu_layers = chosen.backend, n_layers_total
            where = "unified memory" if chosen.unified_memory else f"{_fmt_gb(chosen.vram_free)} free"
            needs = _fmt_gb(est.total)
            gpu_note = f"all {model.n_layers} layers on {chosen.name} ({where}, the model needs {needs})"
        else:
            per_layer = (est.weights + est.kv_cache) / n_layers_total
            fixed = est.overhead
            layers = int((budget - fixed) // per_layer) if per_layer > 0 else 0
            layers = min(layers, n_layers_total - 1)
            if layers >= 1:
                backend, n_gpu_layers = chosen.backend, layers
                gpu_note = (
                    f"{layers} of {model.n_layers} layers on {chosen.name} "
                    f"(only {_fmt_gb(chosen.vram_free)} free, the model needs {_fmt_gb(est.total)}); "
                    "the rest on the CPU"
                )
            else:
                no_gpu_why = (
                    f"{chosen.name} has only {_fmt_gb(chosen.vram_free)} free, "
                    f"not enough for even one layer of this model"
                )

    # --- memory on the CPU side (weights that stay in RAM, plus everything on CPU-only)
    def ram_needed(c: int) -> int:
        e = estimate_memory(model, c)
        if backend == "cpu":
            return e.total
        if n_gpu_layers >= n_layers_total or chosen is None:
            # Unified memory: the GPU's share is RAM too; discrete: mostly host buffers and the process.
            return e.total if chosen is not None and chosen.unified_memory else e.overhead
        share = 1 - n_gpu_layers / n_layers_total
        return int((e.weights + e.kv_cache) * share) + e.overhead

    fit = _ram_fit(ram_needed(ctx), hw)
    if auto_ctx and fit != "fits":
        # A smaller window may make it fit; keep the largest that fits best, never below 2048
        # tokens on our own initiative (a chat in 512 tokens forgets everything at once).
        rank = {"fits": 0, "may_be_slow": 1, "wont_fit": 2}
        best_ctx: int = ctx
        best_fit: Fit = fit
        c = ctx
        while c // 2 >= min(AUTO_CTX_FLOOR, train):
            c //= 2
            f = _ram_fit(ram_needed(c), hw)
            if rank[f] < rank[best_fit]:
                best_ctx, best_fit = c, f
            if f == "fits":
                break
        ctx, fit = best_ctx, best_fit
    memory = estimate_memory(model, ctx)
    needed = ram_needed(ctx)
    if fit == "wont_fit":
        notes.insert(
            0,
            f"this model needs about {_fmt_gb(memory.total)} but this computer has "
            f"{_fmt_gb(hw.ram_total)} of memory in all: choose a smaller model (or a smaller quantization)",
        )
    elif fit == "may_be_slow":
        notes.insert(
            0,
            f"it needs about {_fmt_gb(needed)} and only {_fmt_gb(hw.ram_available)} is free: "
            "close other programs or expect it to be slow",
        )

    if backend == "cpu" and fit == "fits":
        bandwidth = min(CPU_BYTES_PER_S_PER_THREAD * th.decode, CPU_BYTES_PER_S_MAX)
        if memory.weights > 0 and bandwidth / memory.weights < SLOW_TOKENS_PER_S:
            fit = "may_be_slow"
            notes.insert(
                0,
                f"a {_fmt_gb(memory.weights)} model on {th.decode} CPU thread"
                f"{'s' if th.decode != 1 else ''} answers only a few words per second",
            )

    # Prompt batches: bigger is faster on a GPU, but the batch must not exceed the window.
    n_batch = min(ctx, 512 if backend != "cpu" or ctx >= 512 else ctx)

    if backend == "cpu":
        head = f"CPU: {no_gpu_why}" if no_gpu_why else "CPU"
        reason = f"{head}; {th.note}"
    else:
        reason = f"{BACKEND_NAMES.get(backend, backend)}: {gpu_note}"
        if n_gpu_layers < n_layers_total:
            reason += f"; {th.note}"
    reason += f"; context {ctx} tokens"
    if auto_ctx and ctx < train:
        reason += f" (the model allows {train})"
    if notes:
        reason += "; " + "; ".join(notes)

    return RuntimePlan(
        backend=backend,
        n_gpu_layers=n_gpu_layers,
        n_threads=th.decode,
        n_threads_batch=th.prompt,
        n_ctx=ctx,
        n_batch=n_batch,
        fit=fit,
        reason=reason,
        memory=memory,
    )

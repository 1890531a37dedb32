"""The one Llama. It lives in a child process; this module is the parent's handle to it.

Why a child: llama.cpp parses untrusted GGUF files in native code, and an abort or an
out-of-memory there must end that process, not Hearth. The parent sees the pipe close, raises
`ModelCrashed` ("the model stopped unexpectedly"), and starts a fresh runtime on the next request.

The child is a fresh interpreter (`python -m desktop.services.llm`), not a multiprocessing
spawn, so it never re-imports the caller's `__main__` (a Qt app, pytest, a script).

Protocol (tuples over a socketpair wrapped in `multiprocessing.connection.Connection`):
    parent → child  ("chat", request_dict) | ("count", [messages…]) | ("tokenize", [texts…]) | ("quit",)
    child → parent  ("ready", info) | ("error", kind, message, hint, detail, extra) | ("prompt", info)
                    | ("tok", text) | ("done", stats) | ("result", value)
Cancel is a byte on a second socketpair that the child polls after every token, so a stop takes
effect within one token. The KV cache of the shared prefix is reused by llama-cpp-python's own
prefix matching, because the same `Llama` serves every turn.
"""

from __future__ import annotations

import atexit
import codecs
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from desktop.core.chat import GenerationParams, fit_history
from desktop.core.errors import (
    AppError,
    Cancelled,
    ModelCrashed,
    ModelFileError,
    from_wire,
)
from desktop.core.events import Event, Notice, Token
from desktop.core.jobs import CancelToken
from desktop.core.types import ChatMessage, Completion, GenerationStats, RuntimePlan
from desktop.services import chat_template, child, kernels

log = logging.getLogger("desktop.llm")

# The fallback when a GGUF has no chat template, or its template is refused: ChatML, which many
# small models understand.
FALLBACK_TEMPLATE = chat_template.FALLBACK_TEMPLATE


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    model_path: str
    backend: str
    n_ctx: int
    n_gpu_layers: int
    n_threads: int
    n_threads_batch: int
    has_chat_template: bool
    load_s: float
    pid: int
    notices: tuple[str, ...] = ()
    n_params: int = 0
    kernels: str = "default"  # the rung of services/kernels.py this runtime runs on
    warmup_prefill_tps: float = 0.0  # prompt tokens/s of the load-time check decode
    crashes: tuple[str, ...] = ()  # "default: SIGSEGV at load", … on the way to this rung


# ----------------------------------------------------------------------------- child side


class StopMatcher:
    """Streams text through, holding back any tail that could still become a stop string."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [x for x in stops if x]
        self.buffer = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop string was reached)."""
        if not self.stops:
            return text, False
        self.buffer += text
        for stop in self.stops:
            at = self.buffer.find(stop)
            if at >= 0:
                out, self.buffer = self.buffer[:at], ""
                return out, True
        keep = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(self.buffer)), 0, -1):
                if self.buffer.endswith(stop[:k]):
                    keep = max(keep, k)
                    break
        out = self.buffer[: len(self.buffer) - keep]
        self.buffer = self.buffer[len(self.buffer) - keep :]
        return out, False

    def flush(self, text: str = "") -> str:
        out, self.buffer = self.buffer + text, ""
        return out


class _CancelFlag:
    """The child's view of the cancel channel: set once a byte arrives, cleared per request."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def is_set(self) -> bool:
        hit = False
        while self._conn.poll():
            self._conn.recv_bytes()
            hit = True
        return hit

    def clear(self) -> None:
        self.is_set()


def _child_main(conn: Connection, cancel: Any, model_path: str, plan: dict[str, Any]) -> None:
    """Entry point of the runtime process. Owns the Llama; never returns normally until told."""
    # Ctrl-C in a terminal goes to the whole process group: it must stop the answer, not the model.
    # No core file either (it would hold the prompts), and no life after Hearth's.
    child.become_child()
    from desktop.services import privacy

    privacy.install()
    try:
        runtime = _ChildRuntime(model_path, plan)
    except AppError as exc:
        conn.send(("error", *exc.to_wire()))
        return
    except Exception as exc:
        conn.send(("error", *ModelFileError("This model could not be loaded.", detail=repr(exc)).to_wire()))
        return
    conn.send(("ready", asdict(runtime.info)))
    for msg in child.requests(conn):
        op = msg[0]
        try:
            if op == "chat":
                cancel.clear()
                runtime.chat(conn, cancel, msg[1])
            elif op == "count":
                conn.send(("result", runtime.count([ChatMessage(**m) for m in msg[1]])))
            elif op == "tokenize":
                conn.send(("result", [len(runtime.tokenize(t)) for t in msg[1]]))
            else:
                conn.send(("error", *AppError(f"unknown request {op!r}").to_wire()))
        except AppError as exc:
            conn.send(("error", *exc.to_wire()))
        except Exception as exc:
            log.exception("runtime request failed")
            failed = AppError("The model runtime failed on this request.", detail=repr(exc))
            conn.send(("error", *failed.to_wire()))


# The load-time check decode: a short multi-token prompt, so a kernel that crashes on its first
# batched decode (the AMX case) crashes here, before Hearth calls the model ready.
_WARMUP_TEXT = "Hearth checks that this computer's model kernels work: one short sentence, read once."


class _InjectedKernelFault:
    """Test-only fault injection (HEARTH_FAULT_KERNEL_CRASH), as HEARTH_FAULT_GPU_LOAD is for GPUs.

    A machine without AMX cannot show the AMX crash, yet its fallback must be proven. The switch
    makes the child SIGSEGV on its first multi-token decode, like the real crash:
      load     on the default rung, at the load-time check (and any batched decode after it)
      request  on the default rung, only in an answer's prompt (the load-time check passes)
      always   on every rung, everywhere (nothing works: Hearth must stop and say so)
    """

    def __init__(self, mode: str, rung: str) -> None:
        self.mode = mode
        self.armed = mode == "always" or (rung == "default" and mode in ("load", "request"))
        self.serving = False

    def wrap(self, llm: Any) -> None:
        if not self.armed:
            return
        original = llm.eval

        def eval_or_crash(tokens: Sequence[int]) -> None:
            if len(tokens) > 1 and (self.mode != "request" or self.serving):
                os.kill(os.getpid(), signal.SIGSEGV)
            original(tokens)

        llm.eval = eval_or_crash


def _load_cpu_backends(baseline: bool) -> None:
    """An engine built with runtime CPU dispatch (GGML_BACKEND_DL) loads its kernels explicitly."""
    try:
        from desktop.services import engine
    except ImportError:
        return
    with kernels.quiet_native_stderr():
        engine.load_cpu_backends("baseline" if baseline else None)


def _build_llama(llama_cpp: Any, kwargs: dict[str, Any], *, extra_bufts: bool) -> Any:
    """`llama_cpp.Llama(**kwargs)`, optionally without extra buffer types (AMX, repacked weights).

    llama-cpp-python has no keyword for `llama_model_params.use_extra_bufts`; its constructor
    starts from `llama_model_default_params()`, so that function is wrapped for this one call.
    """
    if extra_bufts:
        return llama_cpp.Llama(**kwargs)
    from llama_cpp import llama_cpp as low

    original = low.llama_model_default_params

    def without_extra_bufts() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_bufts
    try:
        return llama_cpp.Llama(**kwargs)
    finally:
        low.llama_model_default_params = original


class _ChildRuntime:
    def __init__(self, model_path: str, plan: dict[str, Any]) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads its OpenMP
        kernels = dict(plan.get("kernels") or {"rung": "default", "extra_bufts": True})
        _load_cpu_backends(bool(kernels.get("baseline_variant")))
        import llama_cpp

        notices: list[str] = []
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = dict(
            model_path=model_path,
            n_ctx=int(plan["n_ctx"]),
            n_batch=int(plan.get("n_batch", 512)),
            n_threads=int(plan["n_threads"]),
            n_threads_batch=int(plan["n_threads_batch"]),
            n_gpu_layers=int(plan["n_gpu_layers"]),
            use_mmap=bool(kernels.get("use_mmap", True)),
            verbose=False,
        )
        if plan.get("lora_path"):  # checked against this base first: a mismatch says why
            from desktop.services.adapters import check_adapter

            check_adapter(model_path, str(plan["lora_path"]))
            kwargs.update(lora_path=str(plan["lora_path"]), lora_scale=float(plan.get("lora_scale", 1.0)))
        if kernels.get("max_batch"):
            kwargs["n_batch"] = min(int(kwargs["n_batch"]), int(kernels["max_batch"]))
        if kernels.get("one_thread"):
            kwargs["n_threads"] = kwargs["n_threads_batch"] = 1
        backend = str(plan["backend"])
        self.fault = _InjectedKernelFault(
            os.environ.get("HEARTH_FAULT_KERNEL_CRASH", ""), str(kernels.get("rung", "default"))
        )
        try:
            if os.environ.get("HEARTH_FAULT_GPU_LOAD") and kwargs["n_gpu_layers"]:
                # Fault injection for tests: CI has no GPU, yet the fallback path must be proven.
                raise ValueError("Failed to load model from file (injected GPU failure)")
            self.llm = _build_llama(llama_cpp, kwargs, extra_bufts=bool(kernels.get("extra_bufts", True)))
        except ValueError as exc:
            if kwargs["n_gpu_layers"] == 0:
                from desktop.services.models import read_model_info, unsupported_architecture

                if (unknown := unsupported_architecture(read_model_info(model_path))) is not None:
                    raise unknown from exc
                raise ModelFileError(
                    "This file could not be loaded as a model.",
                    "Check it with `hearth models info PATH`; it may be damaged or of an unsupported kind.",
                    detail=repr(exc),
                ) from exc
            notices.append(f"Loading on the {backend.upper()} GPU failed ({exc}), so Hearth runs on the CPU.")
            kwargs["n_gpu_layers"] = 0
            backend = "cpu"
            self.llm = _build_llama(llama_cpp, kwargs, extra_bufts=bool(kernels.get("extra_bufts", True)))
        self.load_s = time.perf_counter() - t0
        llm = self.llm
        if self.fault.mode:
            self.fault.wrap(llm)
        warmup_tps = self._warm_up()
        idle = int(plan.get("idle_prompt_threads") or 0)
        self.idle_prompt_threads = 0 if kernels.get("one_thread") else idle
        self._prompt_threads = int(kwargs["n_threads_batch"])
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            notices.append("This model has no chat template; Hearth uses a generic (ChatML) format.")
        else:
            ok, reason = chat_template.check(template, eos, bos)
            if not ok:
                log.warning("chat template refused: %s", reason)
                notices.append(chat_template.refusal_notice(reason))
                template = None
        self.eos, self.bos, self.eos_id = eos, bos, eos_id
        self.formatter = chat_template.make_formatter(template or FALLBACK_TEMPLATE, eos, bos, eos_id)
        self.template_stop = [s for s in (eos, "<|im_end|>" if not template else "") if s]
        self.info = RuntimeInfo(
            model_path=model_path,
            backend=backend,
            n_ctx=llm.n_ctx(),
            n_gpu_layers=int(kwargs["n_gpu_layers"]),
            n_threads=int(kwargs["n_threads"]),
            n_threads_batch=int(kwargs["n_threads_batch"]),
            has_chat_template=bool(template),
            load_s=self.load_s,
            pid=os.getpid(),
            n_params=int(llm._model.n_params()),
            notices=tuple(notices),
            kernels=str(kernels.get("rung", "default")),
            warmup_prefill_tps=warmup_tps,
        )

    def _set_prompt_threads(self) -> None:
        """Read this prompt with every core that is free right now (planning.prompt_threads_now)."""
        if not self.idle_prompt_threads or not hasattr(os, "getloadavg"):
            return
        import llama_cpp

        from desktop.core.planning import prompt_threads_now

        n_batch = prompt_threads_now(self.info.n_threads_batch, self.idle_prompt_threads, os.getloadavg()[0])
        if n_batch != self._prompt_threads:
            llama_cpp.llama_set_n_threads(self.llm.ctx, self.info.n_threads, n_batch)
            self._prompt_threads = n_batch

    def _warm_up(self) -> float:
        """Decode a short multi-token prompt once; return its prompt tokens/s. A kernel that crashes
        natively takes the process down here, and the parent retries on a safer rung."""
        llm = self.llm
        tokens = llm.tokenize(_WARMUP_TEXT.encode("utf-8"), add_bos=True, special=False)
        t0 = time.perf_counter()
        llm.eval(tokens)
        seconds = time.perf_counter() - t0
        llm.reset()
        return len(tokens) / seconds if seconds > 0 else 0.0

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        chat: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        try:
            result = chat_template.render_chat(self.formatter, chat)  # system message kept (folded)
        except chat_template.TemplateRefused as refused:
            raise self._refuse_template(refused) from None
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=False, special=True)
        if self.llm._model.add_bos_token() and chat_template.needs_bos(result.prompt, self.bos):
            tokens.insert(0, self.llm.token_bos())  # the GGUF asks for a BOS the template did not write
        return tokens

    def _refuse_template(self, refused: chat_template.TemplateRefused) -> AppError:
        """A template that passed the load-time check ran away on this conversation: use the
        generic format from now on and say so (the request fails with the reason, once)."""
        log.warning("chat template refused mid-conversation: %s", refused.reason)
        self.formatter = chat_template.make_formatter(FALLBACK_TEMPLATE, self.eos, self.bos, self.eos_id)
        self.template_stop = [s for s in (self.eos, "<|im_end|>") if s]
        return AppError(
            chat_template.refusal_notice(refused.reason),
            "Send your message again: Hearth now uses the generic format for this model.",
            detail=refused.detail,
        )

    def count(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.prompt_tokens(messages))

    def chat(self, conn: Connection, cancel: Any, req: dict[str, Any]) -> None:
        llm = self.llm
        params = GenerationParams(**req["params"])
        messages = [ChatMessage(**m) for m in req["messages"]]
        n_ctx = llm.n_ctx()
        reserve = max(16, min(params.max_tokens, n_ctx // 2))
        # fit_history counts the prompt it keeps; remember those tokens instead of rendering the
        # template and tokenizing the same prompt a second time before the first token.
        rendered: dict[tuple[ChatMessage, ...], list[int]] = {}

        def tokens_of(kept: Sequence[ChatMessage]) -> list[int]:
            key = tuple(kept)
            if key not in rendered:
                rendered[key] = self.prompt_tokens(key)
            return rendered[key]

        fitted = fit_history(messages, lambda kept: len(tokens_of(kept)), n_ctx - reserve)
        tokens = tokens_of(fitted.messages)
        cached = 0
        for a, b in zip(llm._input_ids[: llm.n_tokens], tokens, strict=False):
            if a != b:
                break
            cached += 1
        conn.send(
            ("prompt", {"prompt_tokens": len(tokens), "cached_tokens": cached, "dropped": fitted.dropped})
        )
        max_tokens = max(1, min(params.max_tokens, n_ctx - len(tokens)))
        import llama_cpp

        vocab = llm._model.vocab
        self.fault.serving = True
        self._set_prompt_threads()
        if params.seed >= 0:
            llm.set_seed(params.seed)
        # Straight on `generate` (what create_completion wraps): no per-token dict building,
        # so the stream keeps the raw library's speed. Text is decoded incrementally (a UTF-8
        # character can span tokens) and held back while it could be the start of a stop string.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher([*self.template_stop, *params.stop])
        t0 = time.perf_counter()
        first = last = 0.0
        n_out = 0
        stop_reason = "length"
        text_parts: list[str] = []
        for tok in llm.generate(
            tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=0.05,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        ):
            now = time.perf_counter()
            if not first:
                first = now
            last = now
            n_out += 1
            if llama_cpp.llama_vocab_is_eog(vocab, tok):
                stop_reason = "stop"
                break
            piece, hit = stops.feed(decoder.decode(llm.detokenize([tok])))
            if piece:
                text_parts.append(piece)
                conn.send(("tok", piece))
            if hit:
                stop_reason = "stop"
                break
            if cancel.is_set():
                stop_reason = "cancelled"
                break
            if n_out >= max_tokens:
                break
        tail = stops.flush(decoder.decode(b"", final=True)) if stop_reason != "stop" else ""
        if tail:
            text_parts.append(tail)
            conn.send(("tok", tail))
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            cached_tokens=cached,
            completion_tokens=n_out,
            ttft_s=(first - t0) if first else 0.0,
            decode_s=(last - first) if first else 0.0,
            total_s=time.perf_counter() - t0,
            backend=self.info.backend,
            stop_reason=stop_reason,
        )
        conn.send(("done", asdict(stats), "".join(text_parts)))


# ----------------------------------------------------------------------------- parent side


class _PromptCrash(Exception):
    """The child died of a native fault while reading a prompt, before the first token."""

    def __init__(self, code: int | None) -> None:
        super().__init__(kernels.signal_name(code))
        self.code = code
        self.signal = kernels.signal_name(code)


class _LoadCrash(Exception):
    """The child died of a native fault before it was ready (internal: start() climbs the ladder)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(kernels.signal_name(code))
        self.code = code
        self.signal = kernels.signal_name(code)


_live_runtimes: weakref.WeakSet[LlamaRuntime] = weakref.WeakSet()


@atexit.register
def _close_all_runtimes() -> None:
    """A runtime still open at exit is ended cleanly rather than left to notice the closed pipe."""
    for rt in list(_live_runtimes):
        rt.close()


class LlamaRuntime:
    """Parent-side handle to the model runtime process. One request at a time (one lane owns it)."""

    def __init__(self, model_path: str | Path, plan: RuntimePlan, *, load_timeout_s: float = 300.0):
        self.model_path = str(model_path)
        self.plan = plan
        self.load_timeout_s = load_timeout_s
        self.info: RuntimeInfo | None = None
        self._child: child.Child | None = None
        self._conn: Connection | None = None
        self._cancel: Connection | None = None
        self._lock = threading.Lock()
        self.restarts = 0
        self._notified_pid: int | None = None
        self._kernel_key = ""
        self._kernel_fallback_pending = False
        _live_runtimes.add(self)

    # -- lifecycle

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> RuntimeInfo:
        """Start the runtime if it is not running; return what it loaded. Blocks until ready.

        A native crash while loading or in the load-time check decode (a CPU kernel llama.cpp
        chose faults here) is retried one rung safer (services/kernels.py); the rung that works
        is remembered for this engine, CPU and model, so the next start skips the crash.
        """
        if self.alive and self.info is not None:
            return self.info
        self._cleanup()
        memory = self._kernel_memory()
        rung = memory.rung_for(self._kernel_key)
        crashes: list[str] = []
        crashed_rungs: dict[str, Any] = dict((memory.get(self._kernel_key) or {}).get("crashed", {}))
        while True:
            try:
                info = self._start_once(rung)
            except _LoadCrash as crash:
                crashes.append(f"{rung}: {crash.signal} while loading")
                crashed_rungs[rung] = {"signal": crash.signal}
                nxt = memory.record_crash(self._kernel_key, rung, crash.code, "load")
                log.warning("model runtime crashed (%s) on kernel rung %s; next: %s", crash.signal, rung, nxt)
                if nxt is None:
                    raise self._gave_up(crash.signal, crashes) from None
                rung = nxt
                continue
            break
        notices = list(info.notices)
        if rung != "default" and (crashes or self._kernel_fallback_pending):
            notices.append(kernels.fallback_notice(crashed_rungs, rung))
        self._kernel_fallback_pending = False
        memory.record_working(self._kernel_key, rung, self.model_path, info.warmup_prefill_tps)
        self.info = replace(info, notices=tuple(notices), crashes=tuple(crashes))
        log.info(
            "model runtime ready: pid=%s backend=%s kernels=%s n_ctx=%s load=%.2fs",
            self.info.pid,
            self.info.backend,
            self.info.kernels,
            self.info.n_ctx,
            self.info.load_s,
        )
        return self.info

    def _idle_prompt_threads(self) -> int:
        """Cores a prompt may use when the machine is idle (0: keep the plan's). Threads the user
        set by hand, and GPU plans, are left alone."""
        if self.plan.backend != "cpu" or "as set" in self.plan.reason:
            return 0
        from desktop.services import hardware

        return hardware.probe().physical_cores

    def _kernel_memory(self) -> kernels.KernelMemory:
        if self._kernel_key == "":
            self._kernel_key = kernels.key_for(self.model_path)
        return kernels.KernelMemory()

    def _gave_up(self, sig: str, crashes: Sequence[str]) -> ModelCrashed:
        """Every rung crashed: stop trying and say what was tried, with what, and what to do."""
        p = self.plan
        return ModelCrashed(
            f"The model engine crashed ({sig}) on this computer with every setting Hearth tried.",
            "Try another model file (a different quantization, e.g. Q4_K_M or Q8_0), and run "
            "`hearth doctor --selftest`; if a fresh install does the same, report the details below.",
            detail=(
                f"plan: backend {p.backend}, GPU layers {p.n_gpu_layers}, threads {p.n_threads}/"
                f"{p.n_threads_batch}, context {p.n_ctx}, batch {p.n_batch}; tried: {'; '.join(crashes)}; "
                f"model {self.model_path}"
            ),
        )

    def _start_once(self, rung: str) -> RuntimeInfo:
        import json

        plan = asdict(self.plan)
        plan.pop("memory", None)
        plan["kernels"] = kernels.CHOICES[rung].to_plan()
        plan["idle_prompt_threads"] = self._idle_prompt_threads()
        # Two channels: requests and replies, and the cancel byte.
        proc = child.Child("desktop.services.llm", (self.model_path, json.dumps(plan)), channels=2)
        parent_conn, self._cancel = proc.conns
        self._child, self._conn = proc, parent_conn
        if not parent_conn.poll(self.load_timeout_s):
            self._cleanup()
            raise ModelCrashed(
                "The model took too long to load.", "Try a smaller model or a smaller context size."
            )
        try:
            msg = parent_conn.recv()
        except (EOFError, OSError) as exc:
            code = proc.wait(timeout=5)
            self._cleanup()
            if kernels.is_kernel_crash(code):
                raise _LoadCrash(code) from exc
            raise ModelFileError(
                "The model runtime stopped while loading this model.",
                "The file may be damaged, or too large for this machine's memory.",
                detail=f"runtime {kernels.signal_name(code)}",
            ) from exc
        if msg[0] == "error":
            self._cleanup()
            raise _error_from(msg)
        return RuntimeInfo(
            **{**msg[1], "notices": tuple(msg[1]["notices"]), "crashes": tuple(msg[1].get("crashes", ()))}
        )

    def close(self) -> None:
        if self._child is not None:
            self._child.quit()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._child is not None:
            self._child.kill()
        self._child = self._conn = self._cancel = None
        self.info = None

    def __enter__(self) -> LlamaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests

    def _exit_code(self) -> int | None:
        if self._child is None:
            return None
        return self._child.wait(timeout=2)  # the pipe closes a moment before the process is reaped

    def _crashed(self) -> ModelCrashed:
        code = self._exit_code()
        self._cleanup()
        self.restarts += 1
        return ModelCrashed(
            "The model stopped unexpectedly.",
            "Your messages are kept. Hearth restarts the model on your next request.",
            detail=f"runtime {kernels.signal_name(code)}",
        )

    def _recv(self) -> tuple[Any, ...]:
        assert self._conn is not None
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            raise self._crashed() from exc

    def _call(self, op: str, payload: Any) -> Any:
        with self._lock:
            self.start()
            assert self._conn is not None
            try:
                self._conn.send((op, payload))
            except OSError as exc:
                raise self._crashed() from exc
            msg = self._recv()
            if msg[0] == "error":
                raise _error_from(msg)
            return msg[1]

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of `messages` formatted with the model's chat template (generation prompt included)."""
        return int(self._call("count", [asdict(m) for m in messages]))

    def count_text_tokens(self, texts: Sequence[str]) -> list[int]:
        return [int(n) for n in self._call("tokenize", list(texts))]

    @property
    def n_ctx(self) -> int:
        return self.start().n_ctx

    @property
    def n_params(self) -> int:
        """The loaded model's parameter count (summaries pick grounded or abstractive by it)."""
        return self.start().n_params

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        """Stream an answer. Yields Token events (and a Notice when history was trimmed).

        If the engine dies of a native fault while reading the prompt (before the first token),
        the runtime restarts one kernel rung safer and answers the same request once more; a
        second crash on the same request is reported with the plan, the signal and a hint.
        """
        with self._lock:
            retried_from = ""
            while True:
                info = self.start()
                if info.pid != self._notified_pid:  # load notices once per runtime, not every answer
                    self._notified_pid = info.pid
                    for note in info.notices:
                        yield Notice(note, "warning")
                try:
                    return (yield from self._stream_once(messages, params, cancel))
                except _PromptCrash as crash:
                    memory = self._kernel_memory()
                    if retried_from or not kernels.is_kernel_crash(crash.code):
                        raise self._request_crash(crash, info, retried_from) from None
                    nxt = memory.record_crash(self._kernel_key, info.kernels, crash.code, "prompt")
                    if nxt is None:
                        raise self._request_crash(crash, info, retried_from) from None
                    log.warning("engine crashed (%s) reading a prompt on rung %s", crash.signal, info.kernels)
                    retried_from = f"{info.kernels} ({crash.signal})"
                    self._kernel_fallback_pending = True

    def _request_crash(self, crash: _PromptCrash, info: RuntimeInfo, retried_from: str) -> ModelCrashed:
        p = self.plan
        again = f" again after a retry from {retried_from}" if retried_from else ""
        return ModelCrashed(
            f"The model engine crashed ({crash.signal}){again} while reading this prompt.",
            "Your messages are kept. Try a shorter question or another model file; "
            "`hearth doctor --selftest` checks the engine.",
            detail=(
                f"plan: backend {info.backend}, kernels {info.kernels}, GPU layers {info.n_gpu_layers}, "
                f"threads {info.n_threads}/{info.n_threads_batch}, context {info.n_ctx}, batch {p.n_batch}; "
                f"model {self.model_path}"
            ),
        )

    def _stream_once(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        assert self._conn is not None and self._cancel is not None
        request = {"messages": [asdict(m) for m in messages], "params": asdict(params)}
        try:
            self._conn.send(("chat", request))
        except OSError as exc:
            raise self._crashed() from exc
        cancel_sent = False
        streaming = False  # a token arrived: a crash now is not a prompt-reading crash

        def died() -> Exception:
            if streaming:
                return self._crashed()
            code = self._exit_code()
            self._cleanup()
            self.restarts += 1
            return _PromptCrash(code)

        while True:
            if cancel.cancelled and not cancel_sent:
                try:
                    self._cancel.send_bytes(b"c")
                except OSError:
                    pass
                cancel_sent = True
            if not self._conn.poll(0.02):
                if not self.alive:
                    raise died()
                continue
            try:
                msg = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise died() from exc
            kind = msg[0]
            if kind == "tok":
                streaming = True
                if not cancel_sent:
                    yield Token(msg[1])
            elif kind == "prompt":
                if msg[1]["dropped"]:
                    yield Notice(
                        f"The conversation is longer than the model's context; the oldest "
                        f"{msg[1]['dropped']} message(s) were left out of this answer.",
                        "info",
                        {"dropped": msg[1]["dropped"]},
                    )
            elif kind == "done":
                completion = Completion(msg[2], GenerationStats(**msg[1]))
                if cancel_sent:
                    raise Cancelled(partial=completion)
                return completion
            elif kind == "error":
                raise _error_from(msg)


def _error_from(msg: tuple[Any, ...]) -> AppError:
    """The child's ("error", kind, message, hint, detail, extra) as that kind of AppError."""
    return from_wire(*msg[1:])


def _worker_entry(argv: list[str]) -> None:
    import json

    (conn, cancel_conn), (model_path, plan_json) = child.connections(argv, 2)
    _child_main(conn, _CancelFlag(cancel_conn), model_path, json.loads(plan_json))


if __name__ == "__main__":
    _worker_entry(sys.argv[1:])

"""The one Llama. It lives in a child process; this module is the parent's handle to it.

Why a child: llama.cpp parses untrusted GGUF files in native code, and an abort or an
out-of-memory there must end that process, not Hearth. The parent sees the pipe close, raises
`ModelCrashed` ("the model stopped unexpectedly"), and starts a fresh runtime on the next request.

The child is a fresh interpreter (`python -m desktop.services.llm`), not a multiprocessing
spawn, so it never re-imports the caller's `__main__` (a Qt app, pytest, a script).

Protocol (tuples over a socketpair wrapped in `multiprocessing.connection.Connection`):
    parent → child  ("chat", request_dict) | ("count", [messages…]) | ("tokenize", [texts…]) | ("quit",)
    child → parent  ("ready", info) | ("error", kind, message, hint, detail) | ("prompt", info)
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
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from desktop.core.chat import GenerationParams, fit_history
from desktop.core.errors import (
    AppError,
    Cancelled,
    ContextOverflow,
    ModelCrashed,
    ModelFileError,
)
from desktop.core.events import Event, Notice, Token
from desktop.core.jobs import CancelToken
from desktop.core.types import ChatMessage, Completion, GenerationStats, RuntimePlan

log = logging.getLogger("desktop.llm")

_ERRORS: dict[str, type[AppError]] = {
    "model_file": ModelFileError,
    "context_overflow": ContextOverflow,
    "model_crashed": ModelCrashed,
    "error": AppError,
}

# The fallback when a GGUF has no chat template: ChatML, which many small models understand.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


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
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from desktop.services import privacy

    privacy.install()
    try:
        runtime = _ChildRuntime(model_path, plan)
    except AppError as exc:
        conn.send(("error", exc.kind, exc.user_message, exc.hint, exc.detail))
        return
    except Exception as exc:
        conn.send(("error", "model_file", "This model could not be loaded.", "", repr(exc)))
        return
    conn.send(("ready", asdict(runtime.info)))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        op = msg[0]
        try:
            if op == "quit":
                return
            if op == "chat":
                cancel.clear()
                runtime.chat(conn, cancel, msg[1])
            elif op == "count":
                conn.send(("result", runtime.count([ChatMessage(**m) for m in msg[1]])))
            elif op == "tokenize":
                conn.send(("result", [len(runtime.tokenize(t)) for t in msg[1]]))
            else:
                conn.send(("error", "error", f"unknown request {op!r}", "", ""))
        except AppError as exc:
            conn.send(("error", exc.kind, exc.user_message, exc.hint, exc.detail))
        except Exception as exc:
            log.exception("runtime request failed")
            conn.send(("error", "error", "The model runtime failed on this request.", "", repr(exc)))


class _ChildRuntime:
    def __init__(self, model_path: str, plan: dict[str, Any]) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads its OpenMP
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        notices: list[str] = []
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = dict(
            model_path=model_path,
            n_ctx=int(plan["n_ctx"]),
            n_batch=int(plan.get("n_batch", 512)),
            n_threads=int(plan["n_threads"]),
            n_threads_batch=int(plan["n_threads_batch"]),
            n_gpu_layers=int(plan["n_gpu_layers"]),
            verbose=False,
        )
        backend = str(plan["backend"])
        try:
            if os.environ.get("HEARTH_FAULT_GPU_LOAD") and kwargs["n_gpu_layers"]:
                # Fault injection for tests: CI has no GPU, yet the fallback path must be proven.
                raise ValueError("Failed to load model from file (injected GPU failure)")
            self.llm = llama_cpp.Llama(**kwargs)
        except ValueError as exc:
            if kwargs["n_gpu_layers"] == 0:
                raise ModelFileError(
                    "This file could not be loaded as a model.",
                    "Check it with `hearth models info PATH`; it may be damaged or of an unsupported kind.",
                    detail=repr(exc),
                ) from exc
            notices.append(f"Loading on the {backend.upper()} GPU failed ({exc}), so Hearth runs on the CPU.")
            kwargs["n_gpu_layers"] = 0
            backend = "cpu"
            self.llm = llama_cpp.Llama(**kwargs)
        self.load_s = time.perf_counter() - t0
        llm = self.llm
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            notices.append("This model has no chat template; Hearth uses a generic (ChatML) format.")
        self.formatter = Jinja2ChatFormatter(
            template=template or FALLBACK_TEMPLATE,
            eos_token=eos,
            bos_token=bos,
            stop_token_ids=[eos_id] if eos_id != -1 else None,
        )
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
        )

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        chat: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        result = self.formatter(messages=chat)
        return self.llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
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
        self._proc: Any = None
        self._conn: Connection | None = None
        self._cancel: Any = None
        self._lock = threading.Lock()
        self.restarts = 0
        self._notified_pid: int | None = None
        _live_runtimes.add(self)

    # -- lifecycle

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> RuntimeInfo:
        """Start the runtime if it is not running; return what it loaded. Blocks until ready."""
        if self.alive and self.info is not None:
            return self.info
        self._cleanup()
        import json

        data_parent, data_child = socket.socketpair()
        cancel_parent, cancel_child = socket.socketpair()
        plan = asdict(self.plan)
        plan.pop("memory", None)
        cmd = [
            sys.executable,
            "-m",
            "desktop.services.llm",
            str(data_child.fileno()),
            str(cancel_child.fileno()),
            self.model_path,
            json.dumps(plan),
        ]
        try:
            proc = subprocess.Popen(
                cmd,
                pass_fds=(data_child.fileno(), cancel_child.fileno()),
                start_new_session=True,  # Ctrl-C in the terminal reaches Hearth, not the model
                stdin=subprocess.DEVNULL,
            )
        finally:
            data_child.close()
            cancel_child.close()
        parent_conn = Connection(data_parent.detach())
        self._proc, self._conn = proc, parent_conn
        self._cancel = Connection(cancel_parent.detach())
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
            raise ModelFileError(
                "The model runtime stopped while loading this model.",
                "The file may be damaged, or too large for this machine's memory.",
                detail=f"exit code {code}",
            ) from exc
        if msg[0] == "error":
            self._cleanup()
            raise _error_from(msg)
        self.info = RuntimeInfo(**{**msg[1], "notices": tuple(msg[1]["notices"])})
        log.info(
            "model runtime ready: pid=%s backend=%s n_ctx=%s load=%.2fs",
            self.info.pid,
            self.info.backend,
            self.info.n_ctx,
            self.info.load_s,
        )
        return self.info

    def close(self) -> None:
        if self._conn is not None and self.alive:
            try:
                self._conn.send(("quit",))
            except OSError:
                pass
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=10)
        for conn in (self._conn, self._cancel):
            if conn is not None:
                conn.close()
        self._proc = self._conn = self._cancel = None
        self.info = None

    def __enter__(self) -> LlamaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests

    def _crashed(self) -> ModelCrashed:
        code = self._proc.poll() if self._proc is not None else None
        self._cleanup()
        self.restarts += 1
        return ModelCrashed(
            "The model stopped unexpectedly.",
            "Your messages are kept. Hearth restarts the model on your next request.",
            detail=f"runtime exit code {code}",
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
        """Stream an answer. Yields Token events (and a Notice when history was trimmed)."""
        with self._lock:
            info = self.start()
            if info.pid != self._notified_pid:  # load notices once per runtime, not every answer
                self._notified_pid = info.pid
                for note in info.notices:
                    yield Notice(note, "warning")
            assert self._conn is not None and self._cancel is not None
            request = {"messages": [asdict(m) for m in messages], "params": asdict(params)}
            try:
                self._conn.send(("chat", request))
            except OSError as exc:
                raise self._crashed() from exc
            cancel_sent = False
            while True:
                if cancel.cancelled and not cancel_sent:
                    try:
                        self._cancel.send_bytes(b"c")
                    except OSError:
                        pass
                    cancel_sent = True
                if not self._conn.poll(0.02):
                    if not self.alive:
                        raise self._crashed()
                    continue
                msg = self._recv()
                kind = msg[0]
                if kind == "tok":
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
    _, kind, message, hint, detail = msg
    cls = _ERRORS.get(kind, AppError)
    return cls(message, hint, detail=detail)


def _worker_entry(argv: list[str]) -> None:
    import json

    data_fd, cancel_fd, model_path, plan_json = argv
    conn = Connection(int(data_fd))
    cancel = _CancelFlag(Connection(int(cancel_fd)))
    _child_main(conn, cancel, model_path, json.loads(plan_json))


if __name__ == "__main__":
    _worker_entry(sys.argv[1:])

"""A model on an OpenAI-compatible server (llama.cpp's server, `llama_cpp.server`, vLLM, Ollama,
LM Studio): the one module in Hearth that speaks HTTP (the lint ban on HTTP clients exempts it).

`RemoteRuntime` has the interface the callers use of `LlamaRuntime` (start, stream_chat,
count_tokens, n_ctx, n_params, close), so chat, ask and summarize run through it unchanged. It
sends messages, not a rendered prompt: the server applies its own model's chat template.

Privacy: it connects only to the address in settings, which the privacy guard lets through
(services/policy.allow_named_servers); a loopback name or an address literal is connected to
without any name lookup. https:// verifies the certificate with the system's trust store (the
default SSL context); plain http:// reaches another computer only when the user allowed it
(core/policy.check_server). Connect and read timeouts bound every wait; a cancel closes the
connection at once, from the cancelling thread.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict
from typing import Any

from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError, Cancelled, ContextOverflow
from desktop.core.events import Event, Token
from desktop.core.jobs import CancelToken
from desktop.core.policy import ServerAddress, ip_literal
from desktop.core.rag import estimate_tokens
from desktop.core.types import ChatMessage, Completion, GenerationStats
from desktop.services.llm import RuntimeInfo

log = logging.getLogger("desktop.remote_llm")

TOKEN_SECRET = "model_server_token"  # its name in the OS keyring (services/secrets.py)
CONNECT_TIMEOUT_S = 5.0


class ServerUnavailable(AppError):
    """The model server could not be reached, timed out, or stopped answering.

    `streamed` tells whether part of the answer had already been shown when it happened."""

    kind = "model_server"

    def __init__(self, user_message: str, hint: str = "", *, detail: str = "", streamed: bool = False):
        super().__init__(user_message, hint, detail=detail)
        self.streamed = streamed


class ServerRefused(AppError):
    """The server answered, but refused the request (a bad token, an unknown model, a bad request)."""

    kind = "model_server"


class _Connection(http.client.HTTPSConnection):
    """One HTTP(S) connection to `address`, opened without a name lookup for a loopback name or an
    address literal, with a connect timeout and then a read timeout."""

    def __init__(self, address: ServerAddress, connect_timeout: float, read_timeout: float) -> None:
        context = ssl.create_default_context() if address.scheme == "https" else None
        super().__init__(address.host, address.port, timeout=connect_timeout, context=context)
        self.address = address
        self.read_timeout = read_timeout

    def connect(self) -> None:
        target = self.address.connect_host
        literal = ip_literal(target)
        if literal is not None:
            family = socket.AF_INET6 if ":" in literal else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect((literal, self.port))
            except BaseException:
                sock.close()
                raise
        else:
            # A named server on the network: the guard allows looking up exactly this name, and
            # then the addresses it resolved to.
            from desktop.services import privacy

            infos = socket.getaddrinfo(target, self.port, type=socket.SOCK_STREAM)
            privacy.allow_resolved(target, [str(info[4][0]) for info in infos])
            sock = socket.create_connection((target, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.address.scheme == "https":
            sock = self._context.wrap_socket(sock, server_hostname=self.address.host)  # type: ignore[attr-defined]
        sock.settimeout(self.read_timeout)
        self.sock = sock


class RemoteRuntime:
    """A chat model on a server. One request at a time (one lane owns it, as for LlamaRuntime)."""

    def __init__(
        self,
        address: ServerAddress,
        model: str = "",
        *,
        token: str | None = None,
        n_ctx: int = 4096,
        n_params: int = 0,
        timeout_s: float = 60.0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        notices: Sequence[str] = (),
    ) -> None:
        self.address = address
        self.model = model
        self._token = token
        self._n_ctx = n_ctx
        self._n_params = n_params
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._notices = tuple(notices)
        self.info: RuntimeInfo | None = None
        self._lock = threading.Lock()
        self._conn: _Connection | None = None

    # -- lifecycle

    @property
    def alive(self) -> bool:
        return self.info is not None

    @property
    def pid(self) -> int | None:
        return None

    def start(self) -> RuntimeInfo:
        """Check the server answers (GET /v1/models) and learn its model; ServerUnavailable if not."""
        if self.info is not None:
            return self.info
        t0 = time.perf_counter()
        body = self._get_json("/v1/models", timeout=min(self.timeout_s, 15.0))
        models = [m for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
        if not self.model:
            self.model = str(models[0].get("id", "")) if models else ""
        n_ctx = self._n_ctx
        for m in models:
            if m.get("id") == self.model:
                served = m.get("max_model_len") or (m.get("meta") or {}).get("n_ctx_train")
                if isinstance(served, int) and served > 0:
                    n_ctx = min(n_ctx, served)
        self._n_ctx = n_ctx
        self.info = RuntimeInfo(
            model_path=f"{self.address.url} ({self.model or 'default model'})",
            backend="remote",
            n_ctx=n_ctx,
            n_gpu_layers=0,
            n_threads=0,
            n_threads_batch=0,
            has_chat_template=True,
            load_s=time.perf_counter() - t0,
            pid=os.getpid(),
            notices=self._notices,
            n_params=self._n_params,
            kernels="remote",
        )
        log.info("model server ready: %s model=%s", self.address.display, self.model)
        return self.info

    def close(self) -> None:
        self._drop_connection()
        self.info = None

    def __enter__(self) -> RemoteRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what callers ask of a runtime

    @property
    def n_ctx(self) -> int:
        return self.start().n_ctx

    @property
    def n_params(self) -> int:
        return self._n_params

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """A conservative estimate: the server's tokenizer is not here, and asking it would cost a
        round trip per budget step. It errs long, so a prompt never overflows the server."""
        return estimate_tokens(messages)

    def count_text_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t) // 3 + 1 for t in texts]

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        """Stream an answer from POST /v1/chat/completions (server-sent events)."""
        with self._lock:
            self.start()
            return (yield from self._stream(messages, params, cancel))

    # -- HTTP

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "Hearth"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _open(self, read_timeout: float) -> _Connection:
        self._drop_connection()
        conn = _Connection(self.address, self.connect_timeout_s, read_timeout)
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _shut(conn)
            conn.close()

    def _unreachable(self, exc: BaseException, *, streamed: bool = False) -> ServerUnavailable:
        where = self.address.display
        if isinstance(exc, TimeoutError | socket.timeout):
            what = f"The model server {where} did not answer within {self.timeout_s:g} s"
        elif isinstance(exc, ssl.SSLCertVerificationError):
            return ServerUnavailable(
                f"The model server {where} presented a certificate that cannot be verified "
                f"({exc.verify_message}).",
                "Hearth does not send anything to a server it cannot verify. Ask its administrator "
                "to install a certificate your system trusts.",
                detail=repr(exc),
            )
        elif isinstance(exc, ConnectionRefusedError):
            what = f"The model server {where} is not running (connection refused)"
        elif streamed:
            what = f"The model server {where} stopped in the middle of this answer"
        else:
            what = f"The model server {where} could not be reached ({exc.__class__.__name__}: {exc})"
        return ServerUnavailable(what + ".", detail=repr(exc), streamed=streamed)

    def _get_json(self, path: str, *, timeout: float) -> Any:
        conn = self._open(timeout)
        try:
            conn.request("GET", self.address.base_path + path, headers=self._headers())
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        finally:
            self._drop_connection()
        if resp.status != 200:
            raise self._refused(resp.status, data)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ServerRefused(
                f"The model server {self.address.display} did not answer as an OpenAI-compatible server.",
                "Check the URL: it should be the server's base, e.g. http://host:8080",
                detail=data[:300].decode("utf-8", "replace"),
            ) from exc

    def _refused(self, status: int, data: bytes) -> AppError:
        text = data[:500].decode("utf-8", "replace")
        try:
            err = json.loads(data).get("error", "")
            message = err.get("message", "") if isinstance(err, dict) else str(err)
        except (ValueError, AttributeError):
            message = text
        where = self.address.display
        if status in (401, 403):
            return ServerRefused(
                f"The model server {where} refused Hearth's token (HTTP {status}).",
                "Set the token with: hearth settings token",
                detail=text,
            )
        if "context" in message.lower() and ("exceed" in message.lower() or "length" in message.lower()):
            return ContextOverflow(
                f"This request is longer than the model server's context ({where}).",
                "Ask a shorter question, or start a new chat.",
                detail=text,
            )
        if status >= 500:
            return ServerUnavailable(f"The model server {where} failed (HTTP {status}).", detail=text)
        return ServerRefused(
            f"The model server {where} refused the request (HTTP {status}): {message[:200]}",
            "Check the model name in settings (hearth settings set model_server_model NAME).",
            detail=text,
        )

    def _stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        body: dict[str, Any] = {
            "messages": [asdict(m) for m in messages],
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k,  # llama.cpp, vLLM and Ollama read it; OpenAI's own ignores it
        }
        if self.model:
            body["model"] = self.model
        if params.stop:
            body["stop"] = list(params.stop)[:4]
        if params.seed >= 0:
            body["seed"] = params.seed
        payload = json.dumps(body).encode("utf-8")
        headers = {**self._headers(), "Content-Type": "application/json", "Accept": "text/event-stream"}
        conn = self._open(self.timeout_s)
        cancel.on_cancel(lambda: _shut(conn))  # wakes a read that waits on the server
        t0 = time.perf_counter()
        first = last = 0.0
        pieces: list[str] = []
        n_chunks = 0
        usage: dict[str, Any] = {}
        stop_reason = "length"

        def stats(reason: str) -> GenerationStats:
            return GenerationStats(
                prompt_tokens=int(usage.get("prompt_tokens") or estimate_tokens(messages)),
                cached_tokens=0,
                completion_tokens=int(usage.get("completion_tokens") or n_chunks),
                ttft_s=(first - t0) if first else 0.0,
                decode_s=(last - first) if first else 0.0,
                total_s=time.perf_counter() - t0,
                backend="remote",
                stop_reason=reason,
            )

        def stopped() -> Cancelled:
            return Cancelled(partial=Completion("".join(pieces), stats("cancelled")))

        try:
            try:
                conn.request("POST", self.address.base_path + "/v1/chat/completions", payload, headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if cancel.cancelled:
                    raise stopped() from None
                raise self._unreachable(exc) from exc
            if resp.status != 200:
                raise self._refused(resp.status, resp.read())
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    if cancel.cancelled:
                        raise stopped() from None
                    raise self._unreachable(exc, streamed=bool(pieces)) from exc
                if cancel.cancelled:
                    raise stopped()
                if not line:  # the connection ended without [DONE]
                    raise self._unreachable(ConnectionResetError("no end of answer"), streamed=bool(pieces))
                text = line.decode("utf-8", "replace").strip()
                if not text.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event names
                data = text[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if isinstance(chunk.get("error"), dict | str):
                    err = chunk["error"]
                    message = err.get("message", "") if isinstance(err, dict) else err
                    raise ServerRefused(f"The model server stopped this answer: {message[:200]}")
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        now = time.perf_counter()
                        first = first or now
                        last = now
                        n_chunks += 1
                        pieces.append(content)
                        yield Token(content)
                    if choice.get("finish_reason"):
                        stop_reason = "stop" if choice["finish_reason"] == "stop" else "length"
            return Completion("".join(pieces), stats(stop_reason))
        finally:
            self._drop_connection()


def _shut(conn: http.client.HTTPConnection) -> None:
    """End a connection's socket now, from any thread: a blocked read returns at once."""
    sock = conn.sock
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

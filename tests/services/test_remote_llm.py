"""The model-server client against a small scripted OpenAI-compatible server on loopback (fast; the
real `llama_cpp.server` is in tests/e2e/test_remote_model.py): streaming, stats, token, cancel,
timeouts, a server that dies, TLS verification, no name lookup, and the fallback to the local model."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError, Cancelled
from desktop.core.events import Event, Notice, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.policy import parse_server_url
from desktop.core.types import ChatMessage, Completion, GenerationStats
from desktop.services.remote_llm import RemoteRuntime, ServerRefused, ServerUnavailable
from desktop.services.runtime import ServerFirstRuntime

QUESTION = [ChatMessage("system", "Be brief."), ChatMessage("user", "What is a lighthouse?")]
WORDS = ["A", " lighthouse", " guides", " ships", "."]


class Script:
    """What the scripted server does: words, a delay between them, death after n words."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.die_after: int | None = None
        self.first_delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            script.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
            self._json(200, {"object": "list", "data": [{"id": "team-model", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if script.status != 200:
                self._json(script.status, {"error": {"message": "bad token"}})
                return
            time.sleep(script.first_delay)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for i, word in enumerate(WORDS):
                    if script.die_after is not None and i >= script.die_after:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(script.delay)
                end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            except OSError:
                pass  # the client hung up (a cancel)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def ask(rt: Any, cancel: CancelToken | None = None) -> tuple[Completion, list[Event]]:
    events: list[Event] = []
    params = GenerationParams(max_tokens=32, seed=3, stop=("</s>",))
    result = run_job(lambda c: rt.stream_chat(QUESTION, params, c), events.append, cancel)
    return result, events


def test_streams_the_answer_with_stats_and_sends_messages_and_the_token(server: tuple[str, Script]) -> None:
    url, script = server
    rt = RemoteRuntime(parse_server_url(url + "/v1"), token="s3cret", n_ctx=2048)
    info = rt.start()
    assert info.backend == "remote" and info.n_ctx == 2048 and rt.model == "team-model"
    done, events = ask(rt)
    assert [e.text for e in events if isinstance(e, Token)] == WORDS
    assert done.text == "".join(WORDS)
    assert done.stats.backend == "remote" and done.stats.completion_tokens == len(WORDS)
    assert done.stats.stop_reason == "stop" and 0 < done.stats.ttft_s < done.stats.total_s
    sent = script.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["stream"] is True
    assert sent["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]  # not a prompt
    assert sent["model"] == "team-model" and sent["seed"] == 3 and sent["stop"] == ["</s>"]
    assert all(r["auth"] == "Bearer s3cret" for r in script.requests)


def test_tokens_per_second_is_measured_between_first_and_last_word(server: tuple[str, Script]) -> None:
    url, script = server
    script.delay = 0.05
    done, _ = ask(RemoteRuntime(parse_server_url(url)))
    assert done.stats.decode_s >= 0.05 * (len(WORDS) - 2)
    assert 0 < done.stats.tokens_per_s < 1 / 0.04


def test_cancel_closes_the_connection_at_once(server: tuple[str, Script]) -> None:
    url, script = server
    script.first_delay = 10.0  # the server is "reading the prompt"
    rt = RemoteRuntime(parse_server_url(url))
    rt.start()
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled) as stopped:
        ask(rt, cancel)
    assert time.perf_counter() - t0 < 2.0
    partial = stopped.value.partial
    assert isinstance(partial, Completion) and partial.stats.stop_reason == "cancelled"


def test_a_server_that_does_not_answer_in_time_times_out(server: tuple[str, Script]) -> None:
    url, script = server
    script.first_delay = 3.0
    rt = RemoteRuntime(parse_server_url(url), timeout_s=0.5)
    rt.start()
    t0 = time.perf_counter()
    with pytest.raises(ServerUnavailable, match=r"did not answer within 0\.5 s") as err:
        ask(rt)
    assert not err.value.streamed and time.perf_counter() - t0 < 2.5


def test_a_server_that_dies_mid_answer_says_so(server: tuple[str, Script]) -> None:
    url, script = server
    script.die_after = 2
    with pytest.raises(ServerUnavailable, match="stopped in the middle of this answer") as err:
        ask(RemoteRuntime(parse_server_url(url)))
    assert err.value.streamed


def test_no_server_running_is_clear() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ServerUnavailable, match="not running"):
        RemoteRuntime(parse_server_url(f"http://127.0.0.1:{port}")).start()


def test_a_refused_token_is_named(server: tuple[str, Script]) -> None:
    url, script = server
    script.status = 401
    rt = RemoteRuntime(parse_server_url(url), token="wrong")
    rt.start()
    with pytest.raises(ServerRefused, match="refused Hearth's token") as err:
        ask(rt)
    assert "hearth settings token" in err.value.hint


_LOOKUPS: list[str] = []
_WATCH = threading.Event()


def _watch_lookups(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH.is_set() and event in ("socket.getaddrinfo", "socket.gethostbyname"):
        _LOOKUPS.append(str(args[0]))


sys.addaudithook(_watch_lookups)


def test_a_loopback_name_is_connected_to_without_a_lookup(server: tuple[str, Script]) -> None:
    url, _ = server
    assert url.startswith("http://localhost:")
    _LOOKUPS.clear()
    _WATCH.set()
    try:
        ask(RemoteRuntime(parse_server_url(url)))
    finally:
        _WATCH.clear()
    assert _LOOKUPS == []


def test_tls_is_verified(tmp_path: Path) -> None:
    """An https server whose certificate the system does not trust gets nothing: not even the request."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip("openssl could not make a certificate")
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        rt = RemoteRuntime(parse_server_url(f"https://localhost:{httpd.server_address[1]}"), token="s3cret")
        with pytest.raises(ServerUnavailable, match="certificate that cannot be verified"):
            rt.start()
        assert script.requests == []
    finally:
        httpd.shutdown()
        httpd.server_close()


class FakeLocal:
    """The local runtime's interface, answering instantly (the real one is in the e2e test)."""

    info = None
    alive = True
    pid = 1
    restarts = 0
    n_params = 135_000_000

    def __init__(self) -> None:
        self.answered = 0

    def start(self) -> Any:
        from desktop.services.llm import RuntimeInfo

        return RuntimeInfo("local.gguf", "cpu", 2048, 0, 1, 1, True, 0.1, 1)

    def close(self) -> None:
        pass

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return 10

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        self.answered += 1
        yield Token("local answer")
        return Completion("local answer", GenerationStats(completion_tokens=2, backend="cpu"))


def test_an_unreachable_server_falls_back_to_the_local_model_with_a_notice() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    local = FakeLocal()
    rt = ServerFirstRuntime(RemoteRuntime(parse_server_url(f"http://127.0.0.1:{port}")), local)  # type: ignore[arg-type]
    done, events = ask(rt)
    assert done.text == "local answer" and local.answered == 1
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "not running" in notices[0] and "model on this computer" in notices[0]
    done, events = ask(rt)  # the next answer goes straight to the local model, without a wait
    assert done.text == "local answer" and not [e for e in events if isinstance(e, Notice)]


def test_a_server_lost_mid_answer_ends_that_answer_clearly_then_the_local_model_answers(
    server: tuple[str, Script],
) -> None:
    url, script = server
    local = FakeLocal()
    clock = [0.0]
    rt = ServerFirstRuntime(RemoteRuntime(parse_server_url(url)), local, retry_s=60, clock=lambda: clock[0])  # type: ignore[arg-type]
    done, _ = ask(rt)
    assert done.stats.backend == "remote"
    script.die_after = 2
    with pytest.raises(AppError, match="stopped in the middle") as err:
        ask(rt)
    assert "model on this computer" in err.value.hint
    done, events = ask(rt)
    assert done.text == "local answer"
    script.die_after = None
    clock[0] = 61.0  # a minute later the server is tried again, and answers
    done, events = ask(rt)
    assert done.stats.backend == "remote"
    assert any("answers again" in e.message for e in events if isinstance(e, Notice))

"""The chat engine on the real bundled model: streaming, cancel, long history, prefix reuse, crashes."""

from __future__ import annotations

import os
import signal
import time

import pytest

from desktop.core.chat import ChatRequest, GenerationParams, chat_job
from desktop.core.errors import Cancelled, ContextOverflow, ModelCrashed, ModelFileError
from desktop.core.events import Notice, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.types import ChatMessage, RuntimePlan
from desktop.services.llm import LlamaRuntime

pytestmark = pytest.mark.slow

SYSTEM = ChatMessage("system", "You are a helpful assistant.")


def ask(rt, messages, max_tokens=48, cancel=None, on_event=None):  # type: ignore[no-untyped-def]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0, seed=7)
    return run_job(chat_job(rt, ChatRequest(tuple(messages), params)), on_event, cancel)


def test_answer_streams_token_by_token(runtime) -> None:  # type: ignore[no-untyped-def]
    tokens: list[str] = []
    result = ask(
        runtime,
        [SYSTEM, ChatMessage("user", "Name three fruits.")],
        on_event=lambda e: tokens.append(e.text) if isinstance(e, Token) else None,
    )
    assert len(tokens) > 3, "the answer came in one piece, not streamed"
    assert "".join(tokens) == result.text
    assert result.text.strip()
    stats = result.stats
    assert stats.completion_tokens >= len(tokens)
    assert stats.prompt_tokens > 5 and stats.ttft_s > 0 and stats.tokens_per_s > 0
    assert stats.backend == "cpu"


def test_cancel_stops_within_one_token(runtime) -> None:  # type: ignore[no-untyped-def]
    cancel = CancelToken()
    seen: list[str] = []
    stopped_at: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, Token):
            seen.append(event.text)
            if len(seen) == 3:
                stopped_at.append(time.perf_counter())
                cancel.cancel()

    with pytest.raises(Cancelled) as stop:
        ask(
            runtime,
            [SYSTEM, ChatMessage("user", "Write a long story about a dragon.")],
            max_tokens=400,
            cancel=cancel,
            on_event=on_event,
        )
    latency = time.perf_counter() - stopped_at[0]
    assert len(seen) == 3, "tokens kept arriving after the stop"
    partial = stop.value.partial
    # The child checks the stop after every token: at most the one in flight is generated extra.
    assert partial.stats.completion_tokens <= 3 + 2, partial.stats
    assert partial.stats.stop_reason == "cancelled"
    assert latency < 1.0
    # The runtime is still usable afterwards.
    again = ask(runtime, [SYSTEM, ChatMessage("user", "Say hello.")], max_tokens=8)
    assert again.stats.completion_tokens > 0


def test_history_far_beyond_the_context_is_trimmed_not_a_crash(runtime) -> None:  # type: ignore[no-untyped-def]
    messages = [SYSTEM]
    filler = "The quick brown fox jumps over the lazy dog. " * 12
    for i in range(60):  # ~60 * 2 * 120 tokens ≫ 2048
        messages.append(ChatMessage("user", f"Turn {i}: {filler}"))
        messages.append(ChatMessage("assistant", f"Noted {i}."))
    messages.append(ChatMessage("user", "What is the capital of France?"))
    assert runtime.count_tokens(messages) > 4 * runtime.n_ctx
    notices: list[Notice] = []
    result = ask(
        runtime,
        messages,
        max_tokens=16,
        on_event=lambda e: notices.append(e) if isinstance(e, Notice) else None,
    )
    assert result.stats.prompt_tokens <= runtime.n_ctx
    assert any("left out" in n.message for n in notices)


def test_one_message_longer_than_the_window_is_a_clear_error(runtime) -> None:  # type: ignore[no-untyped-def]
    huge = "word " * (runtime.n_ctx * 2)
    with pytest.raises(ContextOverflow) as err:
        ask(runtime, [SYSTEM, ChatMessage("user", huge)])
    assert "too long" in err.value.user_message and err.value.hint


def test_second_turn_reuses_the_shared_prefix(runtime) -> None:  # type: ignore[no-untyped-def]
    context = "Here are my notes: " + " ".join(f"item {i} is number {i * 7}." for i in range(120))
    first_msgs = [SYSTEM, ChatMessage("user", context + "\nWhat is item 3?")]
    first = ask(runtime, first_msgs, max_tokens=12)
    second_msgs = [*first_msgs, ChatMessage("assistant", first.text), ChatMessage("user", "And item 4?")]
    second = ask(runtime, second_msgs, max_tokens=12)
    assert first.stats.prompt_tokens > 500
    # Almost all of the second prompt was already in the KV cache.
    assert second.stats.cached_tokens >= first.stats.prompt_tokens - 2
    assert second.stats.ttft_s < 0.5 * first.stats.ttft_s, (first.stats, second.stats)


def test_killing_the_runtime_mid_answer_is_reported_and_recovered(model_path) -> None:  # type: ignore[no-untyped-def]
    plan = RuntimePlan("cpu", 0, 1, 1, 1024, 512, "fits", "test")
    with LlamaRuntime(model_path, plan) as rt:
        rt.start()
        first_pid = rt.pid
        messages = [SYSTEM, ChatMessage("user", "Write a long story about a lighthouse.")]
        count = 0

        def on_event(event: object) -> None:
            nonlocal count
            if isinstance(event, Token):
                count += 1
                if count == 2:
                    os.kill(first_pid, signal.SIGKILL)

        with pytest.raises(ModelCrashed) as crash:
            ask(rt, messages, max_tokens=400, on_event=on_event)
        assert "stopped unexpectedly" in crash.value.user_message
        # The next request starts a fresh runtime and answers.
        result = ask(rt, [SYSTEM, ChatMessage("user", "Say hi.")], max_tokens=8)
        assert result.stats.completion_tokens > 0
        assert rt.pid != first_pid
        assert rt.restarts == 1


def test_a_file_that_is_not_a_model_gives_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "notes.gguf"
    bogus.write_bytes(b"GGUF" + b"\x00" * 64)
    plan = RuntimePlan("cpu", 0, 1, 1, 512, 512, "fits", "test")
    with LlamaRuntime(bogus, plan) as rt, pytest.raises(ModelFileError) as err:
        rt.start()
    assert err.value.hint


def test_a_failed_gpu_load_falls_back_to_cpu_and_says_why(model_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEARTH_FAULT_GPU_LOAD", "1")  # the child inherits it
    plan = RuntimePlan("cuda", 31, 1, 1, 512, 512, "fits", "test: all layers on the GPU")
    with LlamaRuntime(model_path, plan) as rt:
        info = rt.start()
        assert info.backend == "cpu" and info.n_gpu_layers == 0
        notices: list[Notice] = []
        result = ask(
            rt,
            [SYSTEM, ChatMessage("user", "Hi")],
            max_tokens=4,
            on_event=lambda e: notices.append(e) if isinstance(e, Notice) else None,
        )
        assert result.stats.backend == "cpu"
        assert any("GPU failed" in n.message and "CPU" in n.message for n in notices)


def test_the_runtime_reports_the_models_size(runtime) -> None:  # type: ignore[no-untyped-def]
    assert 100e6 < runtime.n_params < 200e6  # SmolLM2-135M

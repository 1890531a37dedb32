"""The engine survives a native kernel crash (the AMX case) by fault injection, on any CPU.

HEARTH_FAULT_KERNEL_CRASH makes the model child SIGSEGV on its first multi-token decode, as
llama.cpp's AMX kernels do on a virtualized Sapphire Rapids Xeon. The real bundled model runs;
only the crash is injected.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from desktop.core.chat import ChatRequest, GenerationParams, chat_job
from desktop.core.errors import ModelCrashed
from desktop.core.events import Notice
from desktop.core.jobs import run_job
from desktop.core.types import ChatMessage
from desktop.services import kernels
from desktop.services.llm import LlamaRuntime

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage("user", "Name one colour of the sky.")]
PARAMS = GenerationParams(max_tokens=12, temperature=0.0, seed=1)


def answer(rt: LlamaRuntime) -> tuple[str, list[Notice]]:
    notices: list[Notice] = []
    result = run_job(
        chat_job(rt, ChatRequest(tuple(QUESTION), PARAMS)),
        lambda e: notices.append(e) if isinstance(e, Notice) else None,
    )
    return result.text, notices


def memory_of(data_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((data_dir / kernels.FILE_NAME).read_text())


def test_crash_at_load_falls_back_to_portable_kernels_and_remembers(
    model_path, cpu_plan, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEARTH_FAULT_KERNEL_CRASH", "load")  # the child inherits it
    with LlamaRuntime(model_path, cpu_plan, load_timeout_s=60) as rt:
        info = rt.start()
        assert info.kernels == "portable"
        assert info.crashes == ("default: SIGSEGV while loading",)
        text, notices = answer(rt)
        assert text.strip(), "the fallback runtime did not answer"
        said = " ".join(n.message for n in notices)
        assert "crashed (SIGSEGV)" in said and "portable kernels" in said, said
    entry = next(iter(memory_of(data_dir).values()))
    assert entry["rung"] == "portable" and entry["works"] is True
    assert entry["crashed"]["default"]["signal"] == "SIGSEGV"

    # The next start goes straight to the rung that works: no crash, no notice, and quick.
    t0 = time.perf_counter()
    with LlamaRuntime(model_path, cpu_plan, load_timeout_s=60) as rt:
        info = rt.start()
        assert info.kernels == "portable" and info.crashes == ()
        assert not any("crashed" in n for n in info.notices)
        assert answer(rt)[0].strip()
    assert time.perf_counter() - t0 < 30


@pytest.fixture(scope="session")
def default_rung_works(tmp_path_factory: pytest.TempPathFactory, model_path) -> bool:  # type: ignore[no-untyped-def]
    """Whether this CPU runs the default kernels at all. On some (a virtualized AMX Xeon measured
    here, where raw llama-cpp-python dies with SIGILL on a batched prompt) it faults for real, and
    Hearth starts on the portable rung after one crash; there, no fault can be injected on it."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys\nfrom desktop.services.llm import LlamaRuntime\n"
        "from desktop.core.types import RuntimePlan\n"
        "plan = RuntimePlan('cpu', 0, 1, 1, 512, 64, 'fits', 'probe')\n"
        "rt = LlamaRuntime(sys.argv[1], plan, load_timeout_s=60)\n"
        "print('RUNG', rt.start().kernels); rt.close()\n"
    )
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path_factory.mktemp("probe"))}
    env.pop("HEARTH_FAULT_KERNEL_CRASH", None)
    out = subprocess.run(
        [sys.executable, "-c", probe, str(model_path)], capture_output=True, text=True, env=env, timeout=120
    )
    return "RUNG default" in out.stdout


def test_crash_reading_the_first_prompt_retries_the_request_once(
    model_path, cpu_plan, data_dir: Path, monkeypatch: pytest.MonkeyPatch, default_rung_works: bool
) -> None:  # type: ignore[no-untyped-def]
    if not default_rung_works:
        pytest.skip("this CPU faults on the default kernels for real: nothing to inject there")
    monkeypatch.setenv("HEARTH_FAULT_KERNEL_CRASH", "request")  # the load-time check passes
    with LlamaRuntime(model_path, cpu_plan, load_timeout_s=60) as rt:
        assert rt.start().kernels == "default"
        text, notices = answer(rt)  # crashes in prefill, restarts on portable kernels, answers
        assert text.strip()
        assert rt.info is not None and rt.info.kernels == "portable"
        assert any("portable kernels" in n.message for n in notices)
    assert next(iter(memory_of(data_dir).values()))["crashed"]["default"]["where"] == "prompt"


def test_a_crash_on_every_rung_stops_with_the_plan_the_signal_and_a_hint(
    model_path, cpu_plan, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEARTH_FAULT_KERNEL_CRASH", "always")
    t0 = time.perf_counter()
    with LlamaRuntime(model_path, cpu_plan, load_timeout_s=60) as rt:
        with pytest.raises(ModelCrashed) as failed:
            rt.start()
        err = failed.value
        assert "SIGSEGV" in err.user_message and "every setting" in err.user_message
        assert err.hint and "doctor --selftest" in err.hint
        assert "plan: backend cpu" in err.detail and "tried: default" in err.detail
        assert "safe: SIGSEGV" in err.detail
        # No loop: asking again fails the same way at once, from the remembered state.
        with pytest.raises(ModelCrashed):
            rt.start()
    assert time.perf_counter() - t0 < 60


def test_a_crash_after_the_answer_started_is_not_blamed_on_the_kernels(
    model_path, cpu_plan, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Killing the runtime mid-answer is the old 'model stopped unexpectedly', with no fallback."""
    import os
    import signal

    from desktop.core.events import Token

    with LlamaRuntime(model_path, cpu_plan, load_timeout_s=60) as rt:
        first = rt.start().kernels  # "default", or below it on a CPU whose kernels fault
        pid = rt.pid
        assert pid is not None

        def kill_on_first_token(event: object) -> None:
            if isinstance(event, Token):
                os.kill(pid, signal.SIGSEGV)

        with pytest.raises(ModelCrashed) as stopped:
            run_job(
                chat_job(rt, ChatRequest(tuple(QUESTION), GenerationParams(max_tokens=200, seed=1))),
                kill_on_first_token,
            )
        assert stopped.value.user_message == "The model stopped unexpectedly."
        assert "SIGSEGV" in stopped.value.detail
        assert rt.start().kernels == first  # not moved down a rung by this crash


def test_rungs_and_signal_names() -> None:
    assert kernels.next_rung("default") == "portable"
    assert kernels.next_rung("portable") == "safe"
    assert kernels.next_rung("safe") is None
    assert kernels.signal_name(-11) == "SIGSEGV" and kernels.signal_name(3) == "exit 3"
    assert kernels.is_kernel_crash(-11) and kernels.is_kernel_crash(-4)
    assert not kernels.is_kernel_crash(-9), "the OOM killer is not a kernel fault"
    assert not kernels.is_kernel_crash(1) and not kernels.is_kernel_crash(None)


def test_memory_survives_a_damaged_file_and_a_read_only_dir(tmp_path: Path) -> None:
    path = tmp_path / kernels.FILE_NAME
    path.write_text("{not json")
    memory = kernels.KernelMemory(path)
    assert memory.rung_for("k") == "default"
    assert memory.record_crash("k", "default", -11, "load") == "portable"
    assert memory.rung_for("k") == "portable"
    memory.record_working("k", "portable", "/m.gguf", 123.4)
    assert memory.get("k")["works"] is True  # type: ignore[index]
    ro = kernels.KernelMemory(tmp_path / "missing-dir" / kernels.FILE_NAME)
    ro.record_working("k", "default", "/m.gguf", 1.0)  # cannot write: logged, not raised
    assert ro.rung_for("k") == "default"


def test_key_changes_with_the_model_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"x" * 10)
    b.write_bytes(b"x" * 11)
    assert kernels.key_for(a) != kernels.key_for(b)
    assert kernels.key_for(a) == kernels.key_for(a)

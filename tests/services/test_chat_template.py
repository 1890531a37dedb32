"""Hostile chat templates: refused in bounded time and memory, at import and at load; the model chats."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.services import chat_template
from tests.procs import communicate_within, read_until

ESCAPE = (
    "{{ cycler.__init__.__globals__.os.popen('touch /tmp/hearth-pwned').read() }}"
    "{% for m in messages %}{{ m['content'] }}{% endfor %}"
)
LOOP = (
    "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
    "{% for m in messages %}{{ m['content'] }}{% endfor %}"
)
BUSY = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
MEMORY = "{% set s = 'abcdefgh' * 10000000 %}{% for i in range(60) %}{{ s }}{% endfor %}"
GEMMA_LIKE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
)


def test_an_ordinary_template_passes_fast() -> None:
    t0 = time.perf_counter()
    assert chat_template.check(chat_template.FALLBACK_TEMPLATE) == (True, "")
    assert time.perf_counter() - t0 < 1


def test_a_sandbox_escape_is_refused_and_runs_nothing() -> None:
    ok, reason = chat_template.check(ESCAPE)
    assert not ok and "outside its sandbox" in reason
    assert not Path("/tmp/hearth-pwned").exists()


def test_a_runaway_loop_is_stopped_by_the_time_limit() -> None:
    t0 = time.perf_counter()
    ok, reason = chat_template.check(BUSY)
    assert not ok and "more than 2 s" in reason
    assert time.perf_counter() - t0 < chat_template.RENDER_TIMEOUT_S + 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced on Linux")
def test_a_memory_bomb_is_stopped_by_the_memory_limit() -> None:
    ok, reason = chat_template.check(MEMORY)
    assert not ok and ("MB of memory" in reason or "more than 2 s" in reason), reason


def test_a_template_without_a_system_role_is_accepted() -> None:
    assert chat_template.check(GEMMA_LIKE) == (True, "")


# ----------------------------------------------------------------------------- real model, real files


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with a runaway-loop chat template, written with the gguf package's tool."""
    from desktop.services.paths import default_model_path

    folder = tmp_path_factory.mktemp("hostile")
    tpl = folder / "loop.jinja"
    tpl.write_text(LOOP)
    out = folder / "loop.gguf"
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(default_model_path()), str(out),
         "--chat-template-file", str(tpl), "--force"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.mark.slow
def test_import_refuses_the_template_and_says_so(
    hostile_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    t0 = time.perf_counter()
    assert main(["models", "import", str(hostile_model)]) == 0
    out = capsys.readouterr().out
    assert "chat template was refused (it ran for more than 2 s)" in out or (
        "chat template was refused (it needed more than 256 MB" in out
    )
    assert time.perf_counter() - t0 < 60


@pytest.mark.slow
def test_the_model_still_chats_with_the_generic_format(hostile_model: Path, cpu_plan) -> None:  # type: ignore[no-untyped-def]
    from desktop.core.chat import ChatRequest, GenerationParams, chat_job
    from desktop.core.events import Notice
    from desktop.core.jobs import run_job
    from desktop.core.types import ChatMessage
    from desktop.services.llm import LlamaRuntime

    t0 = time.perf_counter()
    notices: list[str] = []
    with LlamaRuntime(hostile_model, cpu_plan, load_timeout_s=60) as rt:
        info = rt.start()
        assert not info.has_chat_template
        result = run_job(
            chat_job(rt, ChatRequest((ChatMessage("user", "Say hi."),), GenerationParams(max_tokens=8))),
            lambda e: notices.append(e.message) if isinstance(e, Notice) else None,
        )
    assert result.text.strip()
    assert any("chat template was refused" in n for n in notices)
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow
def test_the_model_child_dies_with_its_parent(model_path: Path, tmp_path: Path) -> None:
    """kill -9 of Hearth must not leave the model child running (it could be mid-render or decode)."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from desktop.core.types import RuntimePlan\n"
        "from desktop.services.llm import LlamaRuntime\n"
        "rt = LlamaRuntime(sys.argv[1], RuntimePlan('cpu', 0, 1, 1, 512, 512, 'fits', 'test'))\n"
        "print(rt.start().pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, str(script), str(model_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert parent.stdout is not None
    child = int(read_until(parent, lambda seen: b"\n" in seen, timeout=60).split()[0])
    os.kill(parent.pid, signal.SIGKILL)
    communicate_within(parent, timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        stat = Path(f"/proc/{child}/stat")
        if stat.is_file() and stat.read_text().rsplit(") ", 1)[1].startswith("Z"):
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the model child outlived its parent")

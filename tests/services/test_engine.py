"""The engine's CPU kernels: a portable build (runtime CPU dispatch) loads the right variant.

Works on both kinds of llama-cpp-python build: one with linked-in kernels (load_cpu_backends
returns "builtin") and the portable one from packaging/build_engine.sh (GGML_BACKEND_DL: the
variants lie in llama_cpp/lib and a model loads only after load_cpu_backends). Backends load once
per process, so every real load runs in a fresh interpreter, as the model child does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.services import engine

REPO = Path(__file__).resolve().parents[2]
DL = engine.is_dl_build()
dl_only = pytest.mark.skipif(not DL, reason="the installed engine has linked-in kernels (no GGML_BACKEND_DL)")

CHILD = """
import json, sys
from desktop.services.engine import load_cpu_backends
variant = sys.argv[2] or None
first = load_cpu_backends(variant)
again = load_cpu_backends()
out = {"loaded": first, "again": again}
import llama_cpp
if sys.argv[1]:
    # Without extra buffer types (AMX, repacked weights), as Hearth's portable rung runs: on a
    # virtualized AMX Xeon the default ones fault (SIGILL) in any process, Hearth's or not.
    from desktop.services.llm import _build_llama
    kwargs = dict(model_path=sys.argv[1], n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)
    llm = _build_llama(llama_cpp, kwargs, extra_bufts=False)
    done = llm.create_completion("The capital of France is", max_tokens=8, temperature=0.0)
    out["text"] = done["choices"][0]["text"]
out["system_info"] = llama_cpp.llama_print_system_info().decode()
print("RESULT " + json.dumps(out))
"""


def in_child(model: Path | None, variant: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(model or ""), variant or ""],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, str] = json.loads(line[len("RESULT ") :])
    return result


def test_build_info_describes_the_installed_engine() -> None:
    info = engine.engine_build_info()
    assert info["backend_dl"] is DL
    assert Path(info["lib_dir"]).is_dir()
    assert "CPU" in info["system_info"] or DL  # a DL build reports its CPU features only once loaded
    if DL:
        for name in info["cpu_variants"]:
            assert (Path(info["lib_dir"]) / f"libggml-cpu-{name}.so").is_file()
    else:
        assert info["cpu_variants"] == []


@pytest.mark.skipif(DL, reason="the installed engine is a runtime-dispatch build")
def test_builtin_engine_needs_nothing_loaded() -> None:
    out = in_child(None, "haswell")
    assert out["loaded"] == out["again"] == "builtin"


@dl_only
@pytest.mark.slow
def test_dl_engine_loads_the_best_variant_then_a_model(model_path: Path) -> None:
    variants = engine.cpu_variants()
    if sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "AMD64"):
        assert {"x64", "haswell", "skylakex", "sapphirerapids"} <= set(variants)
    best, score = engine.choose_cpu_variant()
    out = in_child(model_path)
    assert out["loaded"].startswith(f"cpu-{best} (score {score})"), out
    assert out["again"] == out["loaded"]  # idempotent
    assert out["text"].strip(), out
    assert "CPU :" in out["system_info"]


@dl_only
@pytest.mark.slow
def test_dl_engine_runs_the_baseline_and_a_named_variant(model_path: Path) -> None:
    out = in_child(model_path, "baseline")
    chosen = out["loaded"].split()[0].removeprefix("cpu-")
    assert chosen in engine.BASELINE_VARIANTS or os.uname().machine != "x86_64", out
    assert "AVX512 = 1" not in out["system_info"] and "AMX" not in out["system_info"], out
    assert out["text"].strip(), out
    if "x64" in engine.cpu_variants():
        plain = in_child(model_path, "x64")
        assert plain["loaded"].startswith("cpu-x64"), plain
        assert "AVX2 = 1" not in plain["system_info"], plain
        assert plain["text"].strip(), plain


@dl_only
def test_dl_engine_refuses_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="unknown CPU variant"):
        engine.choose_cpu_variant("pentium4")


def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scores: dict[str, int]) -> Path:
    for name in scores:
        (tmp_path / f"libggml-cpu-{name}.so").write_bytes(b"")
    monkeypatch.setattr(engine, "_score", lambda path: scores[path.name[len("libggml-cpu-") : -3]])
    return tmp_path


def test_choice_rules_on_a_cpu_with_amx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = fake_engine(tmp_path, monkeypatch, {"x64": 1, "sse42": 5, "haswell": 60, "sapphirerapids": 200})
    assert engine.choose_cpu_variant(None, lib) == ("sapphirerapids", 200)
    assert engine.choose_cpu_variant("baseline", lib) == ("haswell", 60)
    assert engine.choose_cpu_variant("x64", lib) == ("x64", 1)


def test_choice_rules_on_an_old_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = fake_engine(tmp_path, monkeypatch, {"x64": 1, "sse42": 5, "haswell": 0, "skylakex": 0})
    assert engine.choose_cpu_variant(None, lib) == ("sse42", 5)
    assert engine.choose_cpu_variant("baseline", lib) == ("sse42", 5)
    with pytest.raises(ValueError, match="cannot run"):
        engine.choose_cpu_variant("haswell", lib)


def test_choice_rules_when_nothing_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = fake_engine(tmp_path, monkeypatch, {"haswell": 0})
    with pytest.raises(RuntimeError, match="no CPU variant"):
        engine.choose_cpu_variant(None, lib)
    assert engine.is_dl_build(lib)
    assert not engine.is_dl_build(tmp_path / "missing")


def test_choice_rules_off_x86(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = fake_engine(tmp_path, monkeypatch, {"armv8.0_1": 1, "armv8.2_1": 4, "armv9.2_2": 0})
    assert engine.choose_cpu_variant(None, lib) == ("armv8.2_1", 4)
    assert engine.choose_cpu_variant("baseline", lib) == ("armv8.0_1", 1)

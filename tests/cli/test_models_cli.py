"""`hearth models …` run in-process: output, JSON, exit codes, and clear messages for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from tests.services.test_models import write_gguf


def test_list_shows_the_bundled_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "SmolLM2-135M-Instruct.Q4_1" in out and "bundled" in out and "Q4_1" in out and "fits" in out


def test_list_json_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    bundled = next(e for e in data if e["source"] == "bundled")
    assert bundled["info"]["architecture"] == "llama" and bundled["fit"] == "fits"


def test_info_prints_everything_and_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "info", "SmolLM2-135M-Instruct.Q4_1"]) == 0
    out = capsys.readouterr().out
    for field in ("Architecture", "llama", "Parameters", "135M", "Q4_1", "8,192 tokens", "Layers", "30"):
        assert field in out
    assert "Chat template          yes" in out
    assert "Memory at 8192 tokens" in out and "Fit on this computer   fits" in out
    assert "Plan" in out and "CPU" in out


def test_info_json_with_hash_and_context(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import hashlib

    p = write_gguf(tmp_path / "tiny.gguf")
    assert main(["models", "info", str(p), "--json", "--hash", "--context", "128"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert data["has_chat_template"] is True and "chat_template" not in data
    assert data["plan"]["n_ctx"] >= 128 and data["plan"]["memory"]["total"] > 0


def test_import_then_remove(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = write_gguf(tmp_path / "mini.gguf")
    assert main(["models", "import", str(p)]) == 0
    assert "Imported mini" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    assert "mini" in {e["name"] for e in json.loads(capsys.readouterr().out)}
    assert main(["models", "remove", "mini"]) == 0
    capsys.readouterr()
    assert main(["models", "remove", "mini"]) == 1
    assert "no imported model called 'mini'" in capsys.readouterr().err


def test_a_bad_file_gives_a_message_and_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("<html>not found</html>")
    assert main(["models", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "hearth: model.gguf is a web page" in err and "GGUF" in err
    assert main(["models", "info", str(tmp_path / "missing.gguf")]) == 1
    assert "There is no file at" in capsys.readouterr().err


def test_removing_the_bundled_model_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "remove", "SmolLM2-135M-Instruct.Q4_1"]) == 1
    assert "bundled model cannot be removed" in capsys.readouterr().err


def test_models_without_an_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 2
    assert "import" in capsys.readouterr().out


ESCAPES = "\x1b[2J\x1b]0;PWNED\x07\x1b[?1049h"


def test_metadata_and_file_names_cannot_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gguf
    import numpy as np

    path = tmp_path / f"evil{ESCAPES}\nname.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"Friendly{ESCAPES}")
    w.add_license(f"MIT{ESCAPES}")
    w.add_context_length(256)
    w.add_block_count(2)
    w.add_embedding_length(16)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tensor("token_embd.weight", np.zeros((4, 16), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    assert main(["models", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "MIT\\x1b[2J\\x1b]0;PWNED\\x07" in out and "Friendly\\x1b[2J" in out
    assert "evil\\x1b[2J" in out and "\\nname.gguf" in out, "the file name stays on its row"
    assert main(["models", "info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["license"] == f"MIT{ESCAPES}", "JSON keeps the exact value, escaped by JSON itself"


def test_an_error_naming_a_hostile_file_is_shown_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / f"x{ESCAPES}.gguf"
    bad.write_bytes(b"not a model at all")
    assert main(["models", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b" in err


def test_importing_a_pipe_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.procs import communicate_within

    os.mkfifo(tmp_path / "m.gguf")
    (tmp_path / "zeros.gguf").symlink_to("/dev/zero")
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path / "data")}
    for name, kind in (("m.gguf", "named pipe"), ("zeros.gguf", "device")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "desktop", "models", "import", str(tmp_path / name)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
        )
        _out, err = communicate_within(proc, timeout=60)
        assert proc.returncode == 1
        assert f"is a {kind}" in err.decode() and "not a model file" in err.decode()


def test_a_model_of_an_architecture_this_engine_does_not_know_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import version

    from desktop.core.errors import ModelFileError
    from desktop.core.types import RuntimePlan
    from desktop.services.llm import LlamaRuntime
    from tests.ggufs import BY_NAME, write_family_gguf

    alien = write_family_gguf(BY_NAME["llama3"], tmp_path / "alien.gguf", arch="notarealarch")
    build = f"llama-cpp-python {version('llama-cpp-python')}"
    assert main(["models", "import", str(alien)]) == 1
    err = capsys.readouterr().err
    assert "alien.gguf is a 'notarealarch' model" in err and build in err, err
    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(tmp_path))
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "alien" in line)
    assert "unusable" in row and "'notarealarch'" in row
    # The runtime says the same when it is handed the file directly (a path in settings.json).
    plan = RuntimePlan("cpu", 0, 1, 1, 512, 512, "fits", "tests")
    with LlamaRuntime(alien, plan, load_timeout_s=60) as rt, pytest.raises(ModelFileError) as failed:
        rt.start()
    assert "'notarealarch'" in failed.value.user_message and build in failed.value.user_message


def test_a_warm_models_list_loads_no_engine_reader_or_heavy_library(tmp_path: Path) -> None:
    """`hearth models list` stays quick (bench/models_list.py: 10 GGUFs, under 0.2 s warm): once the
    headers are cached it imports neither llama_cpp nor numpy/gguf, nor the document readers."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    for n in range(3):
        write_gguf(tmp_path / f"m{n}.gguf")
    env = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path / "data"), "HEARTH_MODEL_DIRS": str(tmp_path)}
    heavy = (
        "llama_cpp",
        "torch",
        "chromadb",
        "numpy",
        "gguf",
        "desktop.services.readers",
        "importlib.metadata",
    )
    code = (
        "import sys, io, contextlib\nfrom desktop.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['models', 'list']) == 0\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    cold = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    assert cold.returncode == 0, cold.stderr
    warm = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    assert warm.stdout.strip().splitlines()[-1] == "[]", warm.stdout + warm.stderr


@pytest.mark.slow
def test_models_check_measures_the_model_once_and_list_shows_the_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`hearth models check`: the faithfulness verdict `auto` follows, measured on the real bundled
    model (or the one this test run already kept); the listing shows the same verdict."""

    assert main(["models", "check", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and verdict["sentences"] > 0
    assert verdict["result"] in ("faithful", "unfaithful")
    assert main(["models", "list", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    bundled = next(m for m in listed.values() if m["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf"))
    assert bundled["quality_check"]["result"] == verdict["result"]
    assert main(["models", "check"]) == 0
    assert "sentences supported by their passage" in capsys.readouterr().out

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

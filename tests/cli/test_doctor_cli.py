"""`hearth doctor` run in-process: the machine, the plan and its reason, versions, privacy, data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.services import privacy
from tests.services.test_models import write_gguf


def test_doctor_reports_machine_plan_and_privacy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "physical cores" in out and "llama.cpp backends in this build: cpu" in out
    assert "SmolLM2-135M-Instruct.Q4_1" in out
    assert "why: CPU: this llama.cpp build has no GPU support" in out
    assert "network guard on" in out and "llama-cpp-python 0.3.36" in out
    assert "All good." in out


def test_doctor_json(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machine"]["physical_cores"] >= 1 and data["machine"]["ram_total"] > 0
    plan = data["runtime"]["plan"]
    assert plan["backend"] == "cpu" and plan["n_threads"] >= 1 and plan["reason"]
    assert data["runtime"]["model"]["architecture"] == "llama"
    assert data["versions"]["gguf"] and data["versions"]["python"].startswith("3.")
    assert data["data_dir"] == {**data["data_dir"], "path": str(data_dir), "ok": True, "private": True}
    assert data["privacy"]["guard_installed"] is True
    assert data["privacy"]["refused_count"] == privacy.refused_count()
    assert data["bundled"]["chat_model"]["present"] and data["bundled"]["embedder"]["present"]
    assert data["problems"] == []


def test_doctor_with_a_broken_model_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"")
    assert main(["doctor", "--model", str(bad), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["runtime"]["error"]["kind"] == "model_file"
    assert "is empty" in data["problems"][0]["message"]


def test_doctor_flags_a_data_dir_it_cannot_write(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.cli.doctor as doctor

    monkeypatch.setattr(doctor.os, "access", lambda *_a, **_k: False)
    assert main(["doctor", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["data_dir"]["writable"] is False
    assert {"severity": "error", "message": "Data folder: not writable", "hint": ""} in data["problems"]


def test_doctor_plans_for_another_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = write_gguf(tmp_path / "tiny.gguf")
    assert main(["doctor", "--model", str(p), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runtime"]["model"]["path"] == str(p) and data["runtime"]["plan"]["n_ctx"] == 256


@pytest.mark.slow
def test_doctor_load_starts_the_real_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--load", "--json"]) == 0
    load = json.loads(capsys.readouterr().out)["load"]
    assert load["ok"] and load["backend"] == load["planned_backend"] == "cpu"
    assert load["n_ctx"] > 0 and load["load_s"] > 0
    # Nothing to say, except, on a CPU whose fastest kernels really fault (a virtualized AMX Xeon
    # here), the first start's fallback to safer ones: said once, with the reason.
    assert all("kernels" in n and "crashed" in n for n in load["notices"]), load["notices"]

"""`hearth summarize` with the model team on and a real second instruct model (the optional
Qwen2.5-Coder-0.5B, `make models-extra`) as the chat model: `auto` writes abstractively because Qwen
passed its measured faithfulness check (the size rule alone would have kept a 0.5B model grounded),
Qwen writes the summary, and the measured team policy (core/team.py) keeps the section reading on
Qwen too, since the bundled SmolLM2-135M's notes made summaries worse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.core.jobs import run_job
from desktop.services import model_check
from tests.cli.test_summarize_cli import long_pdf
from tests.extra_models import require_qwen

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_qwen_summarizes_abstractively_by_its_check_and_the_team_policy_holds(
    tmp_path: Path,
    data_dir: Path,
    model_path: Path,
    cpu_plan,  # type: ignore[no-untyped-def]
) -> None:
    from desktop.services.llm import LlamaRuntime

    qwen = require_qwen()
    if model_check.cached_verdict(qwen) is None:  # measured once, without the first-use time cap
        with LlamaRuntime(qwen, cpu_plan) as rt:
            run_job(lambda c: model_check.run_check(rt, qwen, c, time_cap_s=900))
    assert model_check.cached_verdict(qwen).result == "faithful"  # type: ignore[union-attr]

    # A small context forces map-reduce on six short pages, and keeps the test short.
    settings = {"context_size": 1024, "threads": 1, "model_team": "on"}
    (data_dir / "settings.json").write_text(json.dumps(settings))
    pdf = long_pdf(tmp_path / "six.pdf")
    argv = [
        sys.executable,
        "-m",
        "desktop",
        "summarize",
        str(pdf),
        "--model",
        str(qwen),
        "--json",
        "--length",
        "80",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    stats = result["stats"]
    assert stats["mode"] == "abstractive"  # auto, by the measured check
    assert stats["model"] == qwen.name  # the final summary: the large model
    assert stats["sections"] >= 2  # map-reduce ...
    assert stats["map_calls_other_model"] == 0 and "map_model" not in stats  # ... all on Qwen (the policy)
    assert result["points"] and all(set(p["pages"]) <= set(range(1, 7)) for p in result["points"])

"""core/requests.py runs on the GUI thread when a question is sent: it must not load rag there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desktop.core.requests import answer_params, answer_request

REPO = Path(__file__).resolve().parents[2]


def test_importing_it_loads_no_answer_machinery() -> None:
    code = "import sys, desktop.core.requests; print('desktop.core.rag' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr  # +30 ms on the GUI thread when it did


def test_the_settings_make_the_request() -> None:
    settings = {"max_answer_tokens": 99, "temperature": 0.7, "sources_per_answer": 4}
    params = answer_params(settings)
    assert (params.max_tokens, params.temperature) == (99, 0.7)
    request = answer_request("Q?", ["a"], settings, n_ctx=2048, mode="grounded", document="sha")
    assert request.collections == ("a",) and request.max_sources == 4 and request.params == params
    assert request.mode == "grounded" and request.document == "sha" and request.n_ctx == 2048

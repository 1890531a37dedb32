"""The optional test model (packaging/extra_models.py: Qwen2.5-Coder-0.5B-Instruct Q4_K_M), or a skip.

`make test` and `make models-extra` fetch it (about 10 s); a test that needs it is skipped with the
way to get it when it is absent. Never the app's default: tests and measurements only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def extra_model_path() -> Path | None:
    """The Qwen 0.5B GGUF unpacked into this environment, or None."""
    path = Path(sys.prefix) / "share" / "hearth" / "extra-models" / QWEN_FILE
    return path if path.is_file() else None


def require_qwen() -> Path:
    """The Qwen 0.5B GGUF, or skip the calling test with how to get it."""
    path = extra_model_path()
    if path is None:
        pytest.skip("the optional Qwen2.5-Coder-0.5B test model is not installed: run `make models-extra`")
    return path

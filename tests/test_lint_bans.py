"""Lint bans what downloads: a file that calls a downloader fails `ruff check` with our config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

OFFENDER = """
def fetch():
    import urllib.request

    from chromadb.utils import embedding_functions
    from llama_cpp import Llama
    from sentence_transformers import SentenceTransformer

    Llama.from_pretrained("org/model", "model.gguf")
    urllib.request.urlopen("http://example.com")
    SentenceTransformer.from_pretrained("all-MiniLM-L6-v2")
    return embedding_functions.DefaultEmbeddingFunction()
"""


def _ruff(path: Path) -> subprocess.CompletedProcess[str]:
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [
            str(ruff),
            "check",
            "--config",
            str(REPO / "pyproject.toml"),
            "--no-cache",
            "--select",
            "TID",
            "--output-format",
            "concise",
            str(path),
        ],
        capture_output=True,
        text=True,
    )


def test_downloaders_are_banned(tmp_path: Path) -> None:
    bad = tmp_path / "desktop" / "offender.py"
    bad.parent.mkdir()
    bad.write_text(OFFENDER)
    result = _ruff(bad)
    assert result.returncode == 1
    for banned in (
        "llama_cpp.Llama.from_pretrained",
        "urllib.request",
        "chromadb.utils.embedding_functions",
        "sentence_transformers.SentenceTransformer.from_pretrained",
    ):
        assert f"`{banned}` is banned" in result.stdout, result.stdout


def test_heavy_imports_at_module_level_are_banned(tmp_path: Path) -> None:
    bad = tmp_path / "desktop" / "heavy.py"
    bad.parent.mkdir()
    bad.write_text("import torch\nimport chromadb\n")
    result = _ruff(bad)
    assert result.returncode == 1
    assert result.stdout.count("TID253") == 2, result.stdout


def test_the_code_base_itself_passes() -> None:
    result = _ruff(REPO / "desktop")
    assert result.returncode == 0, result.stdout

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


def _ruff(path: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
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
        cwd=cwd,  # with --config, per-file-ignores are matched relative to the working directory
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


HTTP_CLIENT = """
import http.client

import httpx
import requests
import urllib3


def fetch():
    return http.client.HTTPConnection("example.com"), httpx, requests, urllib3
"""


def test_http_clients_are_banned_everywhere_but_the_one_remote_module(tmp_path: Path) -> None:
    elsewhere = tmp_path / "desktop" / "services" / "library_sync.py"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text(HTTP_CLIENT)
    result = _ruff(elsewhere)
    assert result.returncode == 1
    for banned in ("http.client", "httpx", "requests", "urllib3"):
        assert f"`{banned}` is banned" in result.stdout, result.stdout
    # The same code in the module that talks to the model server the user named passes.
    remote = tmp_path / "desktop" / "services" / "remote_llm.py"
    remote.write_text(HTTP_CLIENT)
    result = _ruff(Path("desktop/services/remote_llm.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_only_one_module_is_exempt_from_the_http_ban() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    ignores = config["tool"]["ruff"]["lint"]["per-file-ignores"]
    exempt = sorted(path for path, rules in ignores.items() if "TID251" in rules or "TID" in rules)
    assert exempt == ["desktop/services/remote_llm.py"]


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

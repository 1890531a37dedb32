"""Shared fixtures: a private data dir per test, the real bundled model, a real runtime."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.services import privacy

# Every test runs under the same guard as the app: a test that reaches the network fails.
privacy.install()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HEARTH_PASSPHRASE", "hearth tests: not a secret")  # stores encrypted, headless
# One model-check verdict file for the run (services/model_check.py): checked once, not per data dir.
_CHECKS = os.path.join(tempfile.gettempdir(), f"hearth-checks-{os.getpid()}.json")
os.environ.setdefault("HEARTH_MODEL_CHECKS", _CHECKS)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EVAL = SHARED / "eval"


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own empty Hearth data dir."""
    path = tmp_path_factory.mktemp("hearth-data")
    monkeypatch.setenv("HEARTH_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    from desktop.services.paths import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def cpu_plan():  # type: ignore[no-untyped-def]
    from desktop.core.types import RuntimePlan

    return RuntimePlan("cpu", 0, 1, 1, 2048, 512, "fits", "tests: one thread, 2048-token context")


@pytest.fixture(scope="session")
def runtime(model_path: Path, cpu_plan) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """One real model runtime shared by the tests that only read from it."""
    from desktop.services.llm import LlamaRuntime

    rt = LlamaRuntime(model_path, cpu_plan)
    rt.start()
    yield rt
    rt.close()


@pytest.fixture
def adapter_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder (HEARTH_MODEL_DIRS) with a tiny Phi-3 and a LoRA adapter for it that ends the
    turn at once at scale 1 and changes nothing at scale 0: tests/ggufs.LORA_PAIR."""
    from tests.ggufs import BY_NAME, write_family_gguf, write_lora_gguf

    folder = tmp_path / "models"
    folder.mkdir()
    write_family_gguf(BY_NAME["phi3"], folder / "tiny-phi3.gguf")
    write_lora_gguf(BY_NAME["phi3"], folder / "phi3-lora.gguf")
    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(folder))
    return folder

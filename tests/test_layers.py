"""Layer rules, enforced: import-linter's contracts, and the core tests run with Qt and every heavy
library made unimportable (the same proof as running them with PySide6 uninstalled)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCKED = (
    "PySide6",
    "shiboken6",
    "llama_cpp",
    "chromadb",
    "sentence_transformers",
    "torch",
    "transformers",
    "pypdf",
    "docx",
    "lxml",
    "numpy",
    "gguf",
    "keyring",
    "onnxruntime",
)

_RUNNER = """
import sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked: core must not need it")
        return None
sys.meta_path.insert(0, Block())
import pytest
args = ["-q", "-p", "no:cacheprovider", "-p", "no:pytest-qt"]
sys.exit(pytest.main([*args, "-W", "ignore::pytest.PytestConfigWarning", "tests/core"]))
"""


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_tests_pass_without_qt_or_heavy_libraries() -> None:
    code = _RUNNER.format(blocked=BLOCKED)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout

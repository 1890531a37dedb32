"""The model catalog: the bundled default, imported GGUF files and those found in other apps'
folders; each with what its header says (services/gguf_header.py) and its fit on this computer.
Importing checks a file, copies it into the data dir and records it; removing deletes it."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop.core.errors import AppError, ModelFileError, ModelNotFound, StorageError
from desktop.core.events import Progress
from desktop.core.types import Fit, ModelInfo, RuntimePlan
from desktop.services import paths
from desktop.services.gguf_header import (  # re-exported: the catalog's callers read headers too
    COPY_CHUNK,
    HINT_GGUF,
    GgufHeader,
    default_name,
    file_sha256,
    mb,
    read_header,
    read_model_info,
)

__all__ = [
    "GgufHeader",
    "ModelEntry",
    "file_sha256",
    "import_model",
    "list_models",
    "read_header",
    "read_model_info",
    "remove_model",
    "resolve_model",
    "validate_model_file",
]

log = logging.getLogger("desktop.models")

CATALOG_FILE = "catalog.json"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model the user can choose: bundled or imported, what it is, and whether it fits here."""

    name: str
    path: str
    source: str  # "bundled" | "imported"
    info: ModelInfo | None
    fit: Fit | None = None
    plan_reason: str = ""
    sha256: str | None = None
    imported_at: str | None = None
    error: str | None = None  # why the file is unusable (missing, damaged), when it is
    template_refused: str = ""  # why its chat template is not used (checked at import), if it is not
    app: str = ""  # for source "found": the app whose folder holds it ("LM Studio", "Ollama" …)
    already_imported: bool = False  # import_model found the same content in the catalog
    adapter: str = ""  # a LoRA adapter applied on the model at `path` ("base + adapter")

    def to_dict(self) -> dict[str, Any]:
        return {
            "template_refused": self.template_refused,
            "app": self.app,
            "name": self.name,
            "path": self.path,
            "source": self.source,
            "fit": self.fit,
            "plan_reason": self.plan_reason,
            "sha256": self.sha256,
            "imported_at": self.imported_at,
            "error": self.error,
            "adapter": self.adapter,
            "info": self.info.to_dict() if self.info else None,
        }


# ----------------------------------------------------------------------------- fit


def plan_for(info: ModelInfo, n_ctx: int = 0) -> RuntimePlan:
    """The runtime plan this machine would use for the model (default settings)."""
    from desktop.core.planning import plan_runtime
    from desktop.services import hardware

    return plan_runtime(hardware.probe(), info, n_ctx=n_ctx)


def engine_build() -> str:
    """The llama.cpp build Hearth runs models with, in words a bug report can use."""
    from desktop.services.kernels import engine_version

    return f"llama-cpp-python {engine_version()}"


@functools.cache
def _engine_strings(lib: str, size: int, mtime_ns: int) -> bytes:
    with open(lib, "rb") as f:
        return f.read()


def engine_knows_architecture(arch: str) -> bool | None:
    """Whether this llama.cpp build can load models of `arch` (None: cannot tell).

    llama.cpp keeps every architecture name it supports as a string in libllama; a name that is
    not there cannot load ("unknown model architecture"). Reading the library is a few ms and
    needs no import of llama_cpp, so listing and importing can say so before a load is tried.
    """
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin or not arch:
        return None
    libs = sorted((Path(spec.origin).parent / "lib").glob("libllama.*"))
    libs = libs or sorted(Path(spec.origin).parent.glob("libllama.*"))
    if not libs:
        return None
    try:
        st = libs[0].stat()
        data = _engine_strings(str(libs[0]), st.st_size, st.st_mtime_ns)
    except OSError:
        return None
    return arch.encode("utf-8", "replace") + b"\0" in data


def unsupported_architecture(info: ModelInfo) -> ModelFileError | None:
    """The error for a model whose architecture this llama.cpp build does not know, if it does not."""
    if engine_knows_architecture(info.architecture) is not False:
        return None
    build = engine_build()
    return ModelFileError(
        f"{Path(info.path).name} is a {info.architecture!r} model, and this Hearth's llama.cpp "
        f"({build}) does not know that architecture, so it cannot run it.",
        "Choose a model of a kind Hearth runs (Llama, Qwen, Gemma, Phi, Mistral, OLMo, SmolLM …), "
        "or update Hearth: a newer llama.cpp may know it.",
        detail=f"general.architecture={info.architecture}; {build}",
    )


def validate_model_file(path: str | Path) -> ModelInfo:
    """A usable GGUF for this machine, or ModelFileError saying exactly what is wrong."""
    from desktop.core.planning import MIN_CTX, estimate_memory
    from desktop.services import hardware

    path = Path(path).expanduser()
    info = read_model_info(path)
    if info.n_layers <= 0 or info.architecture == "unknown":
        raise ModelFileError(
            f"{path.name} does not say what kind of model it is (architecture or layer count missing).",
            HINT_GGUF,
            detail=f"architecture={info.architecture} n_layers={info.n_layers}",
        )
    if (unknown := unsupported_architecture(info)) is not None:
        raise unknown
    report = hardware.probe_report()
    hw = report.hardware
    memory_known = not any("memory" in n for n in report.notes)
    smallest = estimate_memory(info, min(MIN_CTX, info.context_length or MIN_CTX))
    uses_gpu_memory = any(g.backend in hw.supported_backends for g in hw.gpus)
    if memory_known and not uses_gpu_memory and smallest.weights > hw.ram_total:
        plan = plan_for(info)
        raise ModelFileError(
            f"{path.name} is far too big for this computer: it needs at least {mb(smallest.total)} "
            f"of memory and this computer has {mb(hw.ram_total)}.",
            "Choose a smaller model or a smaller quantization (Q4_K_M of a model with fewer parameters).",
            detail=plan.reason,
        )
    return info


# ----------------------------------------------------------------------------- catalog


def _catalog_path() -> Path:
    return paths.models_dir() / CATALOG_FILE


def _load_catalog() -> list[dict[str, Any]]:
    path = paths.data_dir() / "models" / CATALOG_FILE  # reading creates no folder
    if not path.parent.is_dir():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        # Keep the damaged file for the user; the models themselves are still on disk.
        log.warning("model catalog unreadable (%s); starting a new one", exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".damaged.json"))
        return []
    entries = data.get("models", []) if isinstance(data, dict) else []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str) and e.get("file")]


def _save_catalog(entries: list[dict[str, Any]]) -> None:
    path = _catalog_path()
    tmp = path.with_suffix(".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({"version": 1, "models": entries}, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(
            "Hearth could not save its model list.", "Check free disk space.", detail=str(exc)
        ) from exc


def _bundled_name() -> str:
    return paths.DEFAULT_MODEL_FILE.removesuffix(".gguf")


DEFAULT_NAME = _bundled_name()


def _entry(name: str, path: Path, source: str, meta: dict[str, Any] | None = None) -> ModelEntry:
    from desktop.services.discovery import cached_model_info

    meta = meta or {}
    try:
        info = replace(cached_model_info(path), name=name)
        if (unknown := unsupported_architecture(info)) is not None:
            raise unknown
        plan = plan_for(info)
        return ModelEntry(
            name,
            str(path),
            source,
            info,
            plan.fit,
            plan.reason,
            meta.get("sha256"),
            meta.get("imported_at"),
            template_refused=str(meta.get("template_refused", "")),
        )
    except AppError as exc:
        return ModelEntry(
            name, str(path), source, None, None, "", meta.get("sha256"), meta.get("imported_at"), str(exc)
        )


def list_models(*, found: bool = True, skipped: list[tuple[str, str]] | None = None) -> list[ModelEntry]:
    """The bundled model (if installed), every imported one, and (found=True) the GGUFs other apps
    keep on this computer (services/discovery.py, used in place), each with its fit here.
    `skipped`, if given, receives (place or file, reason) for what the search passed over."""
    out: list[ModelEntry] = []
    bundled = paths.bundled_models_dir() / paths.DEFAULT_MODEL_FILE
    if bundled.is_file():
        out.append(_entry(_bundled_name(), bundled, "bundled"))
    for meta in _load_catalog():
        out.append(_entry(meta["name"], paths.models_dir() / meta["file"], "imported", meta))
    if found:
        out += found_models(taken={e.name for e in out}, skipped=skipped)
    return _pair_adapters(out)


def _pair_adapters(entries: list[ModelEntry]) -> list[ModelEntry]:
    """Each LoRA adapter found becomes "base + adapter" for every model it was made for; one made
    for no model here is listed as unusable, with the reason its nearest candidate gave."""
    from desktop.services.adapters import check_adapter, read_adapter

    models = [e for e in entries if e.source != "adapter"]
    out = list(models)
    for a in (e for e in entries if e.source == "adapter"):
        try:
            arch = read_adapter(a.path).architecture
        except AppError as exc:
            out.append(replace(a, source="found", error=exc.user_message))
            continue
        reason = f"a LoRA adapter for {arch!r} models, and no {arch!r} model here is its base"
        paired = False
        for base in (m for m in models if m.info is not None and not m.adapter):
            try:
                check_adapter(base.path, a.path)
            except AppError as exc:
                if base.info is not None and base.info.architecture == arch:
                    reason = exc.user_message  # its architecture, another size: the closest miss
                continue
            paired = True
            name = f"{base.name} + {a.name}"
            out.append(replace(base, name=name, source="found", app=a.app, adapter=a.path))
        if not paired:
            out.append(replace(a, source="found", error=reason))
    return out


def found_models(
    taken: set[str] | None = None, skipped: list[tuple[str, str]] | None = None
) -> list[ModelEntry]:
    """Models in other apps' folders, named uniquely next to `taken` (names already in use)."""
    from desktop.services import discovery

    taken = set(taken or ())
    out: list[ModelEntry] = []
    scan = discovery.scan()
    if skipped is not None:
        skipped.extend(scan.skipped)
    for f in scan.found:
        if f.adapter is not None:
            out.append(ModelEntry(f.name, f.path, "adapter", None, app=f.app))  # paired in list_models
            continue
        name = _unique_name(f.name, taken)
        taken.add(name)
        if f.info is None:
            out.append(ModelEntry(name, f.path, "found", None, error=f.problem, app=f.app))
            continue
        info = replace(f.info, name=name)
        if (unknown := unsupported_architecture(info)) is not None:
            out.append(ModelEntry(name, f.path, "found", None, error=unknown.user_message, app=f.app))
            continue
        plan = plan_for(info)
        out.append(ModelEntry(name, f.path, "found", info, plan.fit, plan.reason, app=f.app))
    return out


def _unique_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def import_model(path: str | Path, *, on_progress: Callable[[Progress], None] | None = None) -> ModelEntry:
    """Validate a GGUF, copy it into the data dir (atomically, with progress), add it to the catalog.

    Importing the same file twice (same sha256) returns the entry already there.
    """
    src = Path(path).expanduser()
    from desktop.services import policy

    policy.check_import(src)  # an administrator may allow imports from one folder only
    info = validate_model_file(src)
    template_refused = ""
    if info.chat_template:
        # Untrusted code: checked in a process of its own, bounded in time and memory.
        from desktop.services import chat_template

        ok, reason = chat_template.check_in_subprocess(str(src))
        template_refused = "" if ok else reason
    entries = _load_catalog()
    dest_dir = paths.models_dir()
    size = info.file_size

    # Only hash the source up front when a same-sized model exists: otherwise hash while copying.
    same_size = [e for e in entries if e.get("size") == size]
    if same_size:
        digest = file_sha256(src, on_progress)
        for e in same_size:
            if e.get("sha256") == digest and (dest_dir / e["file"]).is_file():
                log.info("model %s is already imported as %s", src.name, e["name"])
                return replace(_entry(e["name"], dest_dir / e["file"], "imported", e), already_imported=True)

    free = shutil.disk_usage(dest_dir).free
    if free < size + 64 * 1024**2:
        raise StorageError(
            f"Not enough free disk space to import {src.name} ({mb(size)} needed, {mb(free)} free).",
            "Free some space, or remove models you no longer use (`hearth models remove NAME`).",
        )
    taken = {e["name"] for e in entries} | {_bundled_name()}
    name = _unique_name(default_name(src), taken)
    files = {e["file"] for e in entries}
    file_name = _unique_name(default_name(src), {f.removesuffix(".gguf") for f in files}) + ".gguf"
    dest = dest_dir / file_name
    tmp = dest_dir / f".{file_name}.part"
    h = hashlib.sha256()
    done = 0
    started = time.monotonic()
    try:
        from desktop.services.files import open_regular

        with open_regular(src) as fin, tmp.open("wb") as fout:
            while chunk := fin.read(COPY_CHUNK):
                h.update(chunk)
                fout.write(chunk)
                done += len(chunk)
                if on_progress:
                    elapsed = time.monotonic() - started
                    eta = elapsed / done * (size - done) if done and elapsed > 1 else None
                    on_progress(Progress(done, size, f"importing {src.name}", "bytes", eta))
            fout.flush()
            os.fsync(fout.fileno())
        if done != size:
            raise StorageError(
                f"{src.name} changed while it was being copied.",
                "Wait until it is complete and import it again.",
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise StorageError(
            f"Copying {src.name} failed.", "Check free disk space and try again.", detail=str(exc)
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    digest = h.hexdigest()
    for e in entries:  # the same content under another size bucket cannot happen, but a race can
        if e.get("sha256") == digest and (dest_dir / e["file"]).is_file():
            dest.unlink(missing_ok=True)
            return replace(_entry(e["name"], dest_dir / e["file"], "imported", e), already_imported=True)
    meta = {
        "name": name,
        "file": file_name,
        "sha256": digest,
        "size": size,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_path": str(src),
        "template_refused": template_refused,
    }
    _save_catalog([*entries, meta])
    log.info("imported model %s (%s)", name, mb(size))
    return _entry(name, dest, "imported", meta)


def remove_model(name: str) -> None:
    """Remove an imported model (its file and catalog entry). The bundled model stays."""
    if name == _bundled_name():
        raise AppError(
            "The bundled model cannot be removed.",
            "It ships with Hearth. To use another model, import it and choose it in the settings.",
        )
    entries = _load_catalog()
    match = [e for e in entries if e["name"] == name]
    if not match:
        known = ", ".join(e["name"] for e in entries) or "none"
        raise ModelNotFound(f"There is no imported model called {name!r}.", f"Imported models: {known}.")
    _save_catalog([e for e in entries if e["name"] != name])
    target = paths.models_dir() / match[0]["file"]
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    log.info("removed model %s", name)


def resolve_choice(name_or_path: str) -> tuple[ModelInfo, str]:
    """The model a name means and the LoRA adapter to apply on it ("" for none): "base + adapter"
    as `models list` shows it, or anything `resolve_model` takes."""
    text = (name_or_path or "").strip()
    if " + " not in text:
        return resolve_model(text), ""
    listed = list_models()
    for e in listed:
        if e.name == text and e.adapter:
            return read_model_info(e.path, name=text), e.adapter
    unusable = next((e for e in listed if e.error and e.name == text.split(" + ", 1)[1]), None)
    raise ModelNotFound(
        f"There is no model with an adapter called {text!r}."
        + (f" The adapter {unusable.name}: {unusable.error}" if unusable else ""),
        "`hearth models list` shows each adapter on the models it was made for.",
    )


def resolve_model(name_or_path: str) -> ModelInfo:
    """ "" → the bundled default; a catalog name; or a path to a .gguf (validated)."""
    text = (name_or_path or "").strip()
    if " + " in text:
        return resolve_choice(text)[0]
    if not text or text == _bundled_name():
        return read_model_info(paths.default_model_path(), name=_bundled_name())
    for meta in _load_catalog():
        if meta["name"] == text:
            file = paths.models_dir() / meta["file"]
            if not file.is_file():
                raise ModelNotFound(
                    f"The model {text!r} is in the list but its file is gone.",
                    f"Import it again, or remove it with `hearth models remove {text}`.",
                    detail=str(file),
                )
            return read_model_info(file, name=text)
    candidate = Path(text).expanduser()
    if candidate.exists() or text.lower().endswith(".gguf") or os.sep in text:
        return validate_model_file(candidate)
    catalog = [_bundled_name()] + [e["name"] for e in _load_catalog()]
    for entry in found_models(taken=set(catalog)):
        if entry.name == text:
            if entry.info is None:
                raise ModelFileError(
                    f"The model {text!r} found in {entry.app}'s folder cannot be used: {entry.error}",
                    "Choose another model.",
                    detail=entry.path,
                )
            return read_model_info(entry.path, name=text)
    names = catalog + [e.name for e in found_models(taken=set(catalog))]
    raise ModelNotFound(
        f"There is no model called {text!r}.",
        f"Known models: {', '.join(names) or 'none'}. Give a path to a .gguf file, or import one.",
    )

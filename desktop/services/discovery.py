"""Models the user already has: other apps' model folders, read-only, used in place.

People who try Hearth often have gigabytes of GGUF files from LM Studio, Ollama, GPT4All or Jan.
Hearth looks in those apps' standard folders (and ~/Models), never writes there, never copies a
file unasked, and lists what it finds with its fit for this machine. Ollama keeps its models as
content-addressed blobs: its manifests give them their names (`llama3.2:3b`).

Reading a GGUF's header costs milliseconds to a second; `discovered.json` in the data dir caches
what each file said, keyed by path, size and mtime, so listing stays instant on the next run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from desktop.core.errors import AppError
from desktop.core.types import ModelInfo
from desktop.services.adapters import AdapterInfo

log = logging.getLogger("desktop.models")

CACHE_FILE = "discovered.json"
NOT_AVAILABLE = "not available (a disconnected drive or network share?)"
MAX_DEPTH = 5
MAX_FILES = 500  # per place: a folder of thousands is not a model folder
# Not chat models on their own: vision projectors, and the later parts of a split model.
_SKIP = re.compile(r"(^mmproj|[-.]mmproj|-0000[2-9]-of-|-000[1-9]\d-of-)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Place:
    app: str  # "LM Studio", "Ollama", "GPT4All", "Jan", "Models folder", "HEARTH_MODEL_DIRS"
    path: Path
    kind: str = "folder"  # "folder" | "ollama"


@dataclass(frozen=True, slots=True)
class Found:
    name: str  # what the picker shows ("llama3.2:3b", "Qwen2.5-0.5B-Instruct-Q4_K_M")
    path: str
    app: str
    info: ModelInfo | None = None
    problem: str = ""  # why it cannot be used (damaged, blob missing …)
    adapter: AdapterInfo | None = None  # a LoRA adapter, not a model: listed on its base


@dataclass
class Scan:
    found: list[Found] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path or place, reason)
    places: list[str] = field(default_factory=list)  # the places that exist here
    seconds: float = 0.0


def standard_places(home: Path | None = None) -> list[Place]:
    """The folders where the peer apps keep models on this OS, plus HEARTH_MODEL_DIRS."""
    home = home or Path.home()
    places: list[Place] = []
    extra = os.environ.get("HEARTH_MODEL_DIRS", "")
    for raw in filter(None, extra.split(os.pathsep)):
        places.append(Place("HEARTH_MODEL_DIRS", Path(raw).expanduser()))
    places += [
        Place("LM Studio", home / ".lmstudio" / "models"),
        Place("LM Studio", home / ".cache" / "lm-studio" / "models"),
        Place("Ollama", home / ".ollama" / "models", "ollama"),
        Place("Jan", home / "jan" / "models"),
        Place("Models folder", home / "Models"),
        Place("Models folder", home / "models"),
    ]
    if sys.platform == "darwin":
        support = home / "Library" / "Application Support"
        places += [
            Place("GPT4All", support / "nomic.ai" / "GPT4All"),
            Place("Jan", support / "Jan" / "data" / "llamacpp" / "models"),
        ]
    elif sys.platform == "win32":
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        places += [
            Place("GPT4All", local / "nomic.ai" / "GPT4All"),
            Place("Jan", Path(os.environ.get("APPDATA", home)) / "Jan" / "data" / "llamacpp" / "models"),
        ]
    else:
        data = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share"))
        places += [
            Place("GPT4All", data / "nomic.ai" / "GPT4All"),
            Place("Jan", data / "Jan" / "data" / "llamacpp" / "models"),
            Place("Ollama", Path("/usr/share/ollama/.ollama/models"), "ollama"),
        ]
    return places


def _walk_ggufs(root: Path, skipped: list[tuple[str, str]]) -> Iterator[Path]:
    """*.gguf regular files under `root` (depth-limited, no symlink loops, errors noted not raised)."""
    from desktop.services.files import NotRegularFile, check_regular

    count = 0
    unreadable: list[str] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder == root:  # the whole place: one line, and nothing more to do
                skipped.append((str(root), f"not available ({exc.strerror or exc})"))
                return
            unreadable.append(exc.strerror or str(exc))
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH and not entry.name.startswith("."):
                        stack.append((Path(entry.path), depth + 1))
                    continue
            except OSError:
                continue
            if not entry.name.lower().endswith(".gguf") or _SKIP.search(entry.name):
                continue
            path = Path(entry.path)
            try:
                check_regular(path)
            except NotRegularFile as exc:
                skipped.append((str(path), f"not a regular file ({exc.kind})"))
                continue
            except OSError as exc:
                if not os.path.isdir(root):  # the drive went away mid-scan: one line, not one per file
                    skipped.append((str(root), NOT_AVAILABLE))
                    return
                skipped.append((str(path), f"not available ({exc.strerror or exc})"))
                continue
            count += 1
            if count > MAX_FILES:
                skipped.append((str(root), f"more than {MAX_FILES} model files; the rest are not listed"))
                return
            yield path
    if unreadable:  # one line for the place, however many folders failed
        skipped.append((str(root), f"{len(unreadable)} folder(s) inside could not be read ({unreadable[0]})"))


def _ollama_models(root: Path, skipped: list[tuple[str, str]]) -> Iterator[tuple[str, Path]]:
    """(name, blob path) for each Ollama manifest whose model layer is a GGUF blob that exists.
    A GGUF blob that no manifest names (an interrupted pull, a half-done `ollama rm`) has no
    name to show: it is skipped, with that reason."""
    manifests = root / "manifests"
    named: set[str] = set()
    yield from _ollama_named(root, manifests, named, skipped)
    _orphan_blobs(root / "blobs", named, skipped)


def _orphan_blobs(blobs: Path, named: set[str], skipped: list[tuple[str, str]]) -> None:
    from desktop.services.files import open_regular

    try:
        entries = sorted(os.scandir(blobs), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name in named or not entry.name.startswith("sha256"):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_size < 1024**2:
                continue  # Ollama's config, template and licence layers are small JSON/text
            with open_regular(entry.path) as f:  # never a FIFO or a device
                magic = f.read(4)
        except OSError:
            continue
        if magic == b"GGUF":
            reason = "an Ollama model file that no manifest names (no name to show it under)"
            skipped.append((entry.path, reason))


def _ollama_named(
    root: Path, manifests: Path, named: set[str], skipped: list[tuple[str, str]]
) -> Iterator[tuple[str, Path]]:
    if not manifests.is_dir():
        return
    for manifest in sorted(manifests.rglob("*")):
        if not manifest.is_file():
            continue
        rel = manifest.relative_to(manifests).parts  # registry / namespace / model / tag
        name = f"{rel[-2]}:{rel[-1]}" if len(rel) >= 2 else manifest.name
        if len(rel) >= 3 and rel[-3] not in ("library",):
            name = f"{rel[-3]}/{name}"
        try:
            data = json.loads(manifest.read_text())
            layer = next(x for x in data.get("layers", []) if str(x.get("mediaType", "")).endswith(".model"))
            digest = str(layer["digest"]).replace(":", "-")
        except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
            skipped.append((str(manifest), "an Ollama manifest that names no model layer"))
            continue
        named.add(digest)
        blob = root / "blobs" / digest
        if not blob.is_file():
            missing = "its model blob is missing (Ollama may still be downloading it)"
            skipped.append((f"ollama:{name}", missing))
            continue
        yield name, blob


class _Cache:
    """discovered.json: path → {size, mtime_ns, info} for headers already read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            raw = {}
        self.entries: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.dirty = False
        self.used: set[str] = set()

    def info(self, path: Path) -> ModelInfo:
        from desktop.services.gguf_header import read_model_info

        st = path.stat()
        key = str(path)
        self.used.add(key)
        hit = self.entries.get(key)
        if isinstance(hit, dict) and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
            if hit.get("error"):
                raise AppError(str(hit["error"]))
            with contextlib.suppress(TypeError, KeyError):
                return ModelInfo(**hit["info"])
        self.dirty = True
        try:
            info = read_model_info(path)
        except AppError as exc:
            self.entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "error": exc.user_message}
            raise
        self.entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "info": asdict(info)}
        return info

    def adapter(self, path: Path, info: ModelInfo) -> AdapterInfo | None:
        """The LoRA adapter a file is, if it is one (a model has layers; an adapter has none)."""
        if info.n_layers > 0:
            return None
        from desktop.services.adapters import read_adapter

        hit = self.entries.get(str(path), {})
        if isinstance(hit.get("adapter"), dict):
            with contextlib.suppress(TypeError, KeyError):
                raw = hit["adapter"]
                shapes = tuple((tuple(a), tuple(b)) for a, b in raw["shapes"])
                return AdapterInfo(**{**raw, "targets": tuple(raw["targets"]), "shapes": shapes})
        try:
            adapter = read_adapter(path)
        except AppError:
            return None
        if isinstance(hit, dict) and "info" in hit:
            hit["adapter"] = asdict(adapter)
            self.dirty = True
        return adapter

    def save(self, prune: bool = False) -> None:
        """Write back what changed; `prune` also forgets files no longer seen (after a full scan)."""
        stale = {k for k in set(self.entries) - self.used if not Path(k).exists()} if prune else set()
        if not self.dirty and not stale:
            return
        for key in stale:
            del self.entries[key]
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.entries))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.info("could not save the model discovery cache: %s", exc)


def _place_missing(place: Place) -> str | None:
    """None when the place is a readable folder; otherwise why not: "" for a standard place that
    simply does not exist here (the app is not installed: nothing to say), or one line for a place
    the user named, or a link to a drive that is not there, or a folder that cannot be read."""
    path = place.path
    try:
        if path.is_dir():
            return None if os.access(path, os.R_OK | os.X_OK) else "not available (permission denied)"
        if path.is_symlink():
            return (
                f"not available: it points to {os.readlink(path)}, which is not there (a disconnected drive?)"
            )
    except OSError:  # a dead network mount answers stat with an error
        return NOT_AVAILABLE
    if place.app == "HEARTH_MODEL_DIRS":
        return "not available (no such folder)" if not path.exists() else "not a folder"
    return ""


def scan(places: list[Place] | None = None, cache_path: Path | None = None) -> Scan:
    """Every GGUF in the standard places, with what its header says (cached)."""
    from desktop.services import paths

    t0 = time.perf_counter()
    out = Scan()
    cache = _Cache(cache_path or paths.data_dir() / CACHE_FILE)
    seen: set[str] = set()
    for place in places if places is not None else standard_places():
        missing = _place_missing(place)
        if missing is not None:
            if missing:  # a folder the user named, or a link to a drive that is not there
                out.skipped.append((str(place.path), missing))
            continue
        out.places.append(f"{place.app}: {place.path}")
        if place.kind == "ollama":
            candidates: Iterator[tuple[str, Path]] = _ollama_models(place.path, out.skipped)
        else:
            candidates = ((p.name.removesuffix(".gguf"), p) for p in _walk_ggufs(place.path, out.skipped))
        for name, path in candidates:
            real = str(path.resolve())
            if real in seen:
                continue
            seen.add(real)
            try:
                info = cache.info(path)
            except (AppError, OSError) as exc:
                if _place_missing(place) is not None:  # the drive went away mid-scan: say so once
                    out.skipped.append((str(place.path), NOT_AVAILABLE))
                    break
                if isinstance(exc, OSError):
                    out.skipped.append((str(path), f"not available ({exc.strerror or exc})"))
                    continue
                out.found.append(Found(name, str(path), place.app, None, exc.user_message))
                continue
            adapter = cache.adapter(path, info)
            out.found.append(Found(name, str(path), place.app, replace_name(info, name), adapter=adapter))
    cache.save(prune=True)
    out.seconds = time.perf_counter() - t0
    return out


def cached_model_info(path: Path) -> ModelInfo:
    """A GGUF's header facts through the same cache (bundled and imported models use it too)."""
    from desktop.services import paths
    from desktop.services.gguf_header import read_model_info

    cache = _Cache(paths.data_dir() / CACHE_FILE)
    try:
        return cache.info(path)
    except OSError:  # gone or unreadable: the header reader says so in words
        return read_model_info(path)
    finally:
        cache.save()


def replace_name(info: ModelInfo, name: str) -> ModelInfo:
    from dataclasses import replace

    return replace(info, name=name)

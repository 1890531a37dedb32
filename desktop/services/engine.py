"""The llama.cpp engine's CPU kernels: one portable build that picks them at run time.

Hearth installs llama-cpp-python built with llama.cpp's runtime CPU dispatch
(`GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON GGML_NATIVE=OFF`, packaging/build_engine.sh): the
CPU kernels are not linked into the engine but ship as one module per x86-64 level next to it,
`llama_cpp/lib/libggml-cpu-<variant>.so` (x64, sse42, sandybridge, haswell, skylakex, icelake,
zen4, alderlake, sapphirerapids, …). Each module scores itself against the CPU it runs on
(0: this CPU lacks its instructions); the best one is loaded. So one build runs on any x86-64
CPU, whatever machine compiled it.

llama-cpp-python 0.3.36 never loads those modules itself (llama-cpp-python #2069: a model load
then fails with "no backends are loaded"), so the process that loads a model calls
`load_cpu_backends()` first. It does what llama.cpp's `ggml_backend_load_all_from_path` does for
the package's lib folder — minus reading `GGML_BACKEND_PATH` from the environment, which would
let any variable load any library — and says which variant it chose. On an engine built the
ordinary way (kernels linked in) it does nothing and returns "builtin".

    load_cpu_backends()            the best variant for this CPU (and any GPU backend modules)
    load_cpu_backends("baseline")  the safest fast variant: the best one without AVX-512 or AMX
    load_cpu_backends("haswell")   exactly that variant (ValueError if this CPU cannot run it)

Loading is once per process: backends cannot be swapped under a loaded model, so later calls
return the first call's description.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("desktop.engine")

# ggml_backend_load_all_from_path's order (llama.cpp ggml-backend-reg.cpp); cpu last.
BACKEND_NAMES = (
    "blas",
    "zendnn",
    "cann",
    "cuda",
    "hip",
    "metal",
    "rpc",
    "sycl",
    "vulkan",
    "virtgpu",
    "opencl",
    "hexagon",
    "musa",
    "openvino",
    "cpu",
)
# x86-64 variants up to x86-64-v3 (AVX2, FMA, F16C, BMI2): no AVX-512, no AMX, no AVX-VNNI.
# "baseline" is the best of these that this CPU runs; on other architectures, the lowest-scoring
# variant that it runs.
BASELINE_VARIANTS = ("x64", "sse42", "sandybridge", "ivybridge", "piledriver", "haswell")

_lock = threading.Lock()
_loaded: str | None = None


def lib_dir() -> Path:
    """The llama_cpp package's native library folder (found without importing llama_cpp)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        raise RuntimeError("llama-cpp-python is not installed")
    return Path(spec.origin).parent / "lib"


def _suffix() -> str:
    import sys

    return ".dll" if sys.platform == "win32" else ".so"


def _prefix() -> str:
    import sys

    return "ggml-" if sys.platform == "win32" else "libggml-"


def cpu_variants(lib: Path | None = None) -> dict[str, Path]:
    """The CPU kernel modules of a runtime-dispatch build, by variant name ({} otherwise)."""
    lib = lib or lib_dir()
    start = f"{_prefix()}cpu-"
    return {
        p.name[len(start) : -len(_suffix())]: p
        for p in sorted(lib.glob(f"{start}*{_suffix()}"))
        if p.is_file()
    }


def _exports(path: Path, symbol: str) -> bool:
    try:
        return hasattr(ctypes.CDLL(str(path)), symbol)
    except OSError:
        return False


def is_dl_build(lib: Path | None = None) -> bool:
    """Whether the engine loads its backends at run time (GGML_BACKEND_DL) rather than linking them."""
    lib = lib or lib_dir()
    if cpu_variants(lib):
        return True
    single = lib / f"{_prefix()}cpu{_suffix()}"
    return single.is_file() and _exports(single, "ggml_backend_init")


def _score(path: Path) -> int:
    """The module's own verdict on this CPU: 0 = cannot run here; higher = more features used.

    ggml scores a variant the same way (dlopen, `ggml_backend_score`, close again)."""
    try:
        mod = ctypes.CDLL(str(path))
    except OSError as exc:
        log.warning("cannot open %s: %s", path, exc)
        return 0
    try:
        fn = mod.ggml_backend_score
    except AttributeError:
        return 0
    fn.restype = ctypes.c_int
    fn.argtypes = []
    score = int(fn())
    _close(mod)
    return score


def _close(mod: ctypes.CDLL) -> None:
    try:
        import _ctypes

        _ctypes.dlclose(mod._handle)
    except (ImportError, AttributeError, OSError):
        pass


def _ggml(lib: Path) -> Any:
    libggml = ctypes.CDLL(str(lib / f"{_prefix()[:-1]}{_suffix()}"))  # libggml.so / ggml.dll
    libggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    libggml.ggml_backend_load.restype = ctypes.c_void_p
    libggml.ggml_backend_reg_count.argtypes = []
    libggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    libggml.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
    libggml.ggml_backend_reg_get.restype = ctypes.c_void_p
    libggml.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    libggml.ggml_backend_reg_name.restype = ctypes.c_char_p
    return libggml


def registered_backends(libggml: Any | None = None) -> list[str]:
    """Names of the backends ggml has registered in this process (e.g. ["CPU"])."""
    libggml = libggml or _ggml(lib_dir())
    return [
        (libggml.ggml_backend_reg_name(libggml.ggml_backend_reg_get(i)) or b"?").decode()
        for i in range(libggml.ggml_backend_reg_count())
    ]


def choose_cpu_variant(variant: str | None = None, lib: Path | None = None) -> tuple[str, int]:
    """The CPU variant `load_cpu_backends(variant)` would load, and its score on this CPU."""
    variants = cpu_variants(lib)
    if not variants:
        raise RuntimeError("this engine has no CPU variant modules")
    if variant not in (None, "baseline"):
        if variant not in variants:
            raise ValueError(f"unknown CPU variant {variant!r}; this engine has {', '.join(variants)}")
        score = _score(variants[variant])
        if score <= 0:
            raise ValueError(f"this CPU cannot run the {variant!r} kernels")
        return variant, score
    scores = {name: _score(path) for name, path in variants.items()}
    runnable = {name: s for name, s in scores.items() if s > 0}
    if not runnable:
        raise RuntimeError(f"no CPU variant of this engine runs on this CPU (scores: {scores})")
    if variant is None:
        best = max(runnable, key=lambda n: runnable[n])
        return best, runnable[best]
    safe = {n: s for n, s in runnable.items() if n in BASELINE_VARIANTS}
    if safe:
        best = max(safe, key=lambda n: safe[n])
        return best, safe[best]
    low = min(runnable, key=lambda n: runnable[n])
    return low, runnable[low]


def load_cpu_backends(variant: str | None = None) -> str:
    """Load the engine's backends before the first model load; returns what was loaded.

    `variant`: None = the best CPU variant for this CPU; "baseline" = the best one without
    AVX-512/AMX (a safe fallback); or a variant's name ("haswell", "x64", …). GPU backend modules
    found in the lib folder are loaded too (best-scoring one of each kind), as ggml would.
    Returns "builtin" for an engine with linked-in backends (nothing to load), otherwise e.g.
    "cpu-zen4 (score 241)". Raises ValueError for a variant this engine or CPU cannot run and
    RuntimeError when nothing can be loaded.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            if variant is not None:
                log.info("engine backends already loaded (%s); %r not applied", _loaded, variant)
            return _loaded
        lib = lib_dir()
        if not is_dl_build(lib):
            _loaded = "builtin"
            return _loaded
        libggml = _ggml(lib)
        already = registered_backends(libggml)
        if already:  # someone in this process loaded them already
            _loaded = "loaded elsewhere: " + ", ".join(already)
            return _loaded
        loaded: list[str] = []
        for name in BACKEND_NAMES[:-1]:  # GPU and other backends: ggml's rule (best-scoring file)
            best: tuple[int, Path] | None = None
            for path in sorted(lib.glob(f"{_prefix()}{name}-*{_suffix()}")):
                s = _score(path)
                if s > 0 and (best is None or s > best[0]):
                    best = (s, path)
            single = lib / f"{_prefix()}{name}{_suffix()}"
            module = best[1] if best else single if single.is_file() else None
            if module is not None and libggml.ggml_backend_load(str(module).encode()):
                loaded.append(module.name[len(_prefix()) : -len(_suffix())])
        variants = cpu_variants(lib)
        if variants:
            chosen, score = choose_cpu_variant(variant, lib)
            path = variants[chosen]
            what = f"cpu-{chosen} (score {score})"
        else:  # BACKEND_DL without CPU variants: one libggml-cpu module
            if variant not in (None, "baseline"):
                raise ValueError(f"this engine has one CPU backend; variant {variant!r} does not exist")
            path = lib / f"{_prefix()}cpu{_suffix()}"
            what = "cpu"
        if not libggml.ggml_backend_load(str(path).encode()):
            raise RuntimeError(f"llama.cpp could not load its CPU backend {path}")
        _loaded = ", ".join([what, *loaded])
        log.info("engine backends loaded: %s", _loaded)
        return _loaded


def engine_build_info() -> dict[str, Any]:
    """What engine is installed: version, runtime dispatch or not, its variants, and what runs now.

    Imports llama_cpp (loads the native library) but loads no backend and no model."""
    import importlib.metadata

    lib = lib_dir()
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return {
        "version": version,
        "lib_dir": str(lib),
        "backend_dl": is_dl_build(lib),
        "cpu_variants": sorted(cpu_variants(lib)),
        "loaded": _loaded,
        "system_info": raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw),
    }

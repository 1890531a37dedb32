"""Which llama.cpp CPU kernels run on this machine, learned by surviving their crashes.

llama.cpp picks its fastest kernels for the CPU it finds: AVX-512, AMX tiles, weights repacked
into "extra buffer types". On some CPUs those kernels crash natively (a virtualized Sapphire
Rapids Xeon SIGSEGVs in the AMX matmul on the first multi-token decode: llama.cpp #20824,
ollama #17249). The model runs in a child process, so such a crash costs that child only.
The runtime then climbs this ladder, one rung per crash:

    default   what llama.cpp chooses (fastest)
    portable  no extra buffer types: no AMX, no repacked weights; same answers, plain kernels
    safe      portable + the baseline CPU variant (when the engine has several), no mmap,
              small batches, one thread

The rung that works is remembered per engine build, CPU and model (`kernels.json` in the data
dir), so the next start goes straight to it without crashing first.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import platform
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("desktop.llm")

RUNGS = ("default", "portable", "safe")

# Signals that mean native code faulted (or asserted) — a kernel problem worth a safer retry.
# SIGKILL is not among them: that is the out-of-memory killer or a user, and safer kernels
# would not help.
KERNEL_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT})

FILE_NAME = "kernels.json"


@dataclass(frozen=True, slots=True)
class KernelChoice:
    """How the child loads the model on one rung of the ladder."""

    rung: str
    extra_bufts: bool = True
    use_mmap: bool = True
    baseline_variant: bool = False
    max_batch: int | None = None
    one_thread: bool = False

    def to_plan(self) -> dict[str, Any]:
        return {
            "rung": self.rung,
            "extra_bufts": self.extra_bufts,
            "use_mmap": self.use_mmap,
            "baseline_variant": self.baseline_variant,
            "max_batch": self.max_batch,
            "one_thread": self.one_thread,
        }


CHOICES = {
    "default": KernelChoice("default"),
    "portable": KernelChoice("portable", extra_bufts=False),
    "safe": KernelChoice(
        "safe", extra_bufts=False, use_mmap=False, baseline_variant=True, max_batch=64, one_thread=True
    ),
}

# What each rung means to a user, in the notice shown after a fallback.
WORDS = {
    "default": "its fastest kernels",
    "portable": "its portable kernels (no AMX, no repacked weights)",
    "safe": "its safest settings (baseline kernels, one thread, small batches)",
}
# `python -m bench engine` on a 2-core AVX-512 machine (no AMX) with the bundled Q4_1 model: no
# extra buffer types ÷ default = 1.05 prefill, 1.04 decode (noise: nothing to repack there). On a
# CPU whose AMX kernels work, those speed up prompt reading, so the cost is stated as a bound.
PORTABLE_PREFILL_COST = (
    "answers are the same; reading long prompts may be slower than with the fast kernels "
    "(no difference measured on CPUs without AMX)"
)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code prints on fd 2 for the duration (ggml announces every backend it
    loads: "load_backend: loaded CPU backend from …", noise in a terminal chat)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def next_rung(rung: str) -> str | None:
    at = RUNGS.index(rung) if rung in RUNGS else 0
    return RUNGS[at + 1] if at + 1 < len(RUNGS) else None


def signal_name(code: int | None) -> str:
    """`SIGSEGV` for a child that returned -11; `exit 3` otherwise."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def is_kernel_crash(code: int | None) -> bool:
    return code is not None and code < 0 and -code in {int(s) for s in KERNEL_SIGNALS}


def engine_version() -> str:
    """llama-cpp-python's version, read from its `__version__` line: neither importing llama_cpp
    (a second) nor importlib.metadata (tens of ms on every `hearth` command) is needed for it."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError):
            for line in Path(spec.origin).read_text(encoding="utf-8").splitlines():
                if line.startswith("__version__ = "):
                    return line.split("=", 1)[1].strip().strip("\"'")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return "?"


def engine_identity() -> str:
    """The installed llama-cpp-python: version and its native library's size and time (a rebuild
    changes them). No import: loading llama_cpp in the parent would cost a second for nothing."""
    version = engine_version()
    spec = importlib.util.find_spec("llama_cpp")
    stamp = ""
    if spec is not None and spec.origin:
        lib = Path(spec.origin).parent / "lib"
        for so in sorted(lib.glob("libllama*")) if lib.is_dir() else []:
            with contextlib.suppress(OSError):
                st = so.stat()
                stamp += f"{so.name}:{st.st_size}:{int(st.st_mtime)};"
    return f"{version}|{stamp}"


def cpu_identity() -> str:
    """The CPU model and its feature flags (Linux), or what the platform module says."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return f"{platform.machine()}|{platform.processor()}"
    model = flags = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Hardware", "CPU part") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = " ".join(sorted(value.split()))
        if model and flags:
            break
    return f"{platform.machine()}|{model}|{hashlib.sha256(flags.encode()).hexdigest()[:16]}"


def key_for(model_path: str | Path) -> str:
    """One key per engine build × CPU × model file (path, size, mtime)."""
    path = Path(model_path)
    try:
        st = path.stat()
        model = f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}"
    except OSError:
        model = str(path)
    raw = f"{engine_identity()}#{cpu_identity()}#{model}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


class KernelMemory:
    """`kernels.json` in the data dir: per key, the rung that works and what crashed before it."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from desktop.services import paths

            path = paths.data_dir() / FILE_NAME
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not turn a working fallback into a failure
            log.warning("could not remember the kernel choice: %s", exc)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._read().get(key)
        return entry if isinstance(entry, dict) and entry.get("rung") in RUNGS else None

    def rung_for(self, key: str) -> str:
        entry = self.get(key)
        return str(entry["rung"]) if entry else "default"

    def record_crash(self, key: str, rung: str, code: int | None, where: str) -> str | None:
        """Remember that `rung` crashed (so it is not tried again); return the next rung or None."""
        data = self._read()
        entry = data.get(key) if isinstance(data.get(key), dict) else {}
        assert isinstance(entry, dict)
        crashes = dict(entry.get("crashed", {}))
        crashes[rung] = {"signal": signal_name(code), "where": where, "when": time.strftime("%Y-%m-%d %H:%M")}
        nxt = next_rung(rung)
        entry.update({"crashed": crashes, "rung": nxt or rung, "model": entry.get("model", "")})
        data[key] = entry
        self._write(data)
        return nxt

    def record_working(self, key: str, rung: str, model_path: str, prefill_tps: float) -> None:
        data = self._read()
        entry = data.get(key) if isinstance(data.get(key), dict) else {}
        assert isinstance(entry, dict)
        if entry.get("rung") == rung and entry.get("works"):
            return
        entry.update(
            {"rung": rung, "works": True, "model": str(model_path), "prefill_tps": round(prefill_tps, 1)}
        )
        data[key] = entry
        self._write(data)

    def entries(self) -> dict[str, Any]:
        return self._read()


def fallback_notice(crashed: dict[str, Any], rung: str) -> str:
    """What the user reads after a fallback, in words (no stack traces, no jargon beyond one name)."""
    first = next(iter(crashed.items()), None)
    what = "this CPU's fastest llama.cpp kernels (such as AMX or repacked weights)"
    sig = f" ({first[1]['signal']})" if first else ""
    cost = PORTABLE_PREFILL_COST if rung == "portable" else "it is slower, but it works"
    return (
        f"The model engine crashed{sig} with {what}, so Hearth now uses {WORDS.get(rung, rung)} "
        f"for this model on this computer: {cost}. Hearth remembers this choice."
    )

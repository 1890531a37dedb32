"""Probe this machine: CPU cores, memory, load, the GPU backends this llama.cpp build has, free VRAM.

`probe()` never raises: whatever cannot be read is replaced by a conservative guess and a note
(`probe_report().notes`) saying so. The result is cached per process; `probe(refresh=True)` re-reads.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from desktop.core.types import Backend, GpuInfo, HardwareInfo

log = logging.getLogger("desktop.hardware")

GiB = 1024**3
MiB = 1024**2
# When memory cannot be read at all, plan for a small laptop rather than a big one.
FALLBACK_RAM = 4 * GiB
SMI_TIMEOUT_S = 3.0

PROC = Path("/proc")
SYS_CGROUP = Path("/sys/fs/cgroup")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ProbeReport:
    hardware: HardwareInfo
    notes: tuple[str, ...] = ()  # what could not be read and what was assumed instead
    system_info: str = ""  # llama.cpp's own feature line (CPU features, GPU backends compiled in)
    cpu_name: str = ""


@dataclass
class _Notes:
    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        log.info("hardware probe: %s", text)
        self.items.append(text)


_cache: ProbeReport | None = None
_lock = threading.Lock()


def probe(*, refresh: bool = False) -> HardwareInfo:
    """What this machine offers. Cached per process; never raises."""
    return probe_report(refresh=refresh).hardware


def probe_report(*, refresh: bool = False) -> ProbeReport:
    """The probe with its notes (what was guessed) and llama.cpp's system info line."""
    global _cache
    with _lock:
        if _cache is None or refresh:
            _cache = _probe()
        return _cache


def _safe(notes: _Notes, what: str, fn: Callable[[], _T], default: _T) -> _T:
    try:
        return fn()
    except Exception as exc:  # a probe must never take the app down
        notes.add(f"could not read {what} ({type(exc).__name__}: {exc}); assumed {default!r}")
        return default


def _probe() -> ProbeReport:
    notes = _Notes()
    os_name = {"darwin": "darwin", "win32": "windows"}.get(sys.platform, "linux")
    machine = _safe(notes, "the CPU architecture", lambda: platform.machine().lower() or "unknown", "unknown")
    if machine == "aarch64" and os_name == "darwin":
        machine = "arm64"

    logical = _safe(notes, "the number of CPUs", _logical_cores, 1)
    physical = _safe(notes, "the number of physical cores", lambda: _physical_cores(logical, os_name), None)
    if physical is None:
        # Assume hyper-threading: halving never oversubscribes, which is the failure that hurts.
        physical = max(1, logical // 2) if logical >= 4 else logical
        notes.add(f"physical cores unknown: assumed {physical}")
    physical = max(1, min(physical, logical))

    total, available = _safe(notes, "the memory size", lambda: _memory(os_name), (0, 0))
    if total <= 0:
        notes.add(f"memory size unknown: assumed {FALLBACK_RAM // GiB} GB")
        total = FALLBACK_RAM
    if available <= 0 or available > total:
        available = total // 2
        notes.add("free memory unknown: assumed half of it")

    load = _safe(notes, "the load average", _load_average, 0.0)

    cpu_only: tuple[str, tuple[Backend, ...]] = ("", ("cpu",))
    system_info, backends = _safe(notes, "llama.cpp's GPU support", _llama_backends, cpu_only)
    gpus: list[GpuInfo] = []
    gpus += _safe(notes, "NVIDIA GPUs", lambda: _nvidia_gpus(notes), [])
    if os_name == "darwin" and machine == "arm64":
        gpus += _safe(notes, "the Apple GPU", lambda: [_apple_gpu(total, available)], [])
    cpu_name = _safe(notes, "the CPU name", lambda: _cpu_name(os_name), "")

    hw = HardwareInfo(
        physical_cores=physical,
        logical_cores=max(logical, physical),
        ram_total=int(total),
        ram_available=int(available),
        os=os_name,
        machine=machine,
        gpus=tuple(gpus),
        supported_backends=backends,
        load_average=float(load),
    )
    return ProbeReport(hw, tuple(notes.items), system_info, cpu_name)


# ----------------------------------------------------------------------------- CPU


def _logical_cores() -> int:
    """CPUs this process may run on: affinity mask, then a cgroup (container) CPU quota."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        n = min(n, quota)
    return max(1, n)


def _cgroup_cpu_limit() -> int | None:
    try:
        text = (SYS_CGROUP / "cpu.max").read_text().split()
    except OSError:
        return None
    if len(text) == 2 and text[0] != "max":
        try:
            return max(1, math.ceil(int(text[0]) / int(text[1])))
        except (ValueError, ZeroDivisionError):
            return None
    return None


def _physical_cores(logical: int, os_name: str) -> int | None:
    if os_name == "linux":
        return _linux_physical_cores(logical)
    if os_name == "darwin":
        # Apple silicon: count performance cores; efficiency cores slow a decode that waits on them.
        for key in ("hw.perflevel0.physicalcpu", "hw.physicalcpu"):
            value = _sysctl(key)
            if value:
                return int(value)
        return None
    return _windows_physical_cores()


def _linux_physical_cores(logical: int) -> int | None:
    text = (PROC / "cpuinfo").read_text(errors="replace")
    cores: set[tuple[str, str]] = set()
    processors = 0
    phys = core = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip() and core:
            cores.add((phys, core))
            phys = core = ""
    if not cores or not processors:
        return None  # ARM and some VMs list no topology
    threads_per_core = max(1, round(processors / len(cores)))
    # The affinity mask / quota limits us to `logical` CPUs; SMT siblings share a core.
    return max(1, logical // threads_per_core)


def _windows_physical_cores() -> int | None:
    out = subprocess.run(
        ["wmic", "cpu", "get", "NumberOfCores", "/value"],
        capture_output=True,
        text=True,
        timeout=SMI_TIMEOUT_S,
        check=False,
    ).stdout
    numbers = [int(n) for n in re.findall(r"NumberOfCores=(\d+)", out)]
    return sum(numbers) or None


def _cpu_name(os_name: str) -> str:
    if os_name == "linux":
        for line in (PROC / "cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
        return ""
    if os_name == "darwin":
        return _sysctl("machdep.cpu.brand_string") or ""
    return platform.processor()


def _load_average() -> float:
    if hasattr(os, "getloadavg"):
        return round(os.getloadavg()[0], 2)
    return 0.0  # Windows has no load average


# ----------------------------------------------------------------------------- memory


def _memory(os_name: str) -> tuple[int, int]:
    if os_name == "linux":
        total, available = _linux_memory()
    elif os_name == "darwin":
        total, available = _mac_memory()
    else:
        total, available = _windows_memory()
    limit = _cgroup_memory_limit()
    if limit is not None and 0 < limit < total:
        total = limit
        available = min(available, limit)
    return total, available


def _linux_memory() -> tuple[int, int]:
    values: dict[str, int] = {}
    for line in (PROC / "meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024  # kB
    total = values.get("MemTotal", 0)
    available = values.get("MemAvailable") or values.get("MemFree", 0) + values.get("Cached", 0)
    return total, available


def _cgroup_memory_limit() -> int | None:
    try:
        text = (SYS_CGROUP / "memory.max").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _sysctl(key: str) -> str | None:
    out = subprocess.run(
        ["sysctl", "-n", key], capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=False
    )
    return out.stdout.strip() or None if out.returncode == 0 else None


def _mac_memory() -> tuple[int, int]:
    total = int(_sysctl("hw.memsize") or 0)
    out = subprocess.run(
        ["vm_stat"], capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=False
    ).stdout
    page = int(m.group(1)) if (m := re.search(r"page size of (\d+) bytes", out)) else 16384
    pages = {k.strip(): int(v.strip(" .")) for k, v in re.findall(r"^([^:]+):\s+(\d+)\.?$", out, re.M)}
    free = sum(
        pages.get(k, 0) for k in ("Pages free", "Pages inactive", "Pages speculative", "Pages purgeable")
    )
    return total, free * page


def _windows_memory() -> tuple[int, int]:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("sullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        raise OSError("GlobalMemoryStatusEx failed")
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


# ----------------------------------------------------------------------------- GPU

# Names llama.cpp prints in its system info for each GPU backend compiled in.
_BACKEND_TAGS: dict[str, Backend] = {
    "CUDA": "cuda",
    "METAL": "metal",
    "VULKAN": "vulkan",
    "ROCM": "rocm",
    "HIP": "rocm",
}


def parse_system_info(text: str, gpu_offload: bool) -> tuple[Backend, ...]:
    """Backends named in llama.cpp's `llama_print_system_info()` line (e.g. "CUDA : ARCHS = 890 |")."""
    found: list[Backend] = ["cpu"]
    for tag in re.findall(r"(?:^|\|)\s*([A-Za-z][A-Za-z0-9_]*)\s*:", text):
        backend = _BACKEND_TAGS.get(tag.upper())
        if backend and backend not in found:
            found.append(backend)
    if gpu_offload and len(found) == 1:
        # The build offloads but names no backend we know: most builds that do are CUDA.
        log.info("llama.cpp reports GPU offload but no known backend in %r", text)
    return tuple(found)


ENGINE_INFO_FILE = "engine-info.json"


def _llama_backends() -> tuple[str, tuple[Backend, ...]]:
    """What this llama.cpp build can use. Importing llama_cpp and asking takes a fraction of a
    second, so the answer is kept in the data dir per engine build (a rebuild asks again)."""
    import json

    from desktop.services import kernels, paths

    identity = kernels.engine_identity()
    cache = paths.data_dir() / ENGINE_INFO_FILE
    try:
        hit = json.loads(cache.read_text())
        if hit.get("identity") == identity:
            return str(hit["system_info"]), tuple(hit["backends"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    text, backends = _ask_llama_backends()
    try:
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"identity": identity, "system_info": text, "backends": list(backends)}))
        tmp.replace(cache)
    except OSError:
        pass
    return text, backends


def _ask_llama_backends() -> tuple[str, tuple[Backend, ...]]:
    try:  # an engine built with runtime CPU/GPU dispatch names its backends once they are loaded
        from desktop.services import engine, kernels

        with kernels.quiet_native_stderr():
            engine.load_cpu_backends()
    except Exception as exc:
        log.info("engine backends not loaded: %s", exc)
    import llama_cpp

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    raw = llama_cpp.llama_print_system_info()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    backends = parse_system_info(text, offload)
    if not offload:
        backends = ("cpu",)
    return text.strip(), backends


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """`nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits` → GPUs."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            total, free = int(float(parts[-2])) * MiB, int(float(parts[-1])) * MiB
        except ValueError:
            continue
        gpus.append(GpuInfo("cuda", ",".join(parts[:-2]), total, free))
    return gpus


def _nvidia_gpus(notes: _Notes) -> list[GpuInfo]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=SMI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        notes.add(f"nvidia-smi did not answer within {SMI_TIMEOUT_S:.0f} s: GPU memory unknown")
        return []
    if out.returncode != 0:
        notes.add(f"nvidia-smi failed ({out.stderr.strip()[:200]}): is the NVIDIA driver loaded?")
        return []
    return parse_nvidia_smi(out.stdout)


def _apple_gpu(total: int, available: int) -> GpuInfo:
    # Metal lets the GPU use about 2/3 of RAM on smaller Macs, 3/4 on larger ones
    # (recommendedMaxWorkingSetSize); the rest stays with macOS and the apps.
    share = 0.75 if total >= 36 * GiB else 0.66
    usable = int(total * share)
    name = _sysctl("machdep.cpu.brand_string") or "Apple GPU"
    return GpuInfo("metal", name, usable, min(usable, available), unified_memory=True)

"""The hardware probe: sane values on this machine, conservative answers when nothing can be read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.services import hardware

GiB = 1024**3


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    hardware._cache = None
    yield
    hardware._cache = None  # tests below probe under monkeypatches: never leave that answer cached


def test_probe_on_this_machine_is_sane() -> None:
    hw = hardware.probe()
    assert 1 <= hw.physical_cores <= hw.logical_cores <= (os.cpu_count() or 1)
    assert hw.ram_total > 512 * 1024**2 and 0 < hw.ram_available <= hw.ram_total
    assert hw.load_average >= 0
    assert "cpu" in hw.supported_backends
    assert hw.os in ("linux", "darwin", "windows")


def test_probe_is_cached_per_process() -> None:
    assert hardware.probe() is hardware.probe()
    assert hardware.probe_report() is hardware.probe_report()


def test_this_cpu_only_build_reports_no_gpu_backend() -> None:
    # llama-cpp-python here is built for the CPU (ENVIRONMENT.md); the probe must not invent a GPU.
    report = hardware.probe_report()
    assert report.hardware.supported_backends == ("cpu",)
    assert "CPU" in report.system_info


def test_unreadable_proc_gives_a_conservative_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "PROC", tmp_path / "no-proc")
    monkeypatch.setattr(hardware, "SYS_CGROUP", tmp_path / "no-cgroup")
    report = hardware.probe_report(refresh=True)
    hw = report.hardware
    assert hw.physical_cores >= 1 and hw.physical_cores <= hw.logical_cores
    assert hw.ram_total == hardware.FALLBACK_RAM
    assert hw.ram_available == hardware.FALLBACK_RAM // 2
    assert any("memory size unknown" in n for n in report.notes)
    assert any("physical cores unknown" in n for n in report.notes)


def test_no_llama_cpp_and_failing_tools_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> object:
        raise RuntimeError("simulated failure")

    for name in (
        "_llama_backends",
        "_logical_cores",
        "_load_average",
        "_nvidia_gpus",
        "_memory",
        "_cpu_name",
    ):
        monkeypatch.setattr(hardware, name, boom)
    report = hardware.probe_report(refresh=True)
    hw = report.hardware
    assert hw.supported_backends == ("cpu",)
    assert hw.logical_cores == hw.physical_cores == 1
    assert hw.ram_total == hardware.FALLBACK_RAM
    assert len(report.notes) >= 5


def test_cgroup_cpu_quota_limits_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU's worth
    monkeypatch.setattr(hardware, "SYS_CGROUP", tmp_path)
    hw = hardware.probe(refresh=True)
    assert hw.logical_cores == hw.physical_cores == 1


def test_cpuinfo_with_hyperthreads_counts_physical_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 logical CPUs, 2 cores × 2 threads.
    blocks = [f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 2}\n" for i in range(4)]
    (tmp_path / "cpuinfo").write_text("\n".join(blocks))
    monkeypatch.setattr(hardware, "PROC", tmp_path)
    assert hardware._linux_physical_cores(4) == 2
    assert hardware._linux_physical_cores(2) == 1  # an affinity mask of 2 siblings is one core


def test_parse_nvidia_smi() -> None:
    gpus = hardware.parse_nvidia_smi("NVIDIA GeForce RTX 4060 Laptop GPU, 8188, 7710\nbad line\n")
    assert len(gpus) == 1
    g = gpus[0]
    assert (g.backend, g.name, g.vram_total, g.vram_free) == ("cuda", "NVIDIA GeForce RTX 4060 Laptop GPU",
                                                              8188 * 1024**2, 7710 * 1024**2)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "offload", "expected"),
    [
        ("CPU : SSE3 = 1 | AVX2 = 1 | OPENMP = 1 |", False, ("cpu",)),
        ("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | CPU : AVX2 = 1 |", True, ("cpu", "cuda")),
        ("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 |", True, ("cpu", "metal")),
        ("Vulkan : | CPU : AVX2 = 1 |", True, ("cpu", "vulkan")),
    ],
)
def test_parse_system_info(text: str, offload: bool, expected: tuple[str, ...]) -> None:
    assert hardware.parse_system_info(text, offload) == expected


def test_apple_gpu_uses_about_two_thirds_of_unified_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "_sysctl", lambda key: "Apple M2")
    g = hardware._apple_gpu(16 * GiB, 9 * GiB)
    assert g.backend == "metal" and g.unified_memory
    assert g.vram_total == int(16 * GiB * 0.66) and g.vram_free == 9 * GiB

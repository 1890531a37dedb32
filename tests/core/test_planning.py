"""Runtime planning for described machines: where the model runs, threads, context, fit, and why."""

from __future__ import annotations

import pytest

from desktop.core.planning import estimate_memory, plan_runtime
from desktop.core.types import GpuInfo, HardwareInfo, ModelInfo

GiB = 1024**3

# SmolLM2-135M Q4_1 as the bundled file describes itself.
SMOL = ModelInfo("smol.gguf", "smol", "llama", 98_362_432, 134_515_008, "Q4_1", 8192, 30, 576, 9, 3, "t")
# A typical 7B chat model (Llama/Mistral shape, grouped-query attention), Q4_K_M.
SEVEN_B = ModelInfo(
    "7b.gguf", "7b", "llama", int(4.07 * GiB), 7_240_000_000, "Q4_K_M", 32768, 32, 4096, 32, 8, "t"
)

APPLE_M2 = HardwareInfo(
    physical_cores=8,
    logical_cores=8,
    ram_total=16 * GiB,
    ram_available=10 * GiB,
    os="darwin",
    machine="arm64",
    gpus=(GpuInfo("metal", "Apple M2", int(16 * GiB * 0.66), int(16 * GiB * 0.66), unified_memory=True),),
    supported_backends=("cpu", "metal"),
)
RTX_4060_LAPTOP = HardwareInfo(
    physical_cores=8,
    logical_cores=16,
    ram_total=16 * GiB,
    ram_available=11 * GiB,
    os="windows",
    machine="x86_64",
    gpus=(GpuInfo("cuda", "NVIDIA GeForce RTX 4060 Laptop GPU", 8 * GiB, int(7.6 * GiB)),),
    supported_backends=("cpu", "cuda"),
)
TWO_CORE_CPU = HardwareInfo(2, 2, 24 * GiB, 20 * GiB, "linux", "x86_64")
SMALL_LAPTOP = HardwareInfo(2, 4, 4 * GiB, int(2.5 * GiB), "windows", "x86_64")


def test_apple_m2_runs_everything_on_metal() -> None:
    plan = plan_runtime(APPLE_M2, SEVEN_B)
    assert plan.backend == "metal"
    assert plan.n_gpu_layers == SEVEN_B.n_layers + 1  # every block and the output layer
    assert plan.fit == "fits"
    assert "Metal" in plan.reason and "all 32 layers" in plan.reason and "unified memory" in plan.reason


def test_rtx_4060_runs_a_7b_q4_fully_on_cuda() -> None:
    plan = plan_runtime(RTX_4060_LAPTOP, SEVEN_B)
    assert plan.backend == "cuda"
    assert plan.n_gpu_layers == 33
    assert plan.fit == "fits"
    assert plan.memory is not None and plan.memory.total < 7.6 * GiB
    assert plan.reason.startswith("CUDA: all 32 layers on NVIDIA GeForce RTX 4060")


def test_two_core_cpu_box_decodes_on_one_thread() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SMOL)
    assert (plan.backend, plan.n_gpu_layers) == ("cpu", 0)
    assert plan.n_threads == 1
    # No spare core for the prompt either: a second spinning thread collapses under contention.
    assert plan.n_threads_batch == 1
    assert plan.n_ctx == 8192 and plan.fit == "fits"
    assert "no GPU support" in plan.reason and "1 of 2 cores for decoding" in plan.reason


def test_small_laptop_asked_for_a_7b_wont_fit_and_says_why() -> None:
    plan = plan_runtime(SMALL_LAPTOP, SEVEN_B)
    assert plan.fit == "wont_fit"
    assert "4.0 GB of memory in all" in plan.reason
    assert "smaller model" in plan.reason


def test_short_vram_offloads_only_some_layers() -> None:
    hw = HardwareInfo(
        8, 16, 32 * GiB, 24 * GiB, "linux", "x86_64",
        gpus=(GpuInfo("cuda", "GTX 1650", 4 * GiB, 3 * GiB),), supported_backends=("cpu", "cuda"),
    )  # fmt: skip
    plan = plan_runtime(hw, SEVEN_B)
    assert plan.backend == "cuda"
    assert 1 <= plan.n_gpu_layers < SEVEN_B.n_layers
    # The layers we put there must fit in what is free.
    assert plan.memory is not None
    per_layer = (plan.memory.weights + plan.memory.kv_cache) / (SEVEN_B.n_layers + 1)
    assert plan.n_gpu_layers * per_layer < 3 * GiB
    assert f"{plan.n_gpu_layers} of 32 layers" in plan.reason and "rest on the CPU" in plan.reason
    assert plan.n_threads == 7  # the CPU still runs the other layers


def test_gpu_too_small_for_one_layer_falls_back_to_cpu() -> None:
    hw = HardwareInfo(
        4, 8, 32 * GiB, 24 * GiB, "linux", "x86_64",
        gpus=(GpuInfo("cuda", "tiny", 512 * 1024**2, 300 * 1024**2),), supported_backends=("cpu", "cuda"),
    )  # fmt: skip
    plan = plan_runtime(hw, SEVEN_B)
    assert plan.backend == "cpu" and plan.n_gpu_layers == 0
    assert "not enough for even one layer" in plan.reason


def test_gpu_off_forces_cpu() -> None:
    plan = plan_runtime(RTX_4060_LAPTOP, SEVEN_B, gpu="off")
    assert (plan.backend, plan.n_gpu_layers) == ("cpu", 0)
    assert "GPU turned off in settings" in plan.reason


def test_a_gpu_this_build_cannot_use_is_named_in_the_reason() -> None:
    hw = HardwareInfo(
        8, 16, 16 * GiB, 12 * GiB, "linux", "x86_64",
        gpus=(GpuInfo("cuda", "RTX 3060", 12 * GiB, 11 * GiB),), supported_backends=("cpu",),
    )  # fmt: skip
    plan = plan_runtime(hw, SMOL)
    assert plan.backend == "cpu"
    assert "no support for your GPU (RTX 3060 (CUDA))" in plan.reason


def test_requested_context_above_training_is_clamped_with_a_reason() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SMOL, n_ctx=100_000)
    assert plan.n_ctx == 8192
    assert "clamped from 100000 to 8192" in plan.reason


def test_requested_context_within_training_is_kept() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SMOL, n_ctx=2048)
    assert plan.n_ctx == 2048 and plan.n_batch <= 2048
    assert "clamped" not in plan.reason


def test_cpu_context_is_capped_by_default_even_when_the_model_allows_more() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SEVEN_B)
    assert plan.n_ctx == 8192
    assert "the model allows 32768" in plan.reason


def test_busy_machine_gets_fewer_threads() -> None:
    idle = HardwareInfo(8, 16, 32 * GiB, 24 * GiB, "linux", "x86_64", load_average=0.2)
    busy = HardwareInfo(8, 16, 32 * GiB, 24 * GiB, "linux", "x86_64", load_average=5.0)
    assert plan_runtime(idle, SMOL).n_threads == 7
    plan = plan_runtime(busy, SMOL)
    assert plan.n_threads == 3
    assert "other programs keep the CPU busy (load 5.0)" in plan.reason


def test_fully_busy_two_core_machine_still_gets_one_thread() -> None:
    hw = HardwareInfo(2, 2, 24 * GiB, 20 * GiB, "linux", "x86_64", load_average=4.0)
    plan = plan_runtime(hw, SMOL)
    assert plan.n_threads == plan.n_threads_batch == 1


def test_threads_setting_is_respected() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SMOL, threads=2)
    assert plan.n_threads == plan.n_threads_batch == 2
    assert "2 CPU threads as set" in plan.reason


def test_prompt_may_use_more_threads_than_decode_on_bigger_machines() -> None:
    hw = HardwareInfo(6, 12, 32 * GiB, 24 * GiB, "linux", "x86_64")
    plan = plan_runtime(hw, SMOL)
    assert plan.n_threads == 5 and plan.n_threads_batch == 6


def test_low_free_memory_is_may_be_slow() -> None:
    hw = HardwareInfo(8, 8, 8 * GiB, int(1.0 * GiB), "linux", "x86_64")
    plan = plan_runtime(
        hw, ModelInfo("m", "m", "llama", 2 * GiB, None, "Q4_K_M", 4096, 26, 2048, 16, 16, None)
    )
    assert plan.fit == "may_be_slow"
    assert "only 1.0 GB is free" in plan.reason


def test_big_model_on_few_cpu_threads_is_may_be_slow() -> None:
    plan = plan_runtime(TWO_CORE_CPU, SEVEN_B)
    assert plan.fit == "may_be_slow"
    assert "a few words per second" in plan.reason


@pytest.mark.parametrize("n_ctx", [512, 2048, 8192])
def test_kv_cache_grows_with_context_and_uses_kv_heads(n_ctx: int) -> None:
    est = estimate_memory(SMOL, n_ctx)
    # 2 (K,V) × 30 layers × n_ctx × (576 / 9 heads × 3 kv heads) × 2 bytes
    assert est.kv_cache == 2 * 30 * n_ctx * 192 * 2
    assert est.weights == SMOL.file_size
    assert est.total == est.weights + est.kv_cache + est.overhead


def test_model_without_metadata_does_not_crash_planning() -> None:
    bare = ModelInfo("x", "x", "unknown", 10_000_000, None, "unknown", 0, 0, 0, 0, 0, None)
    plan = plan_runtime(TWO_CORE_CPU, bare)
    assert plan.n_ctx == 2048 and plan.fit == "fits"


def test_prompt_threads_use_free_cores_only_when_the_machine_is_idle() -> None:
    from desktop.core.planning import prompt_threads_now

    assert prompt_threads_now(planned=1, physical=2, load=0.1) == 2  # idle laptop: both cores read
    assert prompt_threads_now(planned=1, physical=2, load=1.0) == 1  # one core busy: the plan stands
    assert prompt_threads_now(planned=1, physical=2, load=6.0) == 1  # shared, loaded machine
    assert prompt_threads_now(planned=3, physical=8, load=2.0) == 6
    assert prompt_threads_now(planned=4, physical=64, load=0.0) == 16  # capped
    assert prompt_threads_now(planned=2, physical=1, load=0.0) == 2  # never below the plan

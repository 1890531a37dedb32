"""Build the chat runtime from settings: which model, the plan for this machine, the process."""

from __future__ import annotations

from dataclasses import dataclass

from desktop.core.settings import SettingsStore
from desktop.core.types import HardwareInfo, ModelInfo, RuntimePlan
from desktop.services.llm import LlamaRuntime


@dataclass(frozen=True, slots=True)
class RuntimeChoice:
    model: ModelInfo
    hardware: HardwareInfo
    plan: RuntimePlan


def choose_runtime(
    settings: SettingsStore, model: str | None = None, *, hw: HardwareInfo | None = None
) -> RuntimeChoice:
    """Resolve the model (empty: the bundled default), probe this machine, and plan how to run it."""
    from desktop.core.planning import plan_runtime
    from desktop.services import hardware, models

    info = models.resolve_model(model if model is not None else settings["model"])
    hw = hw or hardware.probe()
    plan = plan_runtime(
        hw,
        info,
        n_ctx=int(settings["context_size"]),
        gpu=str(settings["gpu"]),
        threads=int(settings["threads"]),
    )
    return RuntimeChoice(info, hw, plan)


def open_runtime(settings: SettingsStore, model: str | None = None) -> tuple[LlamaRuntime, RuntimeChoice]:
    """A runtime handle, not yet started (start() loads the model in its child process)."""
    choice = choose_runtime(settings, model)
    return LlamaRuntime(choice.model.path, choice.plan), choice

"""The model team at run time: the chat model's runtime with a small model's beside it.

`open_runtime` (services/runtime.py) wraps the chat model's runtime in a `TeamRuntime` when the
`model_team` setting is on and the small model is another file. The wrapper is the chat model's
runtime in every respect (answers, chat, final summaries); the use cases ask `core.team.role_for`
which job goes to `small`. The small model starts on its first job, in its own model process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from desktop.core.settings import SettingsStore

log = logging.getLogger("desktop.team")


def model_label(runtime: Any) -> str:
    """The name of the model that answers through `runtime`: its GGUF file's name, or the model
    server's model with the server's address."""
    active = getattr(runtime, "active", runtime)  # ServerFirstRuntime: whichever answers now
    path = getattr(active, "model_path", None)
    if path:
        return Path(str(path)).name
    remote = getattr(active, "model", None)
    address = getattr(active, "address", None)
    if remote is not None and address is not None:
        return f"{remote or 'model'} on {getattr(address, 'display', address)}"
    return ""


class TeamRuntime:
    """The chat model's runtime (`large`), with `small` for the jobs the team policy gives it."""

    def __init__(self, large: Any, small: Any) -> None:
        self.large = large
        self.small = small

    def __getattr__(self, name: str) -> Any:
        # Everything else is the chat model's: stream_chat, n_ctx, info, pid, model_path, ...
        return getattr(self.large, name)

    def close(self) -> None:
        try:
            self.small.close()
        finally:
            self.large.close()

    def __enter__(self) -> TeamRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def small_runtime(settings: SettingsStore, large_path: str | Path) -> Any:
    """The team's small model (not started), or None when the team is off or the small model
    is the chat model itself."""
    from desktop.services.llm import LlamaRuntime
    from desktop.services.runtime import choose_runtime

    if str(settings["model_team"]) != "on":
        return None
    choice = choose_runtime(settings, str(settings["team_small_model"]))
    if Path(choice.model.path).resolve() == Path(large_path).resolve():
        log.info("model team: the small model is the chat model; no team")
        return None
    return LlamaRuntime(choice.model.path, choice.plan)


def team_small(runtime: Any) -> Any:
    """The small model of a team runtime, or None."""
    return runtime.small if isinstance(runtime, TeamRuntime) else None

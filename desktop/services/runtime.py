"""Build the chat runtime from settings: which model, the plan for this machine, the process.

With a model server in settings (and allowed by the administrator's policy) the runtime is a
`ServerFirstRuntime`: answers come from the server, and whenever it is unreachable or times out
before an answer starts, from the model on this computer instead, with a notice. Without one,
nothing changes: the local `LlamaRuntime`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from desktop.core.chat import GenerationParams
from desktop.core.events import Event, Notice
from desktop.core.jobs import CancelToken
from desktop.core.settings import SettingsStore
from desktop.core.types import ChatMessage, Completion, HardwareInfo, ModelInfo, RuntimePlan
from desktop.services.llm import LlamaRuntime, RuntimeInfo

log = logging.getLogger("desktop.runtime")


@dataclass(frozen=True, slots=True)
class RuntimeChoice:
    model: ModelInfo
    hardware: HardwareInfo
    plan: RuntimePlan
    server: str = ""  # the model server's address when answers come from one ("" : this computer)
    server_notice: str = ""  # why a named server is not used (policy, plain http), or a warning


def choose_runtime(
    settings: SettingsStore, model: str | None = None, *, hw: HardwareInfo | None = None
) -> RuntimeChoice:
    """Resolve the model (empty: the bundled default), probe this machine, and plan how to run it."""
    from desktop.core.planning import plan_runtime
    from desktop.services import hardware, models

    info, adapter = models.resolve_choice(model if model is not None else settings["model"])
    hw = hw or hardware.probe()
    plan = plan_runtime(
        hw,
        info,
        n_ctx=int(settings["context_size"]),
        gpu=str(settings["gpu"]),
        threads=int(settings["threads"]),
    )
    if adapter:  # "base + adapter" (models list): the model child applies it at the setting's scale
        plan = replace(plan, lora_path=adapter, lora_scale=float(settings["lora_scale"]))
    server, notice = _model_server(settings)
    return RuntimeChoice(info, hw, plan, server.address.url if server and server.address else "", notice)


def _model_server(settings: SettingsStore) -> tuple[Any, str]:
    """The model server the settings name, if the policy allows it, and a notice to show."""
    from desktop.services import policy

    servers = policy.allow_named_servers(settings)  # the guard lets exactly these through
    server = next((s for s in servers if s.key == "model_server_url"), None)
    if server is None:
        return None, ""
    if server.address is None:
        return None, f"{server.refused} Hearth answers with the model on this computer."
    return server, server.warning


def open_runtime(
    settings: SettingsStore, model: str | None = None, *, server: bool = True
) -> tuple[Any, RuntimeChoice]:
    """A runtime handle, not yet started (start() loads the model in its child process, or checks
    the model server). Nothing here touches the network. `server=False`: the local model only
    (checks of this computer's engine). With the `model_team` setting on, a services/team.py
    TeamRuntime: this runtime with the team's small model beside it."""
    from desktop.services.team import TeamRuntime, small_runtime

    runtime, choice = _open_runtime(settings, model, server=server)
    small = small_runtime(settings, choice.model.path) if server else None
    return (TeamRuntime(runtime, small) if small is not None else runtime), choice


def _open_runtime(settings: SettingsStore, model: str | None, *, server: bool) -> tuple[Any, RuntimeChoice]:
    choice = choose_runtime(settings, model)
    local = LlamaRuntime(choice.model.path, choice.plan)
    if not server:
        return local, choice
    if not choice.server:
        if choice.server_notice:
            return ServerFirstRuntime(None, local, notices=(choice.server_notice,)), choice
        return local, choice
    notices = (choice.server_notice,) if choice.server_notice else ()
    return ServerFirstRuntime(remote_runtime(settings, choice), local, notices=notices), choice


def remote_runtime(settings: SettingsStore, choice: RuntimeChoice) -> Any:
    """The model server's runtime for `choice` (which must name one), not yet started."""
    from desktop.core.policy import parse_server_url
    from desktop.services.remote_llm import RemoteRuntime

    return RemoteRuntime(
        parse_server_url(choice.server),
        str(settings["model_server_model"]),
        token=server_token(),
        n_ctx=choice.plan.n_ctx,
        n_params=choice.model.n_params or 0,
        timeout_s=float(settings["model_server_timeout"]),
    )


def server_token() -> str | None:
    """The model server's token from the OS keyring (None: none set, or no keyring here)."""
    from desktop.core.errors import SecretsUnavailable
    from desktop.services import secrets
    from desktop.services.remote_llm import TOKEN_SECRET

    try:
        return secrets.get_secret(TOKEN_SECRET)
    except SecretsUnavailable as exc:
        log.info("no model server token: %s", exc.user_message)
        return None


class ServerFirstRuntime:
    """The model server while it answers, the local model when it does not.

    - The server is unreachable or times out before an answer starts: the same request is
      answered by the local model, with a Notice saying so.
    - It stops in the middle of an answer: that answer ends with a clear error (its words so far
      cannot be mixed with another model's), and the next request goes to the local model.
    - After a failure, the server is tried again after `retry_s` (a refused connection costs
      nothing; an unreachable host costs the connect timeout, off the window's thread).
    """

    def __init__(
        self,
        remote: Any,
        local: LlamaRuntime,
        *,
        notices: Sequence[str] = (),
        retry_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remote = remote
        self.local = local
        self.retry_s = retry_s
        self._clock = clock
        self._pending: list[str] = list(notices)
        self._down_since: float | None = None if remote is not None else 0.0
        self._local_notified = False

    # -- which one answers

    @property
    def using_server(self) -> bool:
        if self.remote is None:
            return False
        return self._down_since is None or self._clock() - self._down_since >= self.retry_s

    def _server_down(self, why: str) -> None:
        self._down_since = self._clock()
        if self.remote is not None:
            self.remote.close()
        log.info("model server unavailable: %s", why)  # the user sees it as a Notice

    @property
    def active(self) -> Any:
        return self.remote if self.using_server else self.local

    @property
    def info(self) -> RuntimeInfo | None:
        return self.active.info

    @property
    def alive(self) -> bool:
        return bool(self.active.alive)

    @property
    def pid(self) -> int | None:
        return self.local.pid

    @property
    def restarts(self) -> int:
        return self.local.restarts

    def start(self) -> RuntimeInfo:
        """Check the server (or load the local model when it does not answer). Blocks; call it
        off the window's thread, as LlamaRuntime.start."""
        from desktop.services.remote_llm import ServerUnavailable

        if self.using_server:
            try:
                info: RuntimeInfo = self.remote.start()
                self._down_since = None
                return self._with_pending(info)
            except ServerUnavailable as exc:
                self._server_down(exc.user_message)
                self._pending.append(f"{exc.user_message} Hearth answers with the model on this computer.")
                self._local_notified = True
        return self._with_pending(self.local.start())

    def _with_pending(self, info: RuntimeInfo) -> RuntimeInfo:
        if not self._pending:
            return info
        return replace(info, notices=(*info.notices, *self._pending))

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()
        self.local.close()

    def __enter__(self) -> ServerFirstRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests

    @property
    def n_ctx(self) -> int:
        return int(self.start().n_ctx)

    @property
    def n_params(self) -> int:
        return int(self.active.n_params)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return int(self.active.count_tokens(messages))

    def count_text_tokens(self, texts: Sequence[str]) -> list[int]:
        return list(self.active.count_text_tokens(texts))

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams, cancel: CancelToken
    ) -> Generator[Event, None, Completion]:
        from desktop.services.remote_llm import ServerUnavailable

        for note in self._pending:
            yield Notice(note, "warning")
        self._pending = []
        if self.using_server:
            was_down = self._down_since is not None
            try:
                self.remote.start()
                if was_down:
                    self._down_since = None
                    yield Notice(f"The model server {self.remote.address.display} answers again.", "info")
                self._local_notified = False
                return (yield from self.remote.stream_chat(messages, params, cancel))
            except ServerUnavailable as exc:
                self._server_down(exc.user_message)
                if exc.streamed:
                    raise ServerUnavailable(
                        exc.user_message,
                        "Ask again: Hearth now answers with the model on this computer.",
                        detail=exc.detail,
                        streamed=True,
                    ) from exc
                yield Notice(f"{exc.user_message} Hearth answers with the model on this computer.", "warning")
                self._local_notified = True
        elif self.remote is not None and not self._local_notified:
            self._local_notified = True
            yield Notice(
                f"The model server {self.remote.address.display} did not answer earlier; "
                "Hearth answers with the model on this computer.",
                "warning",
            )
        return (yield from self.local.stream_chat(messages, params, cancel))

"""Every setting, declared once: type, default, title, help, and whether it needs a restart.

The settings dialog and `hearth settings` are generated from `SETTINGS`; values live in
`settings.json` in the data dir and are validated against the declaration when read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    type: type
    default: Any
    title: str
    help: str
    section: str = "General"
    restart: bool = False
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def validate(self, value: Any) -> Any:
        """Return `value` coerced to this setting's type, or raise ValueError."""
        if self.type is bool:
            if isinstance(value, bool):
                v: Any = value
            elif isinstance(value, str) and value.lower() in _TRUE | _FALSE:
                v = value.lower() in _TRUE
            else:
                raise ValueError(f"{self.key}: expected true or false, got {value!r}")
        else:
            try:
                v = self.type(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.key}: expected {self.type.__name__}, got {value!r}") from exc
        if self.choices and v not in self.choices:
            raise ValueError(f"{self.key}: must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and v < self.minimum:
            raise ValueError(f"{self.key}: must be at least {self.minimum}")
        if self.maximum is not None and v > self.maximum:
            raise ValueError(f"{self.key}: must be at most {self.maximum}")
        return v


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "model",
        str,
        "",
        "Chat model",
        "Name or path of the GGUF model to use. Empty: the bundled default.",
        "Model",
        restart=True,
    ),
    Setting(
        "context_size",
        int,
        0,
        "Context window (tokens)",
        "0 lets Hearth choose from the model and this machine's memory.",
        "Model",
        restart=True,
        minimum=0,
        maximum=262144,
    ),
    Setting(
        "gpu",
        str,
        "auto",
        "Use the GPU",
        "auto: use a GPU when this build and the model allow it; off: always CPU.",
        "Model",
        restart=True,
        choices=("auto", "off"),
    ),
    Setting(
        "lora_scale",
        float,
        1.0,
        "LoRA adapter strength",
        "How strongly a chosen 'model + adapter' applies its LoRA adapter: 1 as trained, 0 the base "
        "model as it is, between them a blend.",
        "Model",
        restart=True,
        minimum=0.0,
        maximum=2.0,
    ),
    Setting(
        "threads",
        int,
        0,
        "CPU threads",
        "0 lets Hearth choose (it leaves room for the rest of your work).",
        "Model",
        restart=True,
        minimum=0,
        maximum=256,
    ),
    Setting(
        "model_team",
        str,
        "off",
        "Model team",
        "on: a second, smaller model does the cheap, frequent steps (reading each section of a long "
        "summary) and the chat model writes answers and final summaries; which job goes to which "
        "model, and why, is core/team.py's policy (docs/models.md). off: the chat model does all.",
        "Model",
        restart=True,
        choices=("off", "on"),
    ),
    Setting(
        "team_small_model",
        str,
        "",
        "Model team: small model",
        "Name or path of the team's small model. Empty: the bundled default.",
        "Model",
        restart=True,
    ),
    Setting(
        "temperature",
        float,
        0.3,
        "Temperature",
        "Lower is more focused and repeatable; higher is more varied.",
        "Answers",
        minimum=0.0,
        maximum=2.0,
    ),
    Setting(
        "max_answer_tokens",
        int,
        512,
        "Longest answer (tokens)",
        "Upper limit on the length of one answer.",
        "Answers",
        minimum=16,
        maximum=8192,
    ),
    Setting(
        "system_prompt",
        str,
        "You are Hearth, a helpful assistant running privately on the user's computer. "
        "Answer clearly and concisely.",
        "System prompt",
        "Instructions given to the model at the start of every new chat.",
        "Answers",
    ),
    Setting(
        "sources_per_answer",
        int,
        6,
        "Sources per answer",
        "Most passages given to the model for a document question (fewer if the context is small).",
        "Library",
        minimum=1,
        maximum=20,
    ),
    Setting(
        "answer_mode",
        str,
        "auto",
        "How answers are written",
        "grounded: the answer quotes your documents, plus at most two model sentences the quotes "
        "support; checked: the model writes the answer and every sentence is checked against the "
        "sources; auto: grounded for models under 1B parameters.",
        "Answers",
        choices=("auto", "grounded", "checked"),
    ),
    Setting(
        "summary_mode",
        str,
        "auto",
        "How summaries are written",
        "grounded: the key points are the document's own sentences and the model writes a short, "
        "checked overview; abstractive: the model writes every point; auto: grounded for models "
        "under 1B parameters.",
        "Summaries",
        choices=("auto", "grounded", "abstractive"),
    ),
    Setting(
        "summary_style",
        str,
        "key_points",
        "Summary style",
        "The default style of a summary.",
        "Summaries",
        choices=("paragraph", "key_points", "detailed"),
    ),
    Setting(
        "theme",
        str,
        "system",
        "Theme",
        "Follow the system, or force light or dark.",
        "Appearance",
        choices=("system", "light", "dark"),
    ),
    Setting(
        "model_server_url",
        str,
        "",
        "Model server",
        "An OpenAI-compatible chat server on your network (llama.cpp, vLLM, Ollama, LM Studio), "
        "e.g. https://gpu-box:8080. Your questions and the passages they rest on are sent to it. "
        "Empty: only the model on this computer.",
        "Servers",
        restart=True,
    ),
    Setting(
        "model_server_model",
        str,
        "",
        "Model on the server",
        "The model name the server expects (empty: the server's default). Its token, if it needs "
        "one, is kept in the system keyring: hearth settings token.",
        "Servers",
        restart=True,
    ),
    Setting(
        "model_server_timeout",
        float,
        60.0,
        "Model server timeout (seconds)",
        "How long to wait for the server's next word before Hearth answers with the local model.",
        "Servers",
        restart=True,
        minimum=1.0,
        maximum=600.0,
    ),
    Setting(
        "library_server_url",
        str,
        "",
        "Team library server",
        "A Chroma server holding a shared library, e.g. https://library-box:8000. Passages are "
        "sent to it. Empty: only the library on this computer.",
        "Servers",
    ),
    Setting(
        "library_server_prefix",
        str,
        "team",
        "Team library prefix",
        "The team library's collections on the server are named PREFIX-NAME, so one Chroma server "
        "can hold several teams' libraries. Everyone sharing a library uses the same prefix.",
        "Servers",
    ),
    Setting(
        "allow_plain_http",
        bool,
        False,
        "Allow unencrypted http:// to other computers",
        "Off: a server on another computer must use https:// (its certificate is verified). "
        "On: anyone on the network path can read what is sent. Loopback is always allowed.",
        "Servers",
        restart=True,
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def defaults() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}


class SettingLocked(ValueError):
    """A setting an administrator's policy file pins cannot be changed."""


class SettingsStore:
    """Settings read from and written to one JSON file; invalid values fall back to defaults.

    Keys no longer declared (a setting that was removed, such as `allow_remote`) are ignored when
    read and dropped at the next save: an older settings.json always loads, without a complaint."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values = defaults()
        self._locks: dict[str, tuple[Any, str]] = {}  # key → (value, policy file): see lock()
        self.problems: list[str] = []
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.problems.append(f"settings file unreadable ({exc}); using defaults")
            return
        if not isinstance(raw, dict):
            self.problems.append("settings file is not an object; using defaults")
            return
        for key, value in raw.items():
            setting = BY_KEY.get(key)
            if setting is None:
                continue
            try:
                self._values[key] = setting.validate(value)
            except ValueError as exc:
                self.problems.append(str(exc))

    def lock(self, key: str, value: Any, source: str) -> None:
        """Pin `key` to `value` (an administrator's policy, `source` names it): reads return the
        pinned value and set/update refuse to change it."""
        self._locks[key] = (BY_KEY[key].validate(value), source)

    def locked_by(self, key: str) -> str | None:
        """The policy file that locks `key`, or None."""
        lock = self._locks.get(key)
        return lock[1] if lock else None

    def get(self, key: str) -> Any:
        return self[key]

    def __getitem__(self, key: str) -> Any:
        lock = self._locks.get(key)
        return lock[0] if lock else self._values[key]

    def as_dict(self) -> dict[str, Any]:
        return {k: self[k] for k in self._values}

    def _refuse_locked(self, key: str, value: Any) -> None:
        lock = self._locks.get(key)
        if lock is not None and BY_KEY[key].validate(value) != lock[0]:
            raise SettingLocked(f"{key}: locked by {lock[1]}")

    def set(self, key: str, value: Any) -> None:
        setting = BY_KEY.get(key)
        if setting is None:
            raise KeyError(f"unknown setting {key!r}")
        self._refuse_locked(key, value)
        if key in self._locks:
            return  # the pinned value: the user's own stays on disk for when the policy goes
        self._values[key] = setting.validate(value)
        self.save()

    def update(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            if k in BY_KEY:
                self._refuse_locked(k, v)
        free = {k: v for k, v in values.items() if k in BY_KEY and k not in self._locks}
        validated = {k: BY_KEY[k].validate(v) for k, v in free.items()}
        self._values.update(validated)
        self.save()

    def save(self) -> None:
        """Write atomically: a crash or a full disk never leaves a half-written file."""
        import tempfile  # here, not at import: the window reads its settings before its first frame

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._values, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

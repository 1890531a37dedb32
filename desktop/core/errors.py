"""Expected failures, each with a message a user understands and a hint on what to do."""

from __future__ import annotations

from typing import Any

# Every AppError class by its `kind` (the first class declaring a kind), so an error raised in a
# child process (the model runtime, the PDF worker) is rebuilt as the same kind in the parent.
_BY_KIND: dict[str, type[AppError]] = {}


class AppError(Exception):
    """An expected failure. `user_message` is shown as is; `hint` says what to do next."""

    kind = "error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _BY_KIND.setdefault(cls.kind, cls)

    def __init__(self, user_message: str, hint: str = "", *, detail: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.hint = hint
        self.detail = detail  # technical detail, for logs and "copy details"

    def __str__(self) -> str:
        return f"{self.user_message} — {self.hint}" if self.hint else self.user_message

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.user_message, "hint": self.hint}

    def to_wire(self) -> tuple[str, str, str, str, dict[str, str]]:
        """What crosses a process pipe: kind, message, hint, detail and the kind's own fields."""
        extra = {k: v for k, v in self.to_dict().items() if k not in ("kind", "message", "hint")}
        return (self.kind, self.user_message, self.hint, self.detail, extra)


def from_wire(
    kind: str, message: str, hint: str = "", detail: str = "", extra: dict[str, str] | None = None
) -> AppError:
    """The error `to_wire` described, as its own kind (AppError for a kind this process does not know)."""
    cls = _BY_KIND.get(kind, AppError)
    err = cls.__new__(cls)
    AppError.__init__(err, message, hint, detail=detail)
    for name, value in (extra or {}).items():
        setattr(err, name, value)
    return err


class Cancelled(AppError):
    """The user stopped the job. Not a failure: callers usually show nothing."""

    kind = "cancelled"
    partial: object = None

    def __init__(self, user_message: str = "Stopped.", hint: str = "", *, partial: object = None) -> None:
        super().__init__(user_message, hint)
        self.partial = partial  # what was done before the stop (e.g. a Completion), if anything


class ModelFileError(AppError):
    """A file that is not a usable GGUF model (empty, truncated, wrong magic, too big …)."""

    kind = "model_file"


class ModelNotFound(AppError):
    kind = "model_not_found"


class ModelCrashed(AppError):
    """The model runtime process ended unexpectedly; the app restarts it on the next request."""

    kind = "model_crashed"


class ContextOverflow(AppError):
    """A single message (or a document section) does not fit the model's context window."""

    kind = "context_overflow"


class DocumentError(AppError):
    """A document that cannot be read: password-protected, scanned, corrupt, not a PDF …"""

    kind = "document"
    reason = "unreadable"

    def __init__(self, user_message: str, hint: str = "", *, reason: str = "", detail: str = ""):
        super().__init__(user_message, hint, detail=detail)
        self.reason = reason or "unreadable"  # a short machine-readable code, e.g. "encrypted"

    def to_dict(self) -> dict[str, str]:
        d = super().to_dict()
        d["reason"] = self.reason
        return d


class StorageError(AppError):
    """Disk full, data dir not writable, index damaged beyond repair, locked by another process."""

    kind = "storage"


class NetworkRefused(AppError):
    """Something tried to reach another machine; the privacy guard refused it."""

    kind = "network_refused"


class SecretsUnavailable(AppError):
    kind = "secrets"

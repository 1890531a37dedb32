"""The OS keyring: where the key of Hearth's encrypted stores lives (services/database.py), never in a file.

With no keyring backend (a headless box, a minimal desktop) Hearth says so plainly and the data
is protected by a passphrase instead; it never falls back to a plain-text store such as
keyrings.alt (base64 in a file is not protection).
"""

from __future__ import annotations

import logging
from typing import Any

from desktop.core.errors import SecretsUnavailable

log = logging.getLogger("desktop.secrets")
SERVICE = "Hearth"
# Backends that do not protect anything: refuse them even if installed.
_UNSAFE_BACKENDS = ("keyrings.alt", "keyring.backends.fail", "keyring.backends.null")


def _backend() -> Any:
    import keyring

    backend = keyring.get_keyring()
    chained = getattr(backend, "backends", None)
    candidates = list(chained) if chained else [backend]
    safe = [b for b in candidates if not type(b).__module__.startswith(_UNSAFE_BACKENDS)]
    if not safe:
        raise SecretsUnavailable(
            "No secure keyring is available on this computer, so Hearth cannot store secrets.",
            "Hearth works without them. To save secrets, run a keyring service "
            "(GNOME Keyring, KWallet, macOS Keychain or Windows Credential Manager).",
            detail=f"keyring backend: {backend!r}",
        )
    return safe[0]


def available() -> bool:
    try:
        _backend()
    except SecretsUnavailable:
        return False
    return True


def require(purpose: str) -> None:
    """Raise SecretsUnavailable, saying what cannot be done, when there is no secure keyring.

    `purpose` finishes "Without a keyring, …" (e.g. "a model server that needs a token cannot be
    used"); a secret is never written to a file instead."""
    try:
        _backend()
    except SecretsUnavailable as exc:
        raise SecretsUnavailable(
            exc.user_message,
            f"Without a keyring, {purpose}: Hearth never keeps secrets in a file. Run a keyring service "
            "(GNOME Keyring, KWallet, macOS Keychain or Windows Credential Manager) and try again.",
            detail=exc.detail,
        ) from None


def backend_name() -> str:
    try:
        b = _backend()
    except SecretsUnavailable:
        return "none"
    return f"{type(b).__module__}.{type(b).__name__}"


def set_secret(name: str, value: str) -> None:
    backend = _backend()
    try:
        backend.set_password(SERVICE, name, value)
    except Exception as exc:  # the keyring library raises many kinds (locked, dismissed, dbus)
        raise SecretsUnavailable(
            "Hearth could not save this secret in the keyring.",
            "Unlock your keyring and try again.",
            detail=repr(exc),
        ) from exc
    log.info("secret %r saved in %s", name, type(backend).__name__)  # the name only, never the value


def get_secret(name: str) -> str | None:
    backend = _backend()
    try:
        value = backend.get_password(SERVICE, name)
    except Exception as exc:
        raise SecretsUnavailable(
            "Hearth could not read this secret from the keyring.",
            "Unlock your keyring and try again.",
            detail=repr(exc),
        ) from exc
    return None if value is None else str(value)


def delete_secret(name: str) -> bool:
    backend = _backend()
    import keyring.errors

    try:
        backend.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        return False
    return True

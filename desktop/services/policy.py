"""Reading the administrator's policy file (the rules themselves are in core/policy.py).

The file is system-wide and read-only for users: /etc/hearth/policy.json (on Windows
%PROGRAMDATA%\\Hearth\\policy.json), or the file named by HEARTH_POLICY_FILE (tests, and sites
that keep it elsewhere). No file: no policy. A file that cannot be read or parsed: the policy
fails closed (remote servers forbidden) and says why.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from desktop.core.policy import (
    SERVER_SETTINGS,
    Policy,
    PolicyError,
    ServerAddress,
    check_model_import,
    check_server,
    closed,
    parse_policy,
)
from desktop.core.settings import SettingsStore
from desktop.services.policy_file import POLICY_ENV, policy_path

__all__ = ["POLICY_ENV", "policy_path"]  # where the file is: services/policy_file.py

log = logging.getLogger("desktop.policy")


def load_policy(path: Path | None = None) -> Policy:
    """The policy in force on this computer (read each time: it is small, and an administrator may
    change it while Hearth runs)."""
    path = path or policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Policy()
    except (OSError, UnicodeDecodeError) as exc:
        log.error("policy file %s unreadable: %s", path, exc)
        return closed(str(path), f"it cannot be read ({exc.__class__.__name__}: {exc})")
    try:
        return parse_policy(text, str(path))
    except PolicyError as exc:
        log.error("%s", exc.user_message)
        return closed(str(path), exc.user_message.split(": ", 1)[-1].rstrip("."))


def unprotected(policy: Policy) -> bool:
    """A policy a user could edit is advice, not a rule (doctor says so): on POSIX, one not owned
    by root or writable by its group or others."""
    if not policy.source or os.name != "posix":
        return False
    try:
        st = os.stat(policy.source)
    except OSError:
        return False
    return st.st_uid != 0 or bool(st.st_mode & 0o022)


def apply(settings: SettingsStore, policy: Policy | None = None) -> Policy:
    """Lock the settings the policy pins (reads return the pinned value, changes are refused)."""
    policy = policy if policy is not None else load_policy()
    for key, value in policy.locks().items():
        settings.lock(key, value, policy.source)
    return policy


@dataclass(frozen=True, slots=True)
class NamedServer:
    """A server named in settings, and whether Hearth may talk to it."""

    key: str  # the setting
    title: str
    url: str
    sends: str  # what Hearth sends to it, in words
    address: ServerAddress | None  # None when refused
    refused: str = ""  # why it is not used (policy, malformed, plain http)
    warning: str = ""  # allowed, but the user should know (plain http by their choice)

    def to_dict(self) -> dict[str, str]:
        return {
            "setting": self.key,
            "title": self.title,
            "url": self.url,
            "host": self.address.display if self.address else "",
            "sends": self.sends,
            "refused": self.refused,
            "warning": self.warning,
        }


def named_servers(settings: SettingsStore, policy: Policy | None = None) -> list[NamedServer]:
    """Every server the settings name (after the policy's locks), allowed or refused, with why."""
    policy = apply(settings, policy)
    servers: list[NamedServer] = []
    for key, (title, sends) in SERVER_SETTINGS.items():
        url = str(settings[key]).strip()
        if not url:
            continue
        try:
            address, warning = check_server(
                key, url, policy=policy, allow_plain_http=bool(settings["allow_plain_http"])
            )
        except PolicyError as exc:
            servers.append(NamedServer(key, title, url, sends, None, refused=exc.user_message))
            continue
        servers.append(NamedServer(key, title, url, sends, address, warning=warning or ""))
    return servers


def allow_named_servers(settings: SettingsStore, policy: Policy | None = None) -> list[NamedServer]:
    """Let the privacy guard through to exactly the servers the settings name and the policy
    allows, and nowhere else outside this computer. Returns them all (refused ones too)."""
    from desktop.services import privacy

    servers = named_servers(settings, policy)
    privacy.set_allowed_hosts(s.address.host for s in servers if s.address is not None)
    return servers


def check_import(source: Path, policy: Policy | None = None) -> None:
    """Refuse (PolicyError) a model import from outside the folder the policy allows."""
    policy = policy if policy is not None else load_policy()
    check_model_import(policy, str(Path(source).expanduser().resolve()))


def check_plain_storage(policy: Policy | None = None) -> None:
    """Refuse (PolicyError) storing chats and the library without encryption when the policy
    requires encryption at rest."""
    policy = policy if policy is not None else load_policy()
    if policy.require_encryption:
        raise PolicyError(
            f"Your administrator requires chats and the library to be stored encrypted ({policy.source}).",
            "Keep the encryption on (a keyring key or a passphrase).",
        )

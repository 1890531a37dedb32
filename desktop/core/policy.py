"""An administrator's policy, and the rules every server address must pass. Pure: no file access.

A site (a legal team, a lab, an air-gapped network) puts a read-only JSON file on each computer,
by default /etc/hearth/policy.json (services/policy.py reads it):

    {
      "forbid_remote_servers": false,
      "allowed_hosts": ["gpu-box.lab", "10.0.0.5"],
      "model_import_folder": "/srv/models",
      "require_encryption": true,
      "settings": {"model_server_url": "https://gpu-box.lab:8443"}
    }

Every key is optional. `forbid_remote_servers` pins both server settings empty; `allowed_hosts`
pins which computers a server setting may name (loopback is this computer and always allowed);
`model_import_folder` refuses model imports from outside that folder; `require_encryption`
refuses storing chats and the library without encryption; `settings` pins any declared setting
to a value. A policy that cannot be read or understood fails closed: remote servers are
forbidden and the reason is shown, since guessing what an administrator meant is worse.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from desktop.core.errors import AppError
from desktop.core.settings import BY_KEY

# The settings that name another computer, and what Hearth sends to each (shown by the privacy
# panel and `hearth doctor`).
SERVER_SETTINGS: dict[str, tuple[str, str]] = {
    "model_server_url": ("Model server", "your questions and the passages of your documents they rest on"),
    "library_server_url": (
        "Team library server",
        "passages of the documents you add to the team library, and your questions' search vectors",
    ),
}

_KEYS = {"forbid_remote_servers", "allowed_hosts", "model_import_folder", "require_encryption", "settings"}
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class PolicyError(AppError):
    """The administrator's policy forbids this, or the policy file itself is unusable."""

    kind = "policy"


@dataclass(frozen=True, slots=True)
class Policy:
    source: str = ""  # the file it came from ("" : no policy on this computer)
    forbid_remote_servers: bool = False
    allowed_hosts: tuple[str, ...] | None = None  # None: any host the user names
    model_import_folder: str | None = None
    require_encryption: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # why the file was refused (the policy then fails closed)

    @property
    def active(self) -> bool:
        return bool(self.source)

    def locks(self) -> dict[str, Any]:
        """Setting → the value this policy pins it to."""
        pinned = dict(self.settings)
        if self.forbid_remote_servers:
            pinned.update({key: "" for key in SERVER_SETTINGS})
            pinned["allow_plain_http"] = False
        return pinned

    def host_allowed(self, host: str) -> bool:
        if is_loopback_host(host) or self.allowed_hosts is None:
            return True
        return host.lower().strip("[]") in self.allowed_hosts

    def describe(self) -> list[str]:
        """What this policy does, one line each, for the panel and `hearth doctor`."""
        if not self.active:
            return []
        lines: list[str] = []
        if self.error:
            lines.append(f"Policy file with an error ({self.error}): remote servers are forbidden.")
        if self.forbid_remote_servers and not self.error:
            lines.append("Remote servers are forbidden.")
        if self.allowed_hosts is not None:
            hosts = ", ".join(self.allowed_hosts) or "none"
            lines.append(f"Servers may only be on: {hosts} (and this computer).")
        if self.model_import_folder:
            lines.append(f"Models may only be imported from {self.model_import_folder}.")
        if self.require_encryption:
            lines.append("Chats and the library must be stored encrypted.")
        for key, value in self.settings.items():
            lines.append(f"{BY_KEY[key].title} is set to {value!r}.")
        return lines


def closed(source: str, error: str) -> Policy:
    """The policy Hearth follows when the file at `source` cannot be used: no remote servers."""
    return Policy(source=source, forbid_remote_servers=True, error=error)


def parse_policy(text: str, source: str) -> Policy:
    """The policy in `text` (JSON), or PolicyError saying what is wrong with it."""

    def bad(why: str) -> PolicyError:
        return PolicyError(
            f"The administrator's policy file {source} is not valid: {why}.",
            "Hearth forbids remote servers until it is fixed. Ask your administrator.",
        )

    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise bad("it must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("forbid_remote_servers", "require_encryption"):
        if key in raw and not isinstance(raw[key], bool):
            raise bad(f"{key} must be true or false")
    hosts = raw.get("allowed_hosts")
    if hosts is not None:
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
            raise bad("allowed_hosts must be a list of host names or addresses")
        hosts = tuple(sorted({h.strip().strip("[]").lower() for h in hosts}))
    folder = raw.get("model_import_folder")
    if folder is not None and (not isinstance(folder, str) or not posixpath.isabs(folder.replace("\\", "/"))):
        if not (isinstance(folder, str) and len(folder) > 2 and folder[1] == ":"):  # C:\models
            raise bad("model_import_folder must be an absolute path")
    pinned = raw.get("settings", {})
    if not isinstance(pinned, dict):
        raise bad("settings must be an object of setting names and values")
    values: dict[str, Any] = {}
    for key, value in pinned.items():
        if key not in BY_KEY:
            raise bad(f"settings: unknown setting {key!r}")
        try:
            values[key] = BY_KEY[key].validate(value)
        except ValueError as exc:
            raise bad(f"settings: {exc}") from None
    policy = Policy(
        source=source,
        forbid_remote_servers=bool(raw.get("forbid_remote_servers", False)),
        allowed_hosts=hosts,
        model_import_folder=folder,
        require_encryption=bool(raw.get("require_encryption", False)),
        settings=values,
    )
    for key in SERVER_SETTINGS:
        url = values.get(key)
        if url and policy.allowed_hosts is not None:
            try:
                address = parse_server_url(url)
            except ValueError as exc:
                raise bad(f"settings: {key}: {exc}") from None
            if not policy.host_allowed(address.host):
                raise bad(f"settings: {key} names {address.host}, which allowed_hosts does not list")
    return policy


# ----------------------------------------------------------------------------- server addresses


def is_loopback_host(host: str) -> bool:
    """This computer, told without any name lookup: localhost or a loopback address literal."""
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


def ip_literal(host: str) -> str | None:
    """`host` as an address when it is one (no lookup needed), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ServerAddress:
    url: str  # normalized, without a trailing slash
    scheme: str  # http | https
    host: str  # lower case, IPv6 without brackets
    port: int
    base_path: str  # "" or "/something" (a server behind a path prefix)

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def connect_host(self) -> str:
        """Where to connect: loopback names as their address (so no lookup happens), else the host."""
        if self.host in _LOCAL_NAMES or self.host.endswith(".localhost"):
            return "127.0.0.1"
        return self.host

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_server_url(url: str) -> ServerAddress:
    """A server URL checked for shape only (ValueError says what is wrong)."""
    text = url.strip()
    if "://" not in text:
        raise ValueError(f"{text!r} is not a URL: write it as https://host:port")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"only http:// and https:// servers are supported, not {scheme}://")
    if parts.username or parts.password:
        raise ValueError("a URL must not carry a user name or password (the token is kept in the keyring)")
    if parts.query or parts.fragment:
        raise ValueError("a server URL has no ?query or #fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"{text!r} names no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"{text!r} has an invalid port") from None
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):  # people paste the OpenAI base URL; the client adds /v1 itself
        path = path[: -len("/v1")]
    shown = f"[{host}]" if ":" in host else host
    return ServerAddress(f"{scheme}://{shown}:{port}{path}", scheme, host, port, path)


def check_server(
    key: str, url: str, *, policy: Policy, allow_plain_http: bool
) -> tuple[ServerAddress, str | None]:
    """The address in setting `key`, and a warning to show when it is allowed but unencrypted.

    Raises PolicyError when the URL is malformed, the policy forbids it, or it is plain http:// to
    another computer without the explicit `allow_plain_http` setting."""
    title = SERVER_SETTINGS[key][0]
    try:
        address = parse_server_url(url)
    except ValueError as exc:
        raise PolicyError(f"{title}: {exc}.", f"Fix it with: hearth settings set {key} URL") from None
    if policy.forbid_remote_servers and policy.active:
        why = f"the policy file has an error: {policy.error}" if policy.error else "it forbids remote servers"
        raise PolicyError(
            f"{title} {address.display} is not used: {why} ({policy.source}).",
            "Ask your administrator.",
        )
    if not policy.host_allowed(address.host):
        raise PolicyError(
            f"{title} {address.display} is not one of the hosts your administrator allows "
            f"({', '.join(policy.allowed_hosts or ()) or 'none'}; {policy.source}).",
            "Ask your administrator, or use a server they allow.",
        )
    if address.scheme == "http" and not address.loopback:
        if not allow_plain_http:
            raise PolicyError(
                f"{title} {address.display} uses plain http://: anyone on the network path could read "
                "your questions and documents.",
                "Use https:// (Hearth verifies the certificate), or accept the risk with: "
                "hearth settings set allow_plain_http true",
            )
        return address, (
            f"{title} {address.display} is reached over unencrypted http:// (allowed by the "
            "allow_plain_http setting): what is sent to it can be read on the network."
        )
    return address, None


def check_model_import(policy: Policy, path: str) -> None:
    """Refuse a model import from outside the policy's folder. `path` must already be resolved
    (absolute, symbolic links followed) by the caller."""
    folder = policy.model_import_folder
    if not folder:
        return
    root = posixpath.normpath(folder.replace("\\", "/"))
    target = posixpath.normpath(path.replace("\\", "/"))
    if target != root and not target.startswith(root.rstrip("/") + "/"):
        raise PolicyError(
            f"Your administrator allows models only from {folder} ({policy.source}).",
            "Copy the model there, or ask your administrator.",
        )

"""Offline switches and a network guard. Installed first, before any other import, in every entry point.

`install()` sets every library's offline and no-telemetry switch, then adds a Python audit hook
that refuses (and counts) any connection or name lookup that would leave this machine. Loopback
and Unix sockets stay allowed: the model runtime child and Qt talk over them. The only outside
hosts let through are the servers the user named in settings (a model server, a team library
server) and the administrator's policy allows: `set_allowed_hosts`, from services/policy.py.

An audit hook cannot see native code (ONNX Runtime, for one, does its own lookups), so the
switches matter as much as the hook, and the e2e test watches the real program with strace.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("desktop.privacy")

# Set before the libraries that read them are imported.
OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "CHROMA_TELEMETRY": "False",
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime (pulled in by chromadb)
    "TOKENIZERS_PARALLELISM": "false",
    # llama.cpp and torch use OpenMP: spinning threads collapse to ~1 tok/s on a busy 2-core box.
    "OMP_WAIT_POLICY": "PASSIVE",
    "GGML_NO_NETWORK": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


class NetworkBlocked(ConnectionRefusedError):
    """Raised inside whatever tried to reach another machine."""


@dataclass
class GuardState:
    installed: bool = False
    enforcing: bool = True
    allowed_hosts: set[str] = field(default_factory=set)  # servers named in settings: set_allowed_hosts
    resolved: dict[str, set[str]] = field(default_factory=dict)  # allowed name → its looked-up addresses
    attempts: list[str] = field(default_factory=list)
    self_checks: int = 0  # refusals of SELFTEST_HOST: the guard proving itself, not an attempt
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = GuardState()

# `hearth doctor --selftest` looks this name up to prove the guard refuses lookups. It is refused
# like any outside name but not counted or logged as an attempt: the user's count stays honest.
# (.invalid never resolves anywhere, RFC 6761, so even a broken guard sends nothing useful.)
SELFTEST_HOST = "hearth-selftest.invalid"


def _is_local_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().strip("[]").lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback or name in {"0.0.0.0", "::"}
    except ValueError:
        return False


def _address_is_local(address: Any) -> bool:
    # AF_UNIX: a path (str/bytes); AF_INET(6): a tuple whose first item is the host.
    if isinstance(address, str | bytes | bytearray):
        return True
    if isinstance(address, tuple) and address:
        return _is_local_host(address[0])
    return False


def _allowed(host: Any) -> bool:
    if _is_local_host(host):
        return True
    name = _norm(host.decode() if isinstance(host, bytes) else str(host))
    with _state.lock:
        return name in _state.allowed_hosts or any(name in ips for ips in _state.resolved.values())


def _refuse(what: str) -> None:
    with _state.lock:
        _state.attempts.append(what)
    log.warning("privacy guard refused: %s", what)
    raise NetworkBlocked(f"Hearth is offline: refused {what}")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _state.enforcing or not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if address is None or _address_is_local(address):
            return
        if isinstance(address, tuple) and _allowed(address[0]):
            return
        _refuse(f"{event[7:]} to {address!r}")
    elif event == "socket.getaddrinfo":
        if args and args[0] == SELFTEST_HOST:
            with _state.lock:
                _state.self_checks += 1
            raise NetworkBlocked("Hearth is offline: refused the self-test lookup")
        if not _allowed(args[0]):
            _refuse(f"name lookup of {args[0]!r}")
    elif event in ("socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        if args and not _allowed(args[0]):
            _refuse(f"name lookup of {args[0]!r}")


def set_offline_environment(environ: dict[str, str] | os._Environ[str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for key, value in OFFLINE_ENV.items():
        env[key] = value


def install() -> GuardState:
    """Set the offline switches and install the guard. Idempotent; cannot be undone (by design)."""
    set_offline_environment()
    with _state.lock:
        if not _state.installed:
            sys.addaudithook(_audit)
            _state.installed = True
    return _state


def _norm(host: str) -> str:
    return host.strip().strip("[]").lower()


def set_allowed_hosts(hosts: Iterable[str]) -> None:
    """Let exactly these servers through, replacing any allowed before: the hosts the settings name
    (services/policy.allow_named_servers decides which). Every other outside host stays refused."""
    with _state.lock:
        _state.allowed_hosts = {_norm(h) for h in hosts if _norm(h)}
        _state.resolved = {}


def allow_host(host: str) -> None:
    """Let one more named server through (set_allowed_hosts is the usual way)."""
    with _state.lock:
        _state.allowed_hosts.add(_norm(host))


def allow_resolved(name: str, addresses: Iterable[str]) -> None:
    """The addresses an allowed name resolved to may be connected to as well (only for a name that
    is allowed: a lookup cannot widen the list)."""
    with _state.lock:
        if _norm(name) in _state.allowed_hosts:
            _state.resolved.setdefault(_norm(name), set()).update(_norm(a) for a in addresses)


def allowed_hosts() -> list[str]:
    with _state.lock:
        return sorted(_state.allowed_hosts)


def refused_attempts() -> list[str]:
    with _state.lock:
        return list(_state.attempts)


def refused_count() -> int:
    with _state.lock:
        return len(_state.attempts)


def self_check_count() -> int:
    with _state.lock:
        return _state.self_checks


def is_installed() -> bool:
    return _state.installed

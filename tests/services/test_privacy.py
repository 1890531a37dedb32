"""The in-process network guard: outside destinations are refused and counted; loopback works."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from desktop.services import privacy


@pytest.fixture(autouse=True)
def forget_the_refusals_made_here() -> Iterator[None]:
    """These tests make the guard refuse on purpose; later tests (doctor's "All good.") count what
    the guard refused during real work, so the deliberate refusals are taken back afterwards."""
    with privacy._state.lock:
        before = len(privacy._state.attempts)
    yield
    with privacy._state.lock:
        del privacy._state.attempts[before:]


def test_guard_is_installed_and_offline_switches_are_set() -> None:
    assert privacy.is_installed()
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ORT_DISABLE_TELEMETRY", "ANONYMIZED_TELEMETRY"):
        assert os.environ[key] == privacy.OFFLINE_ENV[key]


def test_connect_to_another_machine_is_refused_and_counted() -> None:
    before = privacy.refused_count()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(privacy.NetworkBlocked):
        s.connect(("203.0.113.7", 443))  # TEST-NET-3: never routable, and never reached
    assert privacy.refused_count() == before + 1
    assert "203.0.113.7" in privacy.refused_attempts()[-1]


def test_udp_send_to_a_public_resolver_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(privacy.NetworkBlocked):
        s.sendto(b"x", ("192.0.2.53", 53))


def test_name_lookups_of_outside_hosts_are_refused() -> None:
    before = privacy.refused_count()
    with pytest.raises(privacy.NetworkBlocked):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(privacy.NetworkBlocked):
        socket.gethostbyname("example.com")
    assert privacy.refused_count() == before + 2


def test_refusal_looks_like_a_refused_connection_to_libraries() -> None:
    # Libraries handle ConnectionRefusedError/OSError gracefully; a bare Exception would crash them.
    assert issubclass(privacy.NetworkBlocked, ConnectionRefusedError)
    assert issubclass(privacy.NetworkBlocked, OSError)


def test_loopback_and_unix_sockets_still_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = privacy.refused_count()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    socket.getaddrinfo("localhost", 80)
    a, b = socket.socketpair()
    a.close()
    b.close()
    assert privacy.refused_count() == before


def test_a_host_the_user_named_is_allowed() -> None:
    privacy.allow_host("chroma.team.internal")
    try:
        assert privacy._allowed("chroma.team.internal")
        assert not privacy._allowed("other.internal")
    finally:
        privacy.set_allowed_hosts([])  # every later test expects the guard to let nothing out

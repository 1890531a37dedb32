"""Watch a real program's system calls with strace and list every attempt to reach another machine.

An in-process audit hook cannot see native code (ONNX Runtime does its own lookups), so this is
the external proof: every connect/sendto/sendmsg of the process tree is logged by the kernel
interface and checked here. CI-type variables are removed first, because some libraries keep
quiet whenever `CI` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

CI_PREFIXES = (
    "CI_",
    "GITHUB_",
    "GITLAB_",
    "TRAVIS",
    "JENKINS",
    "BUILDKITE",
    "CIRCLE",
    "TEAMCITY",
    "BITBUCKET_",
    "DRONE",
    "APPVEYOR",
    "TF_BUILD",
    "CODEBUILD_",
    "BUILD_ID",
    "BUILD_NUMBER",
    "RUN_ID",
    "PYTEST_",
)
CI_NAMES = {"CI", "CONTINUOUS_INTEGRATION", "HUDSON_URL"}

_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"')
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=@?"([^"]+)"')
# Unix sockets that answer name lookups on the program's behalf.
_RESOLVER_SOCKETS = ("nscd", "systemd/resolve", "dbus-1/system_bus_socket")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CI_NAMES and not k.startswith(CI_PREFIXES)}
    # The offline switches must come from Hearth itself, not from this test's process.
    for key in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "ORT_DISABLE_TELEMETRY",
        "ANONYMIZED_TELEMETRY",
        "HF_DATASETS_OFFLINE",
        "DO_NOT_TRACK",
        "OMP_WAIT_POLICY",
    ):
        env.pop(key, None)
    env.update(extra or {})
    return env


def strace_available() -> bool:
    if not shutil.which("strace"):
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "true"], capture_output=True)
    return probe.returncode == 0


# How long the privacy tests leave the real program idle (ONNX Runtime was seen phoning home within
# a minute); shorten it only for a local look, never in CI.
IDLE_S = float(os.environ.get("HEARTH_PRIVACY_IDLE_S", "60"))


def privacy_marks() -> list[pytest.MarkDecorator]:
    """The marks every strace privacy test carries."""
    return [
        pytest.mark.e2e,
        pytest.mark.slow,
        pytest.mark.skipif(not strace_available(), reason="strace is not installed or not permitted"),
    ]


def hearth_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "desktop", *args]


def outside_attempts(log_text: str) -> list[str]:
    """Every logged call that tried to reach an address that is not this machine."""
    found: list[str] = []
    for line in log_text.splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line):
            continue
        for _port, addr in _INET.findall(line):
            if not addr.startswith("127.") and addr != "0.0.0.0":
                found.append(line.strip())
        for _port, addr in _INET6.findall(line):
            if addr not in ("::1", "::") and not addr.startswith("::ffff:127."):
                found.append(line.strip())
        for path in _UNIX.findall(line):
            if any(s in path for s in _RESOLVER_SOCKETS):
                found.append(line.strip())
    return found


def run_traced(
    cmd: Sequence[str],
    log: Path,
    *,
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    full = ["strace", "-f", "-qq", "-s", "200", "-e", "trace=network", "-o", str(log), *cmd]
    return subprocess.run(
        full, input=stdin, text=True, capture_output=True, env=env, timeout=timeout, cwd=cwd
    )

"""Where the administrator's policy file is, and whether there is one.

All the window needs before its first frame: with no file (the usual case) there is no policy, and
its rules (core/policy.py, services/policy.py) are not loaded to say so.
"""

from __future__ import annotations

import os
from pathlib import Path

POLICY_ENV = "HEARTH_POLICY_FILE"
DEFAULT_POLICY_PATH = "/etc/hearth/policy.json"


def policy_path() -> Path:
    if os.environ.get(POLICY_ENV):
        return Path(os.environ[POLICY_ENV])
    if os.name == "nt":  # the system-wide, administrator-only folder on Windows
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Hearth" / "policy.json"
    return Path(DEFAULT_POLICY_PATH)


def present(path: Path | None = None) -> bool:
    """Whether there is a policy file to read. One that is there but cannot be looked at counts:
    services.policy then fails closed on it."""
    try:
        os.stat(path or policy_path())
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True

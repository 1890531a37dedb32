"""Opening a file the user named, safely: regular files only, and never a blocking open.

A FIFO named `report.pdf` blocks `open()` forever; a symlink to `/dev/zero` named `x.pdf` reads
forever; a socket or a device is not a document either. `open_regular` opens without blocking,
checks what it opened (fstat on the open descriptor, so a swap after a check cannot fool it),
and only then reads. Anything else raises NotRegularFile with words for the user.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path is a pipe, device, socket or folder, not a file Hearth may read."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def check_regular(path: Path) -> os.stat_result:
    """stat (following symlinks) and refuse anything but a regular file; never opens it."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, kind_of(st.st_mode))
    return st


def open_regular(path: str | Path) -> BinaryIO:
    """Open `path` for reading if, and only if, it is a regular file (after symlinks)."""
    path = Path(path)
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, kind_of(st.st_mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(
    path: str | Path, on_read: Callable[[int, int], None] | None = None, block: int = 1 << 20
) -> str:
    """The hex sha256 of a regular file, read a block at a time (never the whole file in memory).

    `on_read(done, total)` is called after each block, in bytes (a progress bar for a large model).
    """
    h = hashlib.sha256()
    with open_regular(path) as fh:
        total = os.fstat(fh.fileno()).st_size
        done = 0
        while chunk := fh.read(block):
            h.update(chunk)
            done += len(chunk)
            if on_read is not None:
                on_read(done, total)
    return h.hexdigest()

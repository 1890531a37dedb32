"""services/files.py: the one file hash, read a block at a time from regular files only."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from desktop.services.files import NotRegularFile, sha256_file


def test_sha256_file_streams_blocks_and_reports_bytes(tmp_path: Path) -> None:
    data = os.urandom(2_500_000)
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    seen: list[tuple[int, int]] = []
    digest = sha256_file(path, lambda done, total: seen.append((done, total)))
    assert digest == hashlib.sha256(data).hexdigest()
    assert seen == [(1 << 20, len(data)), (2 << 20, len(data)), (len(data), len(data))]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_sha256_file_refuses_a_pipe_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "report.pdf"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile):
        sha256_file(fifo)

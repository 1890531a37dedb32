"""The hand-over between launches: the message's rules, where the socket lives, what arrives before
the window exists, and what the window does with handed-over paths. (Real processes:
tests/e2e/test_single_instance.py.)"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.ui import single_instance
from desktop.ui.single_instance import Handover, decode, encode, endpoint
from tests import pdfs

REPO = Path(__file__).resolve().parents[2]


def test_a_hand_over_survives_the_trip_and_anything_else_is_refused(tmp_path: Path) -> None:
    paths = [tmp_path / "a report.pdf", tmp_path / "ünïcode.docx"]
    assert decode(encode(paths, "tok-1").rstrip(b"\n")) == Handover(tuple(paths), "tok-1")
    assert decode(encode([])) == Handover((), "")
    for junk in (
        b"",
        b"hello",
        b"\xff\xfe",
        b"[]",
        b'{"paths": []}',
        b'{"hearth": 2, "paths": []}',
        b'{"hearth": "1", "paths": []}',
        b'{"hearth": 1, "paths": "/etc/passwd"}',
        b'{"hearth": 1, "paths": ["relative.pdf"]}',
        b'{"hearth": 1, "paths": [""]}',
        b'{"hearth": 1, "paths": [7]}',
        b'{"hearth": 1, "paths": ["/a\\u0000b"]}',
        b'{"hearth": 1, "paths": [], "activation": 5}',
        b'{"hearth": 1, "paths": ["/x"' + b', "/x"' * single_instance.MAX_PATHS + b"]}",
    ):
        assert decode(junk) is None, junk
    # An activation token that could not have come from a launcher is dropped, not the files.
    assert decode(b'{"hearth": 1, "paths": ["/a.pdf"], "activation": "\\n"}') == Handover(
        (Path("/a.pdf"),), ""
    )


@pytest.fixture
def short() -> Iterator[Path]:
    """A temp dir with a short path: pytest's tmp_path is too long to hold a socket."""
    path = Path(tempfile.mkdtemp(prefix="hi-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


def test_the_socket_is_per_data_folder_in_a_folder_only_this_user_can_enter(
    tmp_path: Path, short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(short))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (tmp_path / "link").symlink_to(a)
    where = endpoint(a)
    assert where is not None and where.lock is not None
    assert endpoint(tmp_path / "link") == where, "the same folder however it is named"
    other = endpoint(b)
    assert other is not None and other.server != where.server
    home = Path(where.server).parent
    assert home == short / f"hearth-{os.getuid()}"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert len(where.server.encode()) < 104

    # A folder others can enter (or that another user made first) is never used.
    home.chmod(0o755)
    assert endpoint(a) is None
    home.chmod(0o700)
    runtime = short / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    where = endpoint(a)
    assert where is not None and Path(where.server).parent == runtime


def test_what_arrives_before_the_window_waits_for_it(qtbot: Any, data_dir: Path) -> None:
    first = single_instance.claim_or_hand_over(data_dir, [])
    assert first is not None and first.listen() and first.endpoint is not None
    server = first.endpoint.server
    try:
        assert stat.S_IMODE(os.stat(server).st_mode) & 0o077 == 0
        replies: list[bytes] = []

        def client() -> None:  # another process would do this; a thread is enough to talk
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(server)
                sock.sendall(encode([Path("/tmp/x.pdf")]))
                replies.append(sock.recv(10))

        thread = threading.Thread(target=client)
        thread.start()
        qtbot.waitUntil(lambda: bool(replies), timeout=5000)
        thread.join()
        assert replies == [b"ok\n"]
        got: list[Handover] = []
        first.deliver_to(lambda given: got.append(given) is None)
        assert got == [Handover((Path("/tmp/x.pdf"),), "")]
    finally:
        first.close()
    assert not Path(server).exists(), "closing removes the socket"
    assert first.endpoint.lock is not None and not first.endpoint.lock.exists(), "and its lock file"


SECOND_LAUNCH = """
import sys
from pathlib import Path
from desktop.ui.single_instance import claim_or_hand_over
print(claim_or_hand_over(Path(sys.argv[1]), [Path("/tmp/y.pdf")], 5))
"""


def test_a_second_claim_on_the_same_folder_hands_over_and_is_not_first(qtbot: Any, data_dir: Path) -> None:
    first = single_instance.claim_or_hand_over(data_dir, [])
    assert first is not None
    got: list[Handover] = []
    first.deliver_to(lambda given: got.append(given) is None)  # taken
    # The second launch blocks while it waits for `ok`; the first answers from its event loop,
    # once it listens (after its first frame): until then the second waits.
    second = subprocess.Popen(
        [sys.executable, "-c", SECOND_LAUNCH, str(data_dir)], stdout=subprocess.PIPE, cwd=REPO
    )
    try:
        qtbot.wait(1500)
        assert second.poll() is None and got == []
        assert first.listen()
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=20_000)
        assert second.returncode == 0 and second.communicate()[0] == b"None\n"
        assert got == [Handover((Path("/tmp/y.pdf"),), "")]
    finally:
        if second.poll() is None:
            second.kill()
            second.communicate()
        first.close()


def test_a_closing_window_refuses_and_the_launch_becomes_the_next_window(qtbot: Any, data_dir: Path) -> None:
    first = single_instance.claim_or_hand_over(data_dir, [])
    assert first is not None and first.listen()
    refused: list[Handover] = []
    first.deliver_to(lambda given: refused.append(given) is not None)  # not taken: closing
    second = subprocess.Popen(
        [sys.executable, "-c", SECOND_LAUNCH, str(data_dir)], stdout=subprocess.PIPE, cwd=REPO
    )
    try:
        qtbot.waitUntil(lambda: len(refused) >= 2, timeout=10_000)  # it asks again while we close
        assert second.poll() is None
        first.close()  # the window is gone: its lock is free
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=10_000)
        out = second.communicate()[0]
        assert second.returncode == 0 and out.startswith(b"<desktop.ui.single_instance.WindowInstance"), out
    finally:
        if second.poll() is None:
            second.kill()
            second.communicate()
        first.close()


def test_handed_over_files_open_as_dropped_ones_and_missing_ones_are_named(
    qtbot: Any, make_window: Any, report_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window._first_frame_done, timeout=5000)
    summarized: list[Path] = []
    offered: list[list[Path]] = []
    monkeypatch.setattr(window, "summarize", summarized.append)
    monkeypatch.setattr(window, "offer_library", offered.append)

    window.open_handed_over([tmp_path / "gone.pdf"])
    qtbot.waitUntil(lambda: "gone.pdf could not be found" in window.banner.text(), timeout=3000)
    assert summarized == [] and offered == []

    window.open_handed_over([report_pdf])
    assert summarized == [report_pdf]
    other = pdfs.normal(tmp_path / "other.pdf")
    assert window.open_handed_over([report_pdf, other, tmp_path])  # a folder is not a file: named, left out
    assert offered == [[report_pdf, other]]
    window.close()
    assert window.open_handed_over([report_pdf]) is False, "closing: the launch opens the next window"
    assert summarized == [report_pdf]

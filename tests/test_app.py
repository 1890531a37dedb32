"""`hearth FILE.pdf` ("Open with Hearth"): the window when there is a display, else a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop import app
from tests import pdfs


def test_pdf_arguments_are_recognised_and_anything_else_is_a_command(tmp_path: Path) -> None:
    a = pdfs.normal(tmp_path / "a.pdf")
    b = pdfs.normal(tmp_path / "b.PDF")
    assert app._pdf_arguments([str(a), str(b)]) == [a.resolve(), b.resolve()]
    assert app._pdf_arguments(["chat"]) == []
    assert app._pdf_arguments([str(a), "--json"]) == []
    assert app._pdf_arguments([str(tmp_path / "missing.pdf")]) == []
    assert app._pdf_arguments([]) == []


def test_without_a_display_a_pdf_argument_is_summarized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = pdfs.normal(tmp_path / "a.pdf")
    b = pdfs.normal(tmp_path / "b.pdf")
    monkeypatch.setenv("HEARTH_NO_GUI", "1")
    seen: list[list[str]] = []
    monkeypatch.setattr("desktop.cli.main", lambda argv: seen.append(argv) or 0)
    assert app.main([str(a), str(b)]) == 0
    assert seen == [["summarize", str(a.resolve())]]
    assert "hearth library add" in capsys.readouterr().err


def test_with_a_display_the_window_opens_with_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = pdfs.normal(tmp_path / "a.pdf")
    monkeypatch.delenv("HEARTH_NO_GUI", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    opened: list[object] = []
    monkeypatch.setattr("desktop.ui.unlock_dialog.unlock_at_start", lambda: True)

    def fake_gui(open_paths: object = None, instance: Any = None) -> int:
        opened.append(open_paths)
        assert instance is not None and instance.endpoint is not None, "later launches can hand over"
        instance.close()  # (the real window listens once it has painted)
        return 0

    monkeypatch.setattr("desktop.ui.main_window.run_gui", fake_gui)
    assert app.main([str(a)]) == 0
    assert opened == [[a.resolve()]]


def test_with_a_window_already_running_the_files_are_handed_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = pdfs.normal(tmp_path / "a.pdf")
    monkeypatch.delenv("HEARTH_NO_GUI", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    given: list[object] = []
    monkeypatch.setattr(
        "desktop.ui.single_instance.claim_or_hand_over", lambda folder, paths: given.append(paths)
    )
    monkeypatch.setattr("desktop.ui.unlock_dialog.unlock_at_start", lambda: pytest.fail("no unlock"))
    assert app.main([str(a)]) == 0
    assert app.main([]) == 0  # a plain `hearth`: the running window comes to the front
    assert given == [[a.resolve()], []]


def test_a_running_window_that_does_not_answer_is_said_and_the_launch_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.ui import single_instance

    monkeypatch.delenv("HEARTH_NO_GUI", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")

    def no_answer(folder: Path, paths: list[Path]) -> None:
        raise single_instance.HandoverFailed("Hearth is already open, but its window did not answer.")

    monkeypatch.setattr(single_instance, "claim_or_hand_over", no_answer)
    shown: list[str] = []
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.critical", lambda *a: shown.append(a[2]))
    assert app.main([]) == 1
    assert "did not answer" in capsys.readouterr().err and "did not answer" in shown[0]

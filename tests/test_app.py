"""`hearth FILE.pdf` ("Open with Hearth"): the window when there is a display, else a summary."""

from __future__ import annotations

from pathlib import Path

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
    fake_gui = lambda open_paths=None: opened.append(open_paths) or 0  # noqa: E731
    monkeypatch.setattr("desktop.ui.main_window.run_gui", fake_gui)
    assert app.main([str(a)]) == 0
    assert opened == [[a.resolve()]]

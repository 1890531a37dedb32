"""resources/hearth.desktop: "Open with Hearth" for every document type Hearth reads, files passed
on the command line (`hearth %F`), and a file desktop-file-validate accepts."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from desktop import app
from desktop.services import readers
from tests import pdfs

ENTRY = Path(__file__).resolve().parents[1] / "resources" / "hearth.desktop"
# The MIME type file managers give each suffix the readers take (shared-mime-info's names).
MIME_OF_SUFFIX = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
}


def _entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(ENTRY, encoding="utf-8")
    return parser["Desktop Entry"]


def _list(value: str) -> list[str]:
    assert value.endswith(";"), "lists end with ';'"
    return value.split(";")[:-1]


def test_the_entry_opens_every_document_type_hearth_reads() -> None:
    entry = _entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "hearth %F"
    assert entry["Icon"] == "hearth"
    assert entry["Terminal"] == "false"
    assert "Office" in _list(entry["Categories"])
    mime = _list(entry["MimeType"])
    assert mime[0] == "application/pdf"
    assert len(mime) == len(set(mime))
    for suffix in readers.SUFFIXES:
        assert suffix in MIME_OF_SUFFIX, f"a new reader's {suffix}: add its MIME type here and in the entry"
        assert MIME_OF_SUFFIX[suffix] in mime, suffix
    assert set(mime) == set(MIME_OF_SUFFIX.values()), "no type Hearth cannot read"


def test_the_exec_line_with_files_opens_them(tmp_path: Path) -> None:
    """What a file manager runs for two selected files is `hearth FILE…`, which Hearth opens."""
    a = pdfs.normal(tmp_path / "annual report.pdf")
    b = tmp_path / "notes.md"
    b.write_text("# Notes\n")
    program, *args = shlex.split(_entry()["Exec"])
    assert program == "hearth" and args == ["%F"]
    argv = [str(a), str(b)]  # %F: a list of local paths, each its own argument
    assert app._pdf_arguments(argv) == [a.resolve(), b.resolve()]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validate_accepts_the_entry() -> None:
    """(packaging/system_deps.sh installs desktop-file-utils.) Hints are errors here too."""
    result = subprocess.run(["desktop-file-validate", str(ENTRY)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr

"""Readers: one per file type Hearth reads, chosen by a registry (file suffix, else content).

Everything that takes a document from the user asks here (the library, the window's drop and
File → Open…, `hearth summarize`), so a new type is one reader module and one line in READERS.

- `reader_for(path)`: the reader by suffix; a file with no known suffix is sniffed (a PDF
  header, a Word zip, an HTML start, else UTF-8 text); none fits → DocumentError
  "unsupported_type". A file whose content does not match its suffix is refused by that suffix's
  reader with its reason (a .docx that is no zip is "not_docx", binary data named .txt is
  "not_text"), as PDFs are ("not_pdf").
- `extract(path, cancel, on_progress)` → (DocumentInfo, pages); `inspect(path)` → DocumentInfo.
- `is_supported(path)`: by suffix only, no I/O (folder scans, drop hints).

What a page number means per type: DocumentInfo.unit and each reader's docstring; README says
the same for users.
"""

from __future__ import annotations

from pathlib import Path

from desktop.core.errors import DocumentError
from desktop.core.jobs import CancelToken
from desktop.core.types import Page
from desktop.services.readers.base import (
    DocumentInfo,
    ProgressCallback,
    Reader,
    read_head,
    refusal,
)
from desktop.services.readers.html import HtmlReader
from desktop.services.readers.pdf import PdfReader
from desktop.services.readers.text import MarkdownReader, TextReader
from desktop.services.readers.word import WordReader

__all__ = [
    "READERS",
    "SUFFIXES",
    "DocumentInfo",
    "Reader",
    "close_workers",
    "extract",
    "file_dialog_filters",
    "inspect",
    "is_supported",
    "kind_of",
    "reader_for",
    "refusal",
]

# Sniffing order matters: strong signatures first, text (anything UTF-8) last.
READERS: tuple[Reader, ...] = (PdfReader(), WordReader(), HtmlReader(), MarkdownReader(), TextReader())
_BY_SUFFIX: dict[str, Reader] = {s: r for r in READERS for s in r.suffixes}
SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)


def is_supported(path: str | Path) -> bool:
    """Whether Hearth reads files named like `path` (by suffix; no I/O)."""
    return Path(path).suffix.lower() in _BY_SUFFIX


def reader_for(path: str | Path) -> Reader:
    """The reader for `path`: by suffix, else by sniffing its first bytes. Raises DocumentError."""
    path = Path(path)
    reader = _BY_SUFFIX.get(path.suffix.lower())
    if reader is not None:
        return reader
    head = read_head(path)
    for candidate in READERS:
        if head and candidate.sniff(head):
            return candidate
    what = f"“{path.suffix}” files" if path.suffix else "files like this one"
    raise refusal(
        "unsupported_type",
        path.suffix or "no suffix",
        f"Hearth does not read {what}.",
    )


def kind_of(path: str | Path) -> str:
    """The reader kind for `path` ("pdf", "docx", …), or "" when no reader takes it."""
    try:
        return reader_for(path).kind
    except DocumentError:
        return ""


def inspect(path: str | Path) -> DocumentInfo:
    return reader_for(path).inspect(Path(path))


def extract(
    path: str | Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
) -> tuple[DocumentInfo, list[Page]]:
    return reader_for(path).extract(Path(path), cancel, on_progress)


def file_dialog_filters() -> str:
    """Name filters for a file dialog: every readable type first, then one per type."""
    every = " ".join(f"*{s}" for s in SUFFIXES)
    each = ";;".join(f"{r.label} ({' '.join('*' + s for s in r.suffixes)})" for r in READERS)
    return f"Documents ({every});;{each}"


def close_workers() -> None:
    """End the PDF reader's idle worker processes (the only readers that keep any)."""
    from desktop.services import pdf

    pdf.close_workers()

"""What every reader shares: the Reader protocol, DocumentInfo, refusal messages, safe whole-file
reads, text decoding and the text caps."""

from __future__ import annotations

import codecs
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from desktop.core.chunking import clean_text
from desktop.core.errors import DocumentError
from desktop.core.jobs import CancelToken
from desktop.core.types import Page
from desktop.services import pdf

log = logging.getLogger("desktop.readers")

# The same caps as PDFs (services/pdf.py): past them text is left out and the document says so.
MAX_PAGE_CHARS = pdf.MAX_PAGE_CHARS
MAX_DOCUMENT_CHARS = pdf.MAX_DOCUMENT_CHARS
MIN_TEXT_CHARS = pdf.MIN_TEXT_CHARS

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What a reader learned about a file. `unit` says what the numbers of its pages mean:
    "page" (the PDF's pages, or a Word file's own page breaks) or "section" (cut by Hearth:
    see desktop/core/paging.py). `page_count` from `inspect` is exact, but for Word files, where
    it is an estimate from the size of the body (for progress bars). `notices`: things the user
    should know (a text read as Windows-1252 because it was not UTF-8 …)."""

    path: str
    kind: str
    page_count: int
    title: str = ""
    encrypted: bool = False
    file_size: int = 0
    truncated: str = ""  # what the text caps left out, in words; empty when nothing was
    unit: str = "page"
    notices: tuple[str, ...] = ()


class Reader(Protocol):
    """One file type. Every failure is a DocumentError with a `reason` (see MESSAGES)."""

    kind: str  # "pdf", "text", "markdown", "docx", "html"
    label: str  # for people and file dialogs: "Word documents"
    suffixes: tuple[str, ...]  # lower case, with the dot

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file (up to 4 KB) look like this type."""
        ...

    def inspect(self, path: Path) -> DocumentInfo:
        """Check that the file can be read (cheaply: no text is extracted where avoidable)."""
        ...

    def extract(
        self, path: Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
    ) -> tuple[DocumentInfo, list[Page]]:
        """The file's pages, 1-based, text cleaned and capped. Raises DocumentError or Cancelled."""
        ...


# ----------------------------------------------------------------------------- refusals

# Reasons beyond the PDF ones (services/pdf.py), worded for any document.
MESSAGES: dict[str, tuple[str, str]] = {
    "unsupported_type": (
        "Hearth does not read this type of file.",
        "Hearth reads PDF, Word (.docx), plain text (.txt), Markdown (.md) and web pages (.html).",
    ),
    "not_text": (
        "This file is not text: it holds binary data, although its name says it is text.",
        "Open it in the program that made it and save it as plain text (UTF-8).",
    ),
    "not_docx": (
        "This file is not a Word document (.docx), although its name says so.",
        "Open it in Word or LibreOffice and save it as a .docx file, then add that copy.",
    ),
    "compression_bomb": (
        "This Word file unpacks to far more data than it holds (a compression bomb), so Hearth "
        "does not open it.",
        "If you trust the file, open it in Word and save a fresh copy; otherwise delete it.",
    ),
    "damaged": (
        "This document is damaged and could not be read.",
        "Open it in the program that made it and save it again, then add the new copy.",
    ),
    "timeout": (
        "Reading this document took too long, so Hearth stopped.",
        "It may be unusually complex or crafted to stall readers. Open it and save a fresh copy.",
    ),
    "parser_limit": (
        "This document is built in a way that exceeds the reader's safety limits.",
        "Open it in the program that made it and save a fresh copy, then add that.",
    ),
    "no_text_document": (
        "This document holds no text.",
        "If it holds only pictures, export it as PDF and run OCR on it (for example `ocrmypdf`).",
    ),
}


def refusal(reason: str, detail: str = "", message: str | None = None) -> DocumentError:
    """The DocumentError for `reason`: the readers' own messages, else the PDF reader's."""
    if reason in MESSAGES:
        default, hint = MESSAGES[reason]
        return DocumentError(message or default, hint, reason=reason, detail=detail)
    return pdf.document_error(reason, detail, message)


def too_large(what: str, size: int, limit: int) -> DocumentError:
    return refusal(
        "too_large",
        f"{size} bytes (limit {limit})",
        f"This {what} is too large for Hearth to read safely ({size / 2**20:.1f} MB; "
        f"the limit is {limit / 2**20:.0f} MB).",
    )


@contextmanager
def opened(path: Path, max_bytes: int, what: str) -> Iterator[tuple[BinaryIO, int]]:
    """(file, size) of a regular, non-empty file of at most `max_bytes`, or the refusal for why not."""
    from desktop.services.files import NotRegularFile, open_regular

    try:
        fh = open_regular(path)
    except NotRegularFile as exc:
        if exc.kind == "a folder":
            raise refusal("not_found", str(path)) from exc
        raise refusal("not_regular_file", str(exc)) from exc
    except FileNotFoundError as exc:
        raise refusal("not_found", str(path)) from exc
    except OSError as exc:
        raise refusal("unreadable_file", str(exc)) from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise refusal("empty_file")
        if size > max_bytes:
            raise too_large(what, size, max_bytes)
        yield fh, size


def read_whole(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, or the refusal for why not."""
    with opened(path, max_bytes, what) as (fh, _size):
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise refusal("unreadable_file", str(exc)) from exc
    if len(data) > max_bytes:  # grew while being read
        raise too_large(what, len(data), max_bytes)
    if not data:
        raise refusal("empty_file")
    return data


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first `size` bytes of a regular file (b"" when it cannot be read: the reader says why)."""
    from desktop.services.files import open_regular

    try:
        with open_regular(path) as fh:
            return fh.read(size)
    except OSError:
        return b""


# ----------------------------------------------------------------------------- text decoding

FALLBACK_ENCODING = "cp1252"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.01  # text has next to no control characters; binary data has ~12 %


def decode_text(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, notice). The rule, in order:

    1. a byte-order mark says UTF-8, UTF-16 or UTF-32: that;
    2. `encoding` (an HTML page's declared charset), when Python knows it;
    3. UTF-8;
    4. otherwise the text is read as Windows-1252 (Western European; Latin-1 for its five
       undefined bytes), which never fails, and the notice says so: most non-UTF-8 text files
       people have are Windows-1252 or Latin-1, and a wrong guess leaves accents wrong, not words.
    Binary data (NUL bytes, or over 1 % control characters) is refused as `not_text` whatever its
    name says.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(codec)), ""
            except UnicodeDecodeError as exc:
                raise refusal("not_text", f"invalid {codec}: {exc}") from exc
    if b"\x00" in data[:65536]:
        raise refusal("not_text", "NUL bytes")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = None
    if encoding and codecs.lookup(encoding).name != "utf-8":
        # As browsers do (WHATWG Encoding): a page declared Latin-1 or ASCII is Windows-1252.
        if codecs.lookup(encoding).name in ("iso8859-1", "ascii"):
            encoding = FALLBACK_ENCODING
        return _checked(data.decode(encoding, errors="replace")), ""
    try:
        return _checked(data.decode("utf-8")), ""
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return (
        _checked(text),
        "it is not UTF-8 text, so Hearth read it as Windows-1252 (Western European); "
        "if accented letters look wrong, save it as UTF-8 and re-index it",
    )


def _checked(text: str) -> str:
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample):
        raise refusal("not_text", "control characters")
    return text


# ----------------------------------------------------------------------------- caps


def capped(pages: list[Page]) -> tuple[list[Page], str]:
    """Pages cleaned and held to the per-page and per-document caps; (pages, what was cut)."""
    out: list[Page] = []
    cut: list[int] = []
    kept = 0
    over = False
    for page in pages:
        text = clean_text(page.text[: MAX_PAGE_CHARS * 2])
        if len(text) > MAX_PAGE_CHARS:
            cut.append(page.number)
            text = text[:MAX_PAGE_CHARS]
        room = max(0, MAX_DOCUMENT_CHARS - kept)
        if len(text) > room:
            cut.append(page.number)
            text = text[:room]
            over = True
        kept += len(text)
        out.append(Page(page.number, text))
        if over:
            break
    if not cut:
        return out, ""
    if over:
        return out, (
            f"its text passes Hearth's limit of {MAX_DOCUMENT_CHARS:,} characters per document, "
            f"so only the text up to page {cut[-1]} was kept"
        )
    listed = ", ".join(map(str, sorted(set(cut))[:5]))
    return out, (
        f"page(s) {listed} hold more text than a page can (over {MAX_PAGE_CHARS:,} characters), "
        f"so only their first {MAX_PAGE_CHARS:,} were kept"
    )


def finish(
    path: Path,
    kind: str,
    raw_pages: list[Page],
    *,
    title: str,
    size: int,
    unit: str,
    notices: tuple[str, ...] = (),
    cancel: CancelToken | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[DocumentInfo, list[Page]]:
    """Caps, the no-text check, progress per page; the DocumentInfo and pages a reader returns."""
    pages, truncated = capped(raw_pages)
    if truncated:
        log.warning("%s: text capped: %s", path.name, truncated)
    chars = sum(len(p.text) for p in pages)
    if chars < MIN_TEXT_CHARS:
        raise refusal("no_text_document", f"{chars} characters")
    for page in pages:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if on_progress is not None:
            on_progress(page.number, len(pages))
    info = DocumentInfo(
        str(path), kind, len(pages), clean_text(title)[:300], False, size, truncated, unit, notices
    )
    return info, pages

"""Word documents (.docx, python-docx), checked as a zip archive before anything is unpacked.

What a "page" is: Word does not store pages; it lays them out when it shows the document. So:
1. a file Word (or LibreOffice) saved carries the page breaks of its last layout
   (`w:lastRenderedPageBreak`): those are used, and page n is Word's page n as last saved;
2. else a file with explicit page breaks (Ctrl+Enter, "page break before") is cut at those;
3. else, or when a "page" from 1 or 2 holds more text than paper can (over 8,000 characters:
   Word spreads it over pages we cannot know, as after a single break behind a cover page), it
   is cut into sections at headings (Heading 1-3, Title), at its page breaks and about every
   3,000 characters (desktop/core/paging.py), and the numbers are sections.
DocumentInfo.unit says which ("page" or "section"). Body text and tables are read in order (a
table row becomes one line, its cells joined by " | "); headers, footers, comments and
footnotes are not.

It is read in a worker process (services/pdf.py's, with its time and memory limits), since
python-docx hands the XML to lxml, native code reading an untrusted file. A .docx is a zip.
Before python-docx reads it, the archive's own table of sizes is checked:
at most MAX_ENTRIES members, MAX_UNPACKED_BYTES in all, MAX_XML_BYTES of body XML, and a
compression ratio under MAX_RATIO once it holds more than a few MB. Python's zipfile never
inflates a member past the size it declares, so a member that lies about its size fails its
CRC check instead of filling memory. lxml (under python-docx) does not resolve entities and
refuses text nodes over 10 MB and nesting deeper than 256, so XML bombs fail too.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from desktop.core.errors import DocumentError
from desktop.core.jobs import CancelToken
from desktop.core.paging import PAGE_CHARS, Block, paginate
from desktop.core.types import Page
from desktop.services.readers.base import (
    DocumentInfo,
    ProgressCallback,
    finish,
    opened,
    read_whole,
    refusal,
    too_large,
)

log = logging.getLogger("desktop.readers")

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_XML_BYTES = 64 * 1024 * 1024  # word/document.xml: a 1,000-page contract is ~10 MB
MAX_RATIO = 100  # ordinary Word XML packs 5-20:1; bombs 1,000:1 and more
RATIO_FLOOR_BYTES = 8 * 1024 * 1024  # small files may pack tighter: judged by their ratio only above this
BODY = "word/document.xml"
MAX_PAGE_CHARS_PLAUSIBLE = 8000  # a dense page of small print holds ~5,000 characters

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc files, and password-protected .docx files


def check_package(source: bytes | BinaryIO) -> None:
    """Refuse what is not a .docx, or would unpack to too much, before anything is inflated.
    `source`: the file's bytes, or the open file (only its zip directory is read)."""
    archive_source: BinaryIO
    if isinstance(source, bytes):
        data, archive_source = source[:8], io.BytesIO(source)
    else:
        data, archive_source = source.read(8), source
        source.seek(0)
    if data.startswith(_OLE):
        raise refusal(
            "not_docx",
            "an OLE compound file",
            "This is an old-style Word file (.doc) or a password-protected one, not a .docx.",
        )
    if not data.startswith(b"PK"):
        raise refusal("not_docx", f"starts with {data[:8]!r}")
    try:
        archive = zipfile.ZipFile(archive_source)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise refusal("not_docx", f"not a zip archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise refusal("compression_bomb", f"{len(infos)} members (limit {MAX_ENTRIES})")
        names = {i.filename for i in infos}
        if BODY not in names:
            raise refusal("not_docx", f"a zip archive without {BODY}")
        unpacked = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        body = archive.getinfo(BODY).file_size
    if unpacked > MAX_UNPACKED_BYTES or body > MAX_XML_BYTES:
        raise refusal(
            "compression_bomb",
            f"unpacks to {unpacked} bytes, body XML {body} bytes "
            f"(limits {MAX_UNPACKED_BYTES} and {MAX_XML_BYTES})",
        )
    if unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_RATIO * max(1, packed):
        raise refusal("compression_bomb", f"{packed} bytes unpack to {unpacked} (over {MAX_RATIO}:1)")


def _runs_text(element: Any, marker: str) -> Iterator[str | None]:
    """The text of a paragraph element in order; None where a page break (of `marker`'s kind) falls."""
    for el in element.iter(
        f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}noBreakHyphen", f"{_W}lastRenderedPageBreak"
    ):
        tag = el.tag
        if tag == f"{_W}t":
            yield el.text or ""
        elif tag == f"{_W}tab":
            yield "\t"
        elif tag == f"{_W}noBreakHyphen":
            yield "-"
        elif tag == f"{_W}cr":
            yield "\n"
        elif tag == f"{_W}br":
            kind = el.get(f"{_W}type") or "textWrapping"
            if kind == "page":
                if marker == "hard":
                    yield None
            elif kind == "textWrapping":
                yield "\n"
        elif marker == "rendered":  # lastRenderedPageBreak
            yield None


def _blocks(document: Any, marker: str, heading_names: dict[str, str]) -> Iterator[Block]:
    """The body in reading order: paragraphs (headings marked), table rows, page breaks."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            p = item._p
            if marker == "hard":
                ppr = p.pPr
                if ppr is not None and ppr.find(f"{_W}pageBreakBefore") is not None:
                    flag = ppr.find(f"{_W}pageBreakBefore").get(f"{_W}val", "true")
                    if flag not in ("0", "false", "off"):
                        yield Block("", "break")
            kind = "heading" if heading_names.get(p.style or "", "") else "text"
            text: list[str] = []
            for piece in _runs_text(p, marker):
                if piece is None:
                    yield Block("".join(text), kind)
                    yield Block("", "break")
                    text = []
                else:
                    text.append(piece)
            yield Block("".join(text), kind)
        elif isinstance(item, Table):
            yield from _table_blocks(item, marker)


def _table_blocks(table: Any, marker: str) -> Iterator[Block]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        broke = False
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                continue
            seen.add(id(cell._tc))
            parts: list[str] = []
            for piece in _runs_text(cell._tc, marker):
                if piece is None:
                    broke = True
                else:
                    parts.append(piece)
            cells.append(" ".join("".join(parts).split()))
        if broke:
            yield Block("", "break")  # the row that starts a new page begins it
        yield Block(" | ".join(c for c in cells if c))


def _heading_styles(document: Any) -> dict[str, str]:
    """Style id → name for the heading styles (Heading 1-3, Title) that start a section."""
    wanted = {"title", "heading 1", "heading 2", "heading 3"}
    out: dict[str, str] = {}
    for style in document.styles:
        name = (getattr(style, "name", "") or "").lower()
        if name in wanted:
            out[style.style_id] = name
    return out


class WordReader:
    kind = "docx"
    label = "Word documents"
    suffixes: tuple[str, ...] = (".docx",)

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04") and (b"word/" in head or b"[Content_Types].xml" in head)

    def _open(self, path: Path) -> tuple[Any, int]:
        data = read_whole(path, MAX_FILE_BYTES, "Word document")
        check_package(data)
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        try:
            return docx.Document(io.BytesIO(data)), len(data)
        except MemoryError as exc:
            raise too_large("Word document", len(data), MAX_FILE_BYTES) from exc
        except (PackageNotFoundError, KeyError, ValueError) as exc:
            raise refusal("not_docx", f"{type(exc).__name__}: {exc}"[:500]) from exc
        except Exception as exc:  # lxml's XMLSyntaxError, zipfile's BadZipFile (a CRC that lies) …
            log.info("%s: python-docx failed: %s", path.name, type(exc).__name__)
            raise refusal("damaged", f"{type(exc).__name__}: {exc}"[:500]) from exc

    def inspect(self, path: Path) -> DocumentInfo:
        with opened(path, MAX_FILE_BYTES, "Word document") as (fh, size):
            check_package(fh)
            with zipfile.ZipFile(fh) as archive:
                body = archive.getinfo(BODY).file_size
        # Body XML runs ~4-8 bytes per character of text: an estimate for progress bars.
        estimate = max(1, body // (6 * PAGE_CHARS))
        return DocumentInfo(str(path), self.kind, estimate, "", False, size, "", "page")

    def extract(
        self, path: Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
    ) -> tuple[DocumentInfo, list[Page]]:
        """Read in a worker process (services/pdf.py's, with its time and memory limits): lxml is
        native code, and this file is untrusted."""
        from desktop.services import pdf

        with opened(path, MAX_FILE_BYTES, "Word document") as (fh, _size):
            check_package(fh)  # a bomb or a stranger is refused here, before any worker sees it
        try:
            raw, pages = pdf.read_in_worker(path, self.kind, cancel, on_progress)
        except DocumentError as exc:
            if exc.reason in ("timeout", "parser_limit"):
                raise refusal(exc.reason, exc.detail) from exc
            if exc.reason == "too_large" and "out of memory" in exc.detail:
                raise refusal(
                    "too_large",
                    exc.detail,
                    f"This Word document needs more memory than Hearth allows a reader "
                    f"({pdf.MEMORY_LIMIT_BYTES / 2**30:.1f} GB).",
                ) from exc
            raise
        info = DocumentInfo(
            str(path),
            self.kind,
            len(pages),
            str(raw.get("title", "")),
            False,
            int(raw.get("file_size", 0)),
            str(raw.get("truncated", "")),
            str(raw.get("unit", "page")),
            tuple(raw.get("notices", ())),
        )
        return info, pages

    def extract_here(self, path: Path) -> tuple[DocumentInfo, list[Page]]:
        """Read in this process (the worker calls it)."""
        document, size = self._open(path)
        body = document.element.body
        if body.find(f".//{_W}lastRenderedPageBreak") is not None:
            marker, unit = "rendered", "page"
        elif (
            body.find(f".//{_W}br[@{_W}type='page']") is not None
            or body.find(f".//{_W}pageBreakBefore") is not None
        ):
            marker, unit = "hard", "page"
        else:
            marker, unit = "none", "section"
        try:
            pages = _with_blank_pages(_blocks(document, marker, {})) if unit == "page" else []
            if unit == "page" and max(len(p.text) for p in pages) > MAX_PAGE_CHARS_PLAUSIBLE:
                # One "page" holds more than paper can: Word lays it out over several pages we do
                # not know, so its numbers would not be Word's. Sections instead (breaks kept).
                unit = "section"
            if unit == "section":
                pages = paginate(_blocks(document, marker, _heading_styles(document)), sections=True)
        except MemoryError as exc:
            raise too_large("Word document", size, MAX_FILE_BYTES) from exc
        title = ""
        try:
            title = document.core_properties.title or ""
        except Exception:  # optional metadata; a broken core.xml must not fail the document
            title = ""
        if not title.strip():
            title = next(
                (p.text for p in document.paragraphs[:20] if p.style is not None and p.style.name == "Title"),
                "",
            )
        return finish(path, self.kind, pages, title=title, size=size, unit=unit)


def _with_blank_pages(blocks: Iterator[Block]) -> list[Page]:
    """Pages cut only at the breaks, blank ones kept, so page n is the document's page n."""
    pages: list[list[str]] = [[]]
    for block in blocks:
        if block.kind == "break":
            pages.append([])
        elif block.text.strip():
            pages[-1].append(block.text.strip())
    while len(pages) > 1 and not pages[-1]:
        pages.pop()  # a break at the very end opens no page
    return [Page(n, "\n\n".join(parts)) for n, parts in enumerate(pages, start=1)]

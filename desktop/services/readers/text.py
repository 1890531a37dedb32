"""Plain text (.txt) and Markdown (.md): decoded (UTF-8, else Windows-1252 with a notice), then cut
into pages (see desktop/core/paging.py).

- Plain text: a "page" is about 3,000 characters, cut where a paragraph ends (a blank line); a
  form feed (as pdftotext writes between pages) always starts a new page.
- Markdown: a "section" starts at each heading of level 1 to 3 (`#`, `##`, `###`, or a line
  underlined with `===`/`---`) outside code blocks; a section longer than about 3,000 characters
  continues on the next number. The text is kept as written (Markdown marks included), but the
  lines of a paragraph are joined, as Markdown renders them (a list item, quote or table row, and
  a line ending in a hard break, keep their own line; code blocks are kept as they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from desktop.core.jobs import CancelToken
from desktop.core.paging import Block, paginate
from desktop.core.types import Page
from desktop.services.readers.base import (
    DocumentInfo,
    ProgressCallback,
    decode_text,
    finish,
    read_whole,
)

MAX_TEXT_BYTES = 32 * 1024 * 1024  # four times the document text cap: room for markup and spacing

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```+|~~~+)")
_OWN_LINE = re.compile(r"^\s*(?:[-*+]\s|\d{1,9}[.)]\s|>|\|)")  # list item, quote, table row
SECTION_LEVELS = 3  # headings of this level or above start a section


def read_text(path: Path, what: str) -> tuple[str, int, tuple[str, ...]]:
    """(text, file size, notices) of a text file, or the refusal for why it cannot be read."""
    data = read_whole(path, MAX_TEXT_BYTES, what)
    text, notice = decode_text(data)
    return text, len(data), (notice,) if notice else ()


def text_blocks(text: str) -> Iterator[Block]:
    """Paragraphs (blank-line separated); a form feed is a hard page break."""
    for n, part in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\f")):
        if n:
            yield Block("", "break")
        for para in re.split(r"\n[ \t]*\n", part):
            yield Block(para)


def markdown_blocks(text: str) -> Iterator[Block]:
    """Paragraphs and headings of a Markdown text, in order; fenced code is one block per fence."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    para: list[str] = []
    fence = ""

    def paragraph(code: bool = False) -> Iterator[Block]:
        if para:
            yield Block("\n".join(para) if code else _joined(para))
            para.clear()

    for line in lines:
        if fence:
            para.append(line)
            if line.strip().startswith(fence):
                fence = ""
                yield from paragraph(code=True)
            continue
        if m := _FENCE.match(line):
            yield from paragraph()
            fence = m.group(1)[:3]
            para.append(line)
            continue
        if m := _ATX.match(line):
            yield from paragraph()
            level = len(m.group(1))
            yield Block(line.strip(), "heading" if level <= SECTION_LEVELS else "text")
            continue
        if _SETEXT.match(line) and len(para) == 1 and para[0].strip():
            title = para.pop()
            yield Block(f"{title}\n{line}", "heading")  # both setext levels (1, 2) are within 1-3
            continue
        if not line.strip():
            yield from paragraph()
            continue
        if "\f" in line:
            before, _, after = line.partition("\f")
            para.append(before)
            yield from paragraph()
            yield Block("", "break")
            para.append(after)
            continue
        para.append(line)
    yield from paragraph()


def _joined(lines: list[str]) -> str:
    """A paragraph's lines joined with spaces where Markdown would (see the module's docstring).
    Built from parts, joined once: a note of 300,000 lines with no blank one is not re-copied."""
    out: list[list[str]] = [[lines[0]]]
    for line in lines[1:]:
        previous = out[-1][-1]
        hard = previous.endswith(("  ", "\\"))
        if hard or _OWN_LINE.match(line):
            if hard:
                out[-1][-1] = previous.rstrip(" \\")
            out.append([line])
        else:
            out[-1][-1] = previous.rstrip()
            out[-1].append(line.lstrip())
    return "\n".join(" ".join(parts) for parts in out)


def markdown_title(text: str) -> str:
    """The first level-1 heading's words, without its marks."""
    for block in markdown_blocks(text[:200_000]):
        if block.kind == "heading":
            first = block.text.split("\n")[0]
            if m := _ATX.match(first):
                if len(m.group(1)) == 1:
                    return (m.group(2) or "").strip()
                return ""
            return first.strip()
    return ""


class TextReader:
    kind = "text"
    label = "Text files"
    suffixes: tuple[str, ...] = (".txt", ".text")
    what = "text file"
    unit = "page"

    def sniff(self, head: bytes) -> bool:
        # Only for files with no known suffix: text that is UTF-8 (a cut at the 4 KB edge allowed).
        if not head or b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                return False
        return True

    def blocks(self, text: str) -> Iterator[Block]:
        return text_blocks(text)

    def title(self, text: str) -> str:
        return ""

    def inspect(self, path: Path) -> DocumentInfo:
        return self.extract(path)[0]  # reading a text file costs milliseconds: the exact count

    def extract(
        self, path: Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
    ) -> tuple[DocumentInfo, list[Page]]:
        text, size, notices = read_text(path, self.what)
        pages = paginate(self.blocks(text), sections=self.unit == "section")
        return finish(
            path,
            self.kind,
            pages,
            title=self.title(text),
            size=size,
            unit=self.unit,
            notices=notices,
            cancel=cancel,
            on_progress=on_progress,
        )


class MarkdownReader(TextReader):
    kind = "markdown"
    label = "Markdown notes"
    suffixes: tuple[str, ...] = (".md", ".markdown")
    what = "Markdown file"
    unit = "section"

    def sniff(self, head: bytes) -> bool:
        return False  # Markdown is text: a file with no known suffix is read as plain text

    def blocks(self, text: str) -> Iterator[Block]:
        return markdown_blocks(text)

    def title(self, text: str) -> str:
        return markdown_title(text)

"""Cut the text of a document without pages (plain text, Markdown, HTML, Word without page breaks)
into numbered "pages" that citations can point at.

What a page is here (README "What Hearth reads" says the same):
- a page ends at a paragraph boundary once it holds about PAGE_CHARS characters (a paragraph
  longer than that is cut at sentence ends, else at spaces);
- a hard break (a form feed in a text file, a page break in a Word file) always ends a page;
- a heading ends a page when `sections` is on (Markdown, HTML, Word without page breaks): the
  heading starts the next one, so "section 3" is the third heading's part of the document. A
  heading right after another heading stays with it (a title and its first subheading are one
  section). A long section continues on the next number.

Numbers are 1-based and dense, and the same file always gives the same pages, so a citation
opened later in the text view lands where it was cited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.core.types import Page

PAGE_CHARS = 3000  # about a printed page of prose (a dense A4 page holds 3,000-3,500 characters)

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph-like piece of a document, in reading order.

    kind: "text" (a paragraph, list item, table row …), "heading", or "break" (a hard page break;
    its text is ignored).
    """

    text: str
    kind: str = "text"


def paginate(blocks: Iterable[Block], *, sections: bool, page_chars: int = PAGE_CHARS) -> list[Page]:
    """The blocks as numbered pages (see the module's docstring). Blank blocks are dropped; so are
    pages that would hold nothing (two breaks in a row make one)."""
    pages: list[str] = []
    current: list[str] = []
    size = 0
    only_headings = True

    def flush() -> None:
        nonlocal current, size, only_headings
        if current:
            pages.append("\n\n".join(current))
        current, size, only_headings = [], 0, True

    for block in blocks:
        if block.kind == "break":
            flush()
            continue
        text = block.text.strip()
        if not text:
            continue
        if block.kind == "heading" and sections and current and not only_headings:
            flush()
        for piece in _split_long(text, page_chars):
            if current and size + len(piece) + 2 > page_chars:
                flush()
            current.append(piece)
            size += len(piece) + 2
            only_headings = only_headings and block.kind == "heading"
    flush()
    return [Page(n, text) for n, text in enumerate(pages, start=1)]


def _split_long(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut after sentences, else at spaces, else hard.
    Walks by offsets: a 30 MB paragraph with no line break is cut in one pass, not re-copied."""
    if len(text) <= limit:
        return [text]
    out: list[str] = []
    at, end = 0, len(text)
    while end - at > limit:
        window = text[at : at + limit + 1]
        cut = max((m.start() for m in _SENTENCE_END.finditer(window)), default=-1)
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        out.append(window[:cut].rstrip())
        at += cut
        while at < end and text[at].isspace():
            at += 1
    if at < end:
        out.append(text[at:])
    return out

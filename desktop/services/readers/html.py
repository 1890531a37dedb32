"""Web pages (.html, .htm), read with the standard library's html.parser (no scripts are run, nothing
is fetched).

Only what a reader of the page sees becomes text: the contents of <script>, <style>, <noscript>,
<template>, <svg>, <head> (but its <title>), and of elements marked `hidden`, `aria-hidden="true"`
or `display:none` are left out (hidden text is also a way to slip instructions to a model), and
so are navigation menus (<nav>), which repeat on every page of a site.
Block elements end paragraphs (<pre> keeps its line breaks), list items keep a bullet, a table
row becomes one line with its cells joined by " | ". A "section" starts at each <h1>-<h3>
(desktop/core/paging.py), and a section longer than about 3,000 characters continues on the
next number.

Encoding: a byte-order mark, else the page's own <meta charset> (Latin-1 read as Windows-1252, as
browsers do), else UTF-8, else Windows-1252 with a notice (services/readers/base.py).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from desktop.core.jobs import CancelToken
from desktop.core.paging import Block, paginate
from desktop.core.types import Page
from desktop.services.readers.base import DocumentInfo, ProgressCallback, decode_text, finish, read_whole

MAX_HTML_BYTES = 32 * 1024 * 1024

_SKIP = {
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "head", "select", "nav",
}  # fmt: skip
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip
_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol",
    "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class _PageText(HTMLParser):
    """Collects Blocks of visible text (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._text: list[str] = []
        self._kind = "text"
        self._skip: list[str] = []  # open elements whose content is not shown (innermost last)
        self._skipped: Counter[str] = Counter()  # how many of each are open: membership in O(1)
        self._in_title = False
        self._cells: list[str] | None = None  # the current table row's cells
        self._pre = 0  # inside <pre>: line breaks are kept

    # -- element boundaries

    def _end_block(self) -> None:
        if self._cells is not None:  # a paragraph inside a table cell: the row stays one line
            self._text.append(" ")
            return
        raw = "".join(self._text)
        if self._pre:
            text = "\n".join(" ".join(line.split()) for line in raw.strip("\n").split("\n"))
        else:
            text = " ".join(raw.split())
        if text == "•":  # a list item whose text sits in a paragraph of its own: keep the bullet
            return
        if text:
            self.blocks.append(Block(text, self._kind))
        self._text = []
        self._kind = "text"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            if tag not in _VOID:
                self._push_skip(tag)
            return
        if tag == "title":
            self._in_title = True
            return
        values = {k: (v or "") for k, v in attrs}
        hidden = (
            "hidden" in values
            or values.get("aria-hidden", "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(values.get("style", "")))
        )
        if (tag in _SKIP or hidden) and tag not in _VOID:
            self._push_skip(tag)
            return
        if tag == "br":
            self._text.append("\n")
        elif tag in _HEADINGS:
            self._end_block()
            self._kind = "heading" if _HEADINGS[tag] <= 3 else "text"
        elif tag == "tr":
            if self._cells is not None:  # the previous row's </tr> was left out, as HTML allows
                self.handle_endtag("tr")
            self._end_block()
            self._cells = []
        elif tag in ("td", "th"):
            if self._cells is not None:
                self._cells.append("".join(self._text))
                self._text = []
        elif tag in _BLOCK:
            self._end_block()
            if tag == "pre":
                self._pre += 1
            if tag == "li":
                self._text.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            # Close the innermost skipped element of this name (browsers forgive missing end tags).
            if self._skipped[tag]:
                while self._skip:
                    opened = self._skip.pop()
                    self._skipped[opened] -= 1
                    if opened == tag:
                        break
            return
        if tag in ("table", "tbody", "thead", "tfoot") and self._cells is not None:
            self.handle_endtag("tr")  # a last row left open, as HTML allows
        if tag == "title":
            self._in_title = False
        elif tag == "tr" and self._cells is not None:
            self._cells.append("".join(self._text))
            self._text = []
            row = [" ".join(c.split()) for c in self._cells]
            self._cells = None
            line = " | ".join(c for c in row if c)
            if line:
                self.blocks.append(Block(line))
        elif tag in _HEADINGS or tag in _BLOCK:
            self._end_block()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def _push_skip(self, tag: str) -> None:
        self._skip.append(tag)
        self._skipped[tag] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._skip:
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title and not self._skip:
            self.title += data
        elif not self._skip:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        if self._cells is not None:
            self.handle_endtag("tr")
        self._end_block()


def page_text(markup: str) -> tuple[list[Block], str]:
    """The visible text of an HTML page as Blocks, and its <title>."""
    parser = _PageText()
    # <title> sits inside <head>, which is skipped: read the title on its own first.
    title = re.search(r"<title[^>]*>(.*?)</title>", markup[:65536], re.IGNORECASE | re.DOTALL)
    parser.feed(markup)
    parser.close()
    return parser.blocks, html.unescape(" ".join(title.group(1).split())) if title else ""


def read_html(path: Path) -> tuple[str, int, tuple[str, ...]]:
    data = read_whole(path, MAX_HTML_BYTES, "web page")
    declared = _META_CHARSET.search(data[:4096])
    text, notice = decode_text(data, declared.group(1).decode("ascii", "replace") if declared else None)
    return text, len(data), (notice,) if notice else ()


class HtmlReader:
    kind = "html"
    label = "Web pages"
    suffixes: tuple[str, ...] = (".html", ".htm", ".xhtml")

    def sniff(self, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
        return start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:256]

    def inspect(self, path: Path) -> DocumentInfo:
        return self.extract(path)[0]  # parsing a page costs milliseconds: the exact count

    def extract(
        self, path: Path, cancel: CancelToken | None = None, on_progress: ProgressCallback | None = None
    ) -> tuple[DocumentInfo, list[Page]]:
        markup, size, notices = read_html(path)
        blocks, title = page_text(markup)
        if cancel is not None:
            cancel.raise_if_cancelled()
        pages = paginate(blocks, sections=True)
        return finish(
            path,
            self.kind,
            pages,
            title=title,
            size=size,
            unit="section",
            notices=notices,
            cancel=cancel,
            on_progress=on_progress,
        )

"""The text view: a document that is not a PDF (Word, Markdown, text, HTML) beside the chat, opened at
a cited page or section with the evidence marked.

The file is read again by the same reader that indexed it (services/readers), so its page or
section numbers are the ones cited. The whole document is shown, each page under a heading
("Page 3", or "Section 3" where Hearth cut the sections), and the evidence is found in the
cited page's text as the PDF view finds it (pdf_viewer.find_span: case and whitespace ignored,
then runs of the snippet's words), marked black on yellow and scrolled to the upper third.
Find: every hit, "n of m", next and previous (Enter / Shift+Enter, F3).
"""

from __future__ import annotations

import bisect
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTextEdit,
    QToolButton,
    QWidget,
)

from desktop.core.errors import DocumentError
from desktop.ui import theme
from desktop.ui.viewer.find_bar import FindRow, pane_frame, tool_button
from desktop.ui.viewer.pdf_viewer import find_span, passage_candidates

log = logging.getLogger("desktop.ui.viewer")

MAX_HITS = 1000


def _utf16(text: str, index: int) -> int:
    """Qt counts positions in UTF-16 code units: a character outside the BMP (an emoji) is two."""
    return len(text[:index].encode("utf-16-le")) // 2


class TextViewer(QWidget):
    """One non-PDF document: `show_source(path, page, snippet, quote)` opens it at a page (or
    section) with the evidence marked.

    Signals (GUI thread): close_requested() — the pane's close button was pressed;
    page_changed(int) — the 1-based page or section at the top of the view changed.
    """

    close_requested = Signal()
    page_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Document viewer")
        self.setMinimumWidth(280)
        self.path: Path | None = None
        self.unit = "page"
        self.found = ""  # the text marked as evidence ("" when none was found)
        self._stamp: tuple[int, int] | None = None  # (size, mtime_ns) of the file shown
        self._starts: list[int] = []  # Qt position where each page's text starts
        self._ends: list[int] = []
        self._count = 0
        self._current_page = 0
        # The page the view was last sent to (0-based), kept until the user scrolls: a short
        # document cannot scroll its cited section to the top, and still says which one was cited.
        self._target: int | None = None
        self._scrolling = False  # the view is scrolling itself (not the user)
        self._evidence: QTextEdit.ExtraSelection | None = None
        self._hits: list[QTextCursor] = []
        self._current_hit = -1

        layout, top, bars, self.title = pane_frame(self)

        nav = QHBoxLayout()
        nav.setSpacing(2)
        self.prev_button = self._button("prev", "Previous page", "Previous page or section")
        self.prev_button.clicked.connect(lambda: self.go(self.page() - 1))
        self.page_label = QLabel()
        self.page_label.setAccessibleName("Page")
        self.next_button = self._button("next", "Next page", "Next page or section")
        self.next_button.clicked.connect(lambda: self.go(self.page() + 1))
        for w in (self.prev_button, self.page_label, self.next_button):
            nav.addWidget(w)
        nav.addStretch(1)
        self.close_button = self._button("close", "Close document", "Close the document (Ctrl+W)")
        self.close_button.clicked.connect(self.close_requested)
        nav.addWidget(self.close_button)
        bars.addLayout(nav)

        self.finder = FindRow(self.find_next, self._on_find_text, self.find_previous, self.find_next)
        find = self.finder.layout
        self.find_box, self.find_count = self.finder.box, self.finder.count
        self.find_prev_button, self.find_next_button = self.finder.previous_button, self.finder.next_button
        bars.addLayout(find)
        layout.addWidget(top)

        self.text = QPlainTextEdit()
        self.text.setObjectName("documentText")
        self.text.setAccessibleName("Document text")
        self.text.setReadOnly(True)
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.text.document().setDocumentMargin(16)
        self.text.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        layout.addWidget(self.text, 1)

        for keys, slot in (
            ("F3", self.find_next),
            ("Shift+F3", self.find_previous),
            ("Shift+Return", self.find_previous),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._update_labels()

    def _button(self, icon_name: str, name: str, tip: str) -> QToolButton:
        return tool_button(icon_name, name, tip)

    # -- opening

    def is_current(self, path: Path) -> bool:
        """Whether `path` is the document shown, unchanged on disk since it was read."""
        return self.path == path and self._stamp is not None and self._stamp == _stamp(path)

    def set_loading(self, path: Path) -> None:
        """Say the document is being read (the window reads it off the GUI thread, then `load`s it)."""
        self.path, self._stamp = None, None
        self.title.setVisible(False)
        self._show([], "page")
        self.text.setPlaceholderText(f"Reading {path.name}…")

    def load(self, path: Path, pages: list[Any], unit: str, stamp: tuple[int, int] | None) -> None:
        """Show `pages` of `path`, as its reader gave them (`stamp`: its (size, mtime_ns) when read)."""
        self.path, self._stamp = path, stamp
        self.title.setToolTip(str(path))
        self.title.setVisible(False)
        self._show(pages, unit)

    def show_error(self, path: Path, message: str) -> None:
        """The document could not be read: say why in the pane."""
        self.path, self._stamp = None, None
        self.title.setText(f"Cannot open {path.name}: {message}")
        self.title.setVisible(True)
        self._show([], "page")

    def open(self, path: Path) -> bool:
        """Read `path` with its reader (on this thread) and show it; False, and the reason in the pane,
        when it cannot be read. The window reads off the GUI thread instead (`read_document`)."""
        if self.is_current(path):
            return True
        try:
            stamp, info, pages = read_document(path)
        except DocumentError as exc:
            log.info("text view could not open %s: %s", path.name, exc.reason)
            self.show_error(path, exc.user_message)
            return False
        self.load(path, pages, info.unit, stamp)
        return True

    def _show(self, pages: list[Any], unit: str) -> None:
        self.unit = unit
        word = "Section" if unit == "section" else "Page"
        parts: list[str] = []
        heads: list[tuple[int, int]] = []
        starts: list[int] = []
        ends: list[int] = []
        at = 0  # Qt position (UTF-16 units) of the end of what `parts` holds

        def add(piece: str) -> None:
            nonlocal at
            parts.append(piece)
            at += len(piece.encode("utf-16-le")) // 2

        for page in pages:
            head = f"{word} {page.number}"
            heads.append((at, len(head)))
            add(head + "\n")
            starts.append(at)
            add(page.text)
            ends.append(at)
            add("\n\n")
        self._count = len(pages)
        self._starts, self._ends = starts, ends
        self._evidence = None
        self._hits, self._current_hit = [], -1
        self.found = ""
        self.text.setPlaceholderText("")
        self.text.setPlainText("".join(parts).rstrip("\n"))
        # Page headings: small, bold and muted, so they guide without reading as document text.
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold)
        fmt.setForeground(QColor(theme.current.muted))
        cursor = QTextCursor(self.text.document())
        for start, length in heads:
            cursor.setPosition(start)
            cursor.setPosition(start + length, QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)
        self._current_page = 0
        self._target = None
        self._apply_selections()
        self._on_find_text(self.find_box.text())
        self._update_labels()

    def show_source(self, path: str | Path, page: int, snippet: str = "", quote: str = "") -> bool:
        """Open `path` at 1-based `page` (or section) with the evidence marked: `quote` when given,
        else the snippet. The neighbouring pages are tried when the cited one lacks it."""
        if not self.open(Path(path)):
            return False
        if self._count == 0:
            return True
        index = max(0, min(self._count - 1, page - 1))
        span: tuple[int, int] | None = None
        if quote.strip() or snippet.strip():
            for candidate in (index, index + 1, index - 1):
                if 0 <= candidate < self._count:
                    span = self._locate(candidate, quote, snippet)
                    if span is not None:
                        break
        if span is None:
            self._evidence = None
            self.found = ""
            self._apply_selections()
            self.go(index + 1)
            return True
        index = max(0, bisect.bisect_right(self._starts, span[0]) - 1)
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(span[0])
        cursor.setPosition(span[1], QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(theme.current.evidence))
        fmt.setForeground(QColor("#000000"))  # black on yellow in either theme
        selection.format = fmt
        self._evidence = selection
        self.found = cursor.selectedText().replace("\u2029", "\n")
        self._apply_selections()
        self.reveal(span[0], page=index)
        return True

    def _locate(self, index: int, quote: str, snippet: str) -> tuple[int, int] | None:
        """Qt positions (start, end) of the evidence on 0-based page `index`, or None."""
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._starts[index])
        cursor.setPosition(self._ends[index], QTextCursor.MoveMode.KeepAnchor)
        text = cursor.selectedText().replace("\u2029", "\n")
        wanted = [w for w in (quote, snippet if not quote else "") if w.strip()]
        wanted += passage_candidates(snippet or quote)
        for want in wanted:
            span = find_span(text, want)
            if span is not None:
                base = self._starts[index]
                return base + _utf16(text, span[0]), base + _utf16(text, span[1])
        return None

    # -- navigation

    def page(self) -> int:
        """The 1-based page (or section) shown: the one at the view's upper third."""
        return self._current_page + 1

    def page_count(self) -> int:
        return self._count

    def go(self, page: int) -> None:
        if not self._count:
            return
        index = max(0, min(self._count - 1, page - 1))
        self.reveal(max(0, self._starts[index] - 1), third=False, page=index)

    def reveal(self, position: int, third: bool = True, page: int | None = None) -> None:
        """Scroll so `position` sits in the upper third of the view (at the top with third=False);
        `page` (0-based) is then the page shown until the user scrolls."""
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(position)
        self._scrolling = True
        try:
            self.text.setTextCursor(cursor)
            bar = self.text.verticalScrollBar()
            bar.setValue(bar.maximum())  # then back up: the line lands at the top, not the bottom
            self.text.ensureCursorVisible()
            if third:
                rect = self.text.cursorRect(cursor)
                bar.setValue(bar.value() - int(self.text.viewport().height() / 3 / max(1, rect.height())))
        finally:
            self._scrolling = False
        self._target = page
        self._track_page()

    def _on_scrolled(self, _value: int) -> None:
        if not self._scrolling:
            self._target = None  # the user has moved on
        self._track_page()

    def _track_page(self) -> None:
        if not self._count:
            return
        if self._target is not None:
            index = self._target
        else:
            point = self.text.viewport().rect().topLeft()
            point.setY(int(self.text.viewport().height() / 3))
            position = self.text.cursorForPosition(point).position()
            index = max(0, bisect.bisect_right(self._starts, position) - 1)
        if index != self._current_page:
            self._current_page = index
            self.page_changed.emit(index + 1)
        self._update_labels()

    def _update_labels(self) -> None:
        word = "Section" if self.unit == "section" else "Page"
        self.page_label.setText(f"{word} {self.page()} of {self._count}" if self._count else "")
        self.page_label.setAccessibleName(word)
        self.prev_button.setAccessibleName(f"Previous {word.lower()}")
        self.next_button.setAccessibleName(f"Next {word.lower()}")
        self.prev_button.setEnabled(self.page() > 1)
        self.next_button.setEnabled(self.page() < self._count)

    # -- marks and find

    def _apply_selections(self) -> None:
        selections: list[QTextEdit.ExtraSelection] = []
        accent = QColor(theme.current.accent)
        for i, hit in enumerate(self._hits):
            sel = QTextEdit.ExtraSelection()
            sel.cursor = hit
            fmt = QTextCharFormat()
            colour = QColor(accent)
            colour.setAlpha(150 if i == self._current_hit else 70)
            fmt.setBackground(colour)
            sel.format = fmt
            selections.append(sel)
        if self._evidence is not None:
            selections.append(self._evidence)
        self.text.setExtraSelections(selections)

    def _on_find_text(self, text: str) -> None:
        self._hits, self._current_hit = [], -1
        wanted = text.strip()
        if wanted:
            document = self.text.document()
            cursor = document.find(wanted, 0)
            while not cursor.isNull() and len(self._hits) < MAX_HITS:
                self._hits.append(cursor)
                cursor = document.find(wanted, cursor, QTextDocument.FindFlag(0))
        self._apply_selections()
        self._update_find_label()

    def hit_count(self) -> int:
        return len(self._hits)

    def _update_find_label(self) -> None:
        self.finder.show_count(len(self._hits), self._current_hit)

    def _show_hit(self, index: int) -> None:
        self._current_hit = index
        self._apply_selections()
        start = self._hits[index].selectionStart()
        self.reveal(start, page=max(0, bisect.bisect_right(self._starts, start) - 1))
        self._update_find_label()

    def find_next(self) -> None:
        if self._hits:
            self._show_hit((self._current_hit + 1) % len(self._hits))

    def find_previous(self) -> None:
        if self._hits:
            self._show_hit((self._current_hit - 1) % len(self._hits))

    def highlight(self, text: str) -> None:
        """Find `text` (as the PDF view's `highlight`)."""
        self.find_box.setText(text)
        self.find_next()

    def evidence_visible(self) -> bool:
        """Whether the marked evidence is on screen."""
        if self._evidence is None:
            return False
        rect = self.text.cursorRect(self._evidence.cursor)
        return self.text.viewport().rect().intersects(rect)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_document(path: Path) -> tuple[tuple[int, int] | None, Any, list[Any]]:
    """(stamp, DocumentInfo, pages) of a non-PDF document, read by its reader (services/readers).
    Takes milliseconds for text, a fraction of a second for a long Word file (parsed in a worker
    process): the window calls it on the io lane. Raises DocumentError."""
    from desktop.services import readers

    stamp = _stamp(path)
    info, pages = readers.extract(path)
    return stamp, info, pages

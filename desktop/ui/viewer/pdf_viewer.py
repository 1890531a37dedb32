"""The built-in PDF viewer (QtPdf): opens a cited document at its page and finds the cited passage there.

QtPdf is imported here, not at the top of the window's modules, so the window paints without it.
Finding the passage: PDF text rarely matches the extracted snippet character for character (line
breaks, hyphens), so shorter and shorter runs of the snippet's words are tried until one is found
on the cited page; every hit is highlighted and the view jumps to the first.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

log = logging.getLogger("desktop.ui.viewer")

_WORD = re.compile(r"[^\W_]{2,}[\w'’-]*", re.UNICODE)


def passage_candidates(snippet: str, longest: int = 8, shortest: int = 3) -> list[str]:
    """Runs of consecutive words from `snippet`, longest first, to search for on the page."""
    words = _WORD.findall(snippet)
    out: list[str] = []
    for size in range(min(longest, len(words)), shortest - 1, -1):
        for start in range(0, max(1, len(words) - size + 1), max(1, size // 2)):
            run = " ".join(words[start : start + size])
            if run not in out:
                out.append(run)
            if len(out) > 40:
                return out
    return out


class PdfViewer(QWidget):
    """Shows one PDF; `show_source(path, page, snippet)` opens it at a page with the passage found."""

    def __init__(self, parent: QWidget | None = None) -> None:
        # QtPdf loads here, when a source is first opened, never while the window starts (TID253).
        from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
        from PySide6.QtPdfWidgets import QPdfView

        super().__init__(parent)
        self._ready, self._no_error = QPdfDocument.Status.Ready, QPdfDocument.Error.None_
        self.setAccessibleName("Document viewer")
        self.document = QPdfDocument(self)
        self.search = QPdfSearchModel(self)
        self.search.setDocument(self.document)
        self.path: Path | None = None
        self.found: str = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.title = QLabel()
        self.title.setAccessibleName("Document")
        bar.addWidget(self.title, 1)
        self.prev_button = self._button("‹", "Previous page", lambda: self.go(self.page() - 1))
        self.page_label = QLabel()
        self.page_label.setAccessibleName("Page")
        self.next_button = self._button("›", "Next page", lambda: self.go(self.page() + 1))
        bar.addWidget(self.prev_button)
        bar.addWidget(self.page_label)
        bar.addWidget(self.next_button)
        layout.addLayout(bar)
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText("Find in document")
        self.find_box.setAccessibleName("Find in document")
        self.find_box.setClearButtonEnabled(True)
        for button in self.find_box.findChildren(QToolButton):
            button.setAccessibleName("Clear find")
        self.find_box.returnPressed.connect(lambda: self.highlight(self.find_box.text()))
        layout.addWidget(self.find_box)
        self.view = QPdfView(self)
        self.view.setAccessibleName("Page view")
        self.view.setDocument(self.document)
        self.view.setSearchModel(self.search)
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.pageNavigator().currentPageChanged.connect(lambda _p: self._update_label())
        layout.addWidget(self.view, 1)

    def _button(self, text: str, name: str, slot: object) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(name)
        button.setAccessibleName(name)
        button.clicked.connect(slot)
        return button

    def open(self, path: Path) -> bool:
        if self.path == path and self.document.status() == self._ready:
            return True
        error = self.document.load(str(path))
        if error != self._no_error:
            log.info("viewer could not open %s: %s", path.name, error)
            self.title.setText(f"Cannot open {path.name} ({error.name.rstrip('_').lower()})")
            self.path = None
            return False
        self.path = path
        self.title.setText(path.name)
        self.title.setToolTip(str(path))
        return True

    def show_source(self, path: str | Path, page: int, snippet: str = "") -> bool:
        """Open `path` at 1-based `page`; highlight the snippet there if it can be found."""
        if not self.open(Path(path)):
            return False
        self.go(page)
        self.found = ""
        for candidate in passage_candidates(snippet):
            self.search.setSearchString(candidate)
            hits = self.search.resultsOnPage(page - 1)
            if hits:
                self.found = candidate
                self.view.pageNavigator().jump(hits[0])
                break
        else:
            self.search.setSearchString("")
        self._update_label()
        return True

    def highlight(self, text: str) -> None:
        self.search.setSearchString(text)

    def page(self) -> int:
        return self.view.pageNavigator().currentPage() + 1

    def go(self, page: int) -> None:
        count = self.document.pageCount()
        if count <= 0:
            return
        page = max(1, min(count, page))
        self.view.pageNavigator().jump(page - 1, QPointF(), self.view.pageNavigator().currentZoom())
        self._update_label()

    def _update_label(self) -> None:
        self.page_label.setText(f"p. {self.page()} of {self.document.pageCount()}")

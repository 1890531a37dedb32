"""The document pane (QtPdf): a PDF beside the chat, opened at a cited page with the evidence marked.

QtPdf is imported here, not at the top of the window's modules, so the window paints without it.

- Pages are drawn by a worker thread (QPdfPageRenderer, multi-threaded) at the zoom × the screen's
  device pixel ratio, so text is sharp on any screen and the GUI thread never waits for a render.
  Until a page arrives, an older render of it is scaled in, or a blank page is drawn.
- Zoom in and out (Ctrl+= / Ctrl+-, Ctrl+wheel), fit width (Ctrl+0), page navigation.
- Evidence: a citation's `quote` (the exact sentence or table row) is looked up in the page's own
  text, whitespace and case ignored (PDF text and extracted text differ in line breaks and cell
  gaps), then with no whitespace at all; failing both, the row holding its rarest figure or word is
  marked across the text column. Without a quote the cited snippet is used, then shorter and
  shorter runs of its words. The mark is drawn with a multiply blend: text stays black on yellow.
- Find: every hit in the document (QPdfSearchModel, searched incrementally), "n of m", next and
  previous (Enter / Shift+Enter, F3).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIntValidator, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QWidget,
)

from desktop.ui import theme
from desktop.ui.viewer.find_bar import FindRow, pane_frame, tool_button

log = logging.getLogger("desktop.ui.viewer")

_WORD = re.compile(r"[^\W_]{2,}[\w'’-]*", re.UNICODE)
_TOKEN = re.compile(r"\d[\d,.]*\d%?|\d%?|[^\W\d_]{4,}", re.UNICODE)
_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00ad": None})

PAGE_GAP = 12  # pixels between pages and around them
ZOOM_STEPS = (0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
CACHE_PAGES = 16  # rendered pages kept (the ones around the view)


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


def normalized(text: str, *, spaces: bool) -> tuple[str, list[int]]:
    """`text` folded for matching (lower case, quotes and dashes unified, whitespace collapsed to
    one space or, with spaces=False, dropped), and for each character kept its index in `text`."""
    out: list[str] = []
    where: list[int] = []
    gap = False
    for i, ch in enumerate(text):
        ch = ch.translate(_FOLD).lower()
        if not ch:
            continue
        if ch.isspace():
            gap = bool(out)
            continue
        if gap and spaces:
            out.append(" ")
            where.append(i)
        gap = False
        out.append(ch)
        where.append(i)
    return "".join(out), where


def find_span(page_text: str, wanted: str) -> tuple[int, int] | None:
    """(start, end) indices in `page_text` of `wanted`, matched ignoring case and whitespace."""
    for spaces in (True, False):
        hay, where = normalized(page_text, spaces=spaces)
        needle, _ = normalized(wanted, spaces=spaces)
        if len(needle) < 3:
            return None
        at = hay.find(needle)
        if at >= 0:
            return where[at], where[at + len(needle) - 1] + 1
    return None


def token_spans(page_text: str, token: str) -> list[tuple[int, int]]:
    """Every place `token` occurs in `page_text` (whitespace ignored), as (start, end) indices."""
    hay, where = normalized(page_text, spaces=False)
    needle, _ = normalized(token, spaces=False)
    spans = []
    at = hay.find(needle)
    while at >= 0 and needle:
        spans.append((where[at], where[at + len(needle) - 1] + 1))
        at = hay.find(needle, at + 1)
    return spans


def lines(rects: list[QRectF]) -> list[QRectF]:
    """Rectangles on the same text line merged into one band: a table row's cells, and the gaps
    between them, are marked as one row."""
    out: list[QRectF] = []
    for r in sorted(rects, key=lambda r: (r.center().y(), r.left())):
        last = out[-1] if out else None
        same_line = last is not None and abs(last.center().y() - r.center().y()) < 0.6 * max(
            last.height(), r.height()
        )
        if last is not None and same_line:
            out[-1] = last.united(r)
        else:
            out.append(QRectF(r))
    return out


class Evidence:
    """Where a passage was found: its page (0-based), the marked rectangles (in points), how."""

    def __init__(self, page: int, rects: list[QRectF], text: str, how: str) -> None:
        self.page, self.rects, self.text, self.how = page, rects, text, how

    def bounds(self) -> QRectF:
        out = QRectF()
        for r in self.rects:
            out = out.united(r)
        return out


def locate(document: Any, page: int, quote: str, snippet: str = "") -> Evidence | None:
    """Find the evidence on 0-based `page` of a QPdfDocument (see the module's docstring)."""
    text = document.getAllText(page).text()
    if not text.strip():
        return None

    def rects(start: int, end: int) -> list[QRectF]:
        selection = document.getSelectionAtIndex(page, start, end - start)
        return lines([poly.boundingRect() for poly in selection.bounds()]) if selection.isValid() else []

    for wanted, how in ((quote, "quote"), (snippet if not quote else "", "snippet")):
        if wanted.strip():
            span = find_span(text, wanted)
            if span is not None and (found := rects(*span)):
                return Evidence(page, found, text[span[0] : span[1]], how)
    if quote.strip():
        row = _row_of(document, page, text, quote, rects)
        if row is not None:
            return row
    for run in passage_candidates(snippet or quote):
        span = find_span(text, run)
        if span is not None and (found := rects(*span)):
            return Evidence(page, found, text[span[0] : span[1]], "words")
    return None


def _row_of(document: Any, page: int, text: str, quote: str, rects: Any) -> Evidence | None:
    """The text row that holds the quote's rarest figure (else word), marked across the text column:
    a table row whose cells PDF text gives in another order still gets its whole line marked."""
    tokens = list(dict.fromkeys(_TOKEN.findall(quote)))
    if not tokens:
        return None
    places = {t: token_spans(text, t) for t in tokens}
    found = [t for t in tokens if places[t]]
    if not found:
        return None
    # numbers first (a figure pins a row), then the rarest, then the longest
    found.sort(key=lambda t: (not t[0].isdigit(), len(places[t]), -len(t)))
    anchor = found[0]
    best: tuple[int, QRectF] | None = None
    for start, end in places[anchor][:20]:
        boxes = rects(start, end)
        if not boxes:
            continue
        line = boxes[0]
        mid = line.center().y()
        score = 0
        for t in found[1:]:
            for s, e in places[t][:20]:
                other = rects(s, e)
                if other and abs(other[0].center().y() - mid) < line.height() * 0.6:
                    score += 1
                    line = line.united(other[0])
                    break
        if best is None or score > best[0]:
            best = (score, line)
    if best is None:
        return None
    line = best[1]
    column = rects(0, len(text))
    left = min((r.left() for r in column), default=line.left())
    right = max((r.right() for r in column), default=line.right())
    band = QRectF(
        min(left, line.left()), line.top(), max(right, line.right()) - min(left, line.left()), line.height()
    )
    return Evidence(page, [band], anchor, "row")


class PageCanvas(QWidget):
    """All pages stacked top to bottom at one zoom; paints renders and the evidence and find marks."""

    rendered = Signal(int)  # a page's render arrived (0-based); tests wait on it

    def __init__(self, viewer: PdfViewer) -> None:
        from PySide6.QtPdf import QPdfPageRenderer

        super().__init__()
        self.setObjectName("viewerPages")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.viewer = viewer
        self.document = viewer.document
        self.scale = 1.0  # device-independent pixels per PDF point
        self._tops: list[int] = []
        self._sizes: list[QSize] = []
        self._images: OrderedDict[int, Any] = OrderedDict()  # page -> QImage (its latest render)
        self._asked: dict[int, QSize] = {}  # page -> image size requested and not yet arrived
        self.renderer = QPdfPageRenderer(self)
        self.renderer.setDocument(self.document)
        self.renderer.setRenderMode(QPdfPageRenderer.RenderMode.MultiThreaded)
        self.renderer.pageRendered.connect(self._on_rendered)
        self.evidence: Evidence | None = None
        self.hits: list[tuple[int, list[QRectF]]] = []
        self.current_hit = -1

    # -- geometry

    def relayout(self, scale: float, crop: int | None = None) -> None:
        """Lay the pages out at `scale`; `crop`: the widest the canvas may be (pixels), pages wider
        than that are centred and their margins cut off equally."""
        self.scale = scale
        self._tops, self._sizes = [], []
        y, widest = PAGE_GAP, 0
        for i in range(self.document.pageCount()):
            pts = self.document.pagePointSize(i)
            size = QSize(max(1, round(pts.width() * scale)), max(1, round(pts.height() * scale)))
            self._tops.append(y)
            self._sizes.append(size)
            y += size.height() + PAGE_GAP
            widest = max(widest, size.width())
        width = widest if crop is None else min(widest, crop)
        self.setFixedSize(max(width + 2 * PAGE_GAP, 1), max(y, 1))
        self.update()

    def clear(self) -> None:
        self._images.clear()
        self._asked.clear()
        self.evidence, self.hits, self.current_hit = None, [], -1
        self._tops, self._sizes = [], []

    def page_rect(self, page: int) -> QRectF:
        if not 0 <= page < len(self._tops):
            return QRectF()
        size = self._sizes[page]
        x = (self.width() - size.width()) / 2
        return QRectF(x, self._tops[page], size.width(), size.height())

    def page_at(self, y: float) -> int:
        for i, top in enumerate(self._tops):
            if y < top + self._sizes[i].height() + PAGE_GAP:
                return i
        return max(0, len(self._tops) - 1)

    def to_widget(self, page: int, rect: QRectF) -> QRectF:
        """A rectangle in page points → this widget's pixels."""
        origin = self.page_rect(page).topLeft()
        return QRectF(
            origin.x() + rect.x() * self.scale,
            origin.y() + rect.y() * self.scale,
            rect.width() * self.scale,
            rect.height() * self.scale,
        )

    # -- rendering

    def _wanted(self, page: int) -> QSize:
        ratio = self.devicePixelRatioF()
        size = self._sizes[page]
        return QSize(round(size.width() * ratio), round(size.height() * ratio))

    def is_rendered(self, page: int) -> bool:
        image = self._images.get(page)
        return image is not None and 0 <= page < len(self._sizes) and image.size() == self._wanted(page)

    def _on_rendered(self, page: int, size: QSize, image: Any, _options: Any, _request: int) -> None:
        if self._asked.get(page) == size:
            del self._asked[page]
        if not 0 <= page < len(self._sizes) or size != self._wanted(page):
            return  # a render for a zoom no longer shown
        self._images[page] = image
        self._images.move_to_end(page)
        while len(self._images) > CACHE_PAGES:
            self._images.popitem(last=False)
        self.update(self.page_rect(page).toAlignedRect())
        self.rendered.emit(page)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        exposed = QRectF(event.rect())
        for page in range(len(self._tops)):
            rect = self.page_rect(page)
            if not rect.intersects(exposed):
                continue
            painter.fillRect(rect, Qt.GlobalColor.white)
            image = self._images.get(page)
            wanted = self._wanted(page)
            if image is not None:
                painter.drawImage(rect, image)  # an older zoom is scaled in until the new one lands
            if (image is None or image.size() != wanted) and self._asked.get(page) != wanted:
                self._asked[page] = wanted
                self.renderer.requestPage(page, wanted)
            self._paint_marks(painter, page)
        painter.end()

    def _paint_marks(self, painter: QPainter, page: int) -> None:
        t = theme.current
        for index, (hit_page, rects) in enumerate(self.hits):
            if hit_page != page:
                continue
            current = index == self.current_hit
            colour = QColor(t.accent)
            colour.setAlpha(150 if current else 70)
            for r in rects:
                area = self.to_widget(page, r).adjusted(-1, -1, 1, 1)
                painter.fillRect(area, colour)
                if current:
                    painter.setPen(QPen(QColor(t.accent), 2))
                    painter.drawRect(area)
        if self.evidence is not None and self.evidence.page == page:
            painter.save()
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
            for r in self.evidence.rects:
                painter.fillRect(self.to_widget(page, r).adjusted(-3, -2, 3, 2), QColor(t.evidence))
            painter.restore()
            bounds = self.to_widget(page, self.evidence.bounds()).adjusted(-3, -2, 3, 2)
            painter.fillRect(QRectF(bounds.left() - 7, bounds.top(), 4, bounds.height()), QColor("#e8a200"))


class PdfViewer(QWidget):
    """One PDF: `show_source(path, page, snippet, quote)` opens it at a page with the evidence marked.

    Signals (GUI thread): close_requested() — the pane's close button was pressed;
    page_changed(int) — the 1-based page at the top of the view changed.
    """

    close_requested = Signal()
    page_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        # QtPdf loads here, when a document is first opened, never while the window starts (TID253).
        from PySide6.QtPdf import QPdfDocument, QPdfSearchModel

        super().__init__(parent)
        self._ready, self._no_error = QPdfDocument.Status.Ready, QPdfDocument.Error.None_
        self.setAccessibleName("Document viewer")
        self.setMinimumWidth(280)
        self.document = QPdfDocument(self)
        self.search = QPdfSearchModel(self)
        self.search.setDocument(self.document)
        self.path: Path | None = None
        self.found: str = ""  # the text marked as evidence ("" when none was found)
        self.zoom = 1.0
        self.fit = True  # the zoom follows the pane's width (the text column's, margins cropped)
        self._content: float | None = None  # the text column's width in points (fit width uses it)
        # What the view was last asked to show, (0-based page, rectangle in points or None): kept
        # until the user scrolls, so a pane shown or resized later still lands on the evidence.
        self._target: tuple[int, QRectF | None] | None = None
        self._current_page = 0
        self._jump_to_first_hit = False

        layout, top, bars, self.title = pane_frame(self)
        self.close_button = self._button("close", "Close document", "Close the document (Ctrl+W)")
        self.close_button.clicked.connect(self.close_requested)

        nav = QHBoxLayout()
        nav.setSpacing(2)
        self.prev_button = self._button("prev", "Previous page", "Previous page (Page Up)")
        self.prev_button.clicked.connect(lambda: self.go(self.page() - 1))
        self.page_box = QLineEdit()
        self.page_box.setObjectName("pageBox")
        self.page_box.setAccessibleName("Page number")
        self.page_box.setToolTip("Go to page: type its number and press Enter")
        self.page_box.setValidator(QIntValidator(1, 999_999, self.page_box))
        self.page_box.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_box.setFixedWidth(48)
        self.page_box.editingFinished.connect(self._on_page_typed)
        self.page_label = QLabel()
        self.page_label.setAccessibleName("Page")
        self.next_button = self._button("next", "Next page", "Next page (Page Down)")
        self.next_button.clicked.connect(lambda: self.go(self.page() + 1))
        for w in (self.prev_button, self.page_box, self.page_label, self.next_button):
            nav.addWidget(w)
        nav.addStretch(1)
        self.zoom_out_button = self._button("zoom_out", "Zoom out", "Zoom out (Ctrl+-)")
        self.zoom_out_button.clicked.connect(self.zoom_out)
        self.zoom_label = QLabel()
        self.zoom_label.setAccessibleName("Zoom")
        self.zoom_label.setMinimumWidth(40)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in_button = self._button("zoom_in", "Zoom in", "Zoom in (Ctrl+=)")
        self.zoom_in_button.clicked.connect(self.zoom_in)
        self.fit_button = self._button("fit_width", "Fit width", "Fit the page to the pane's width (Ctrl+0)")
        self.fit_button.setCheckable(True)
        self.fit_button.clicked.connect(self.fit_width)
        for w in (self.zoom_out_button, self.zoom_label, self.zoom_in_button, self.fit_button):
            nav.addWidget(w)
        bars.addLayout(nav)

        self.finder = FindRow(self._on_find_enter, self._on_find_text, self.find_previous, self.find_next)
        find = self.finder.layout
        self.find_box, self.find_count = self.finder.box, self.finder.count
        self.find_prev_button, self.find_next_button = self.finder.previous_button, self.finder.next_button
        find.addSpacing(4)
        find.addWidget(self.close_button)
        bars.addLayout(find)
        layout.addWidget(top)

        self.canvas = PageCanvas(self)
        self.pages_area = QScrollArea()
        self.pages_area.setAccessibleName("Pages")
        self.pages_area.setFrameShape(QFrame.Shape.NoFrame)
        self.pages_area.setWidget(self.canvas)
        self.pages_area.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.pages_area.setWidgetResizable(False)
        self.pages_area.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.pages_area.verticalScrollBar().valueChanged.connect(lambda _v: self._track_page())
        self.pages_area.verticalScrollBar().actionTriggered.connect(self._user_scrolled)
        self.pages_area.viewport().installEventFilter(self)
        layout.addWidget(self.pages_area, 1)
        self.view = self.pages_area  # the page view (kept for callers of the old viewer)

        self.search.countChanged.connect(self._on_hits_changed)
        self._refit = QTimer(self, singleShot=True, interval=60)  # coalesce resizes of the pane
        self._refit.timeout.connect(self._apply_zoom)
        for keys, slot in (
            (QKeySequence.StandardKey.ZoomIn, self.zoom_in),
            ("Ctrl+=", self.zoom_in),
            (QKeySequence.StandardKey.ZoomOut, self.zoom_out),
            ("Ctrl+0", self.fit_width),
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

    def open(self, path: Path) -> bool:
        if self.path == path and self.document.status() == self._ready:
            return True
        self.canvas.clear()
        error = self.document.load(str(path))
        if error != self._no_error:
            log.info("viewer could not open %s: %s", path.name, error)
            self.title.setText(f"Cannot open {path.name} ({error.name.rstrip('_').lower()})")
            self.title.setVisible(True)
            self.path = None
            self.canvas.relayout(self.canvas.scale)
            self._update_labels()
            return False
        self.path = path
        self.title.setText(path.name)
        self.title.setToolTip(str(path))
        self.title.setVisible(False)
        self._content = None
        self.search.setSearchString(self.find_box.text())
        self._apply_zoom()
        return True

    def show_source(self, path: str | Path, page: int, snippet: str = "", quote: str = "") -> bool:
        """Open `path` at 1-based `page` with the evidence marked: `quote` (the exact sentence or row)
        when given, else the snippet. The neighbouring pages are tried when the cited one lacks it."""
        if not self.open(Path(path)):
            return False
        count = self.document.pageCount()
        index = max(0, min(count - 1, page - 1))
        evidence = None
        if quote.strip() or snippet.strip():
            for candidate in (index, index + 1, index - 1):
                if 0 <= candidate < count:
                    evidence = locate(self.document, candidate, quote, snippet)
                    if evidence is not None:
                        break
        self.canvas.evidence = evidence
        self.found = evidence.text if evidence is not None else ""
        self.canvas.update()
        if evidence is not None:
            self.reveal(evidence.page, evidence.bounds())
        else:
            self.go(index + 1)
        return True

    # -- navigation

    def page(self) -> int:
        """The 1-based page shown (the one at the view's upper third)."""
        return self._current_page + 1

    def go(self, page: int) -> None:
        count = self.document.pageCount()
        if count <= 0:
            return
        index = max(0, min(count - 1, page - 1))
        self._target = (index, None)
        rect = self.canvas.page_rect(index)
        self.pages_area.verticalScrollBar().setValue(int(rect.top()) - PAGE_GAP // 2)
        self._set_page(index)

    def reveal(self, page: int, rect: QRectF) -> None:
        """Scroll so `rect` (points, on 0-based `page`) sits in the upper third of the view."""
        self._target = (page, QRectF(rect))
        area = self.canvas.to_widget(page, rect)
        bar = self.pages_area.verticalScrollBar()
        bar.setValue(int(area.top() - self.pages_area.viewport().height() / 3))
        hbar = self.pages_area.horizontalScrollBar()
        if area.right() > hbar.value() + self.pages_area.viewport().width() or area.left() < hbar.value():
            hbar.setValue(int(area.left() - 24))
        self._set_page(page)

    def _user_scrolled(self, *_: Any) -> None:
        self._target = None  # the user has moved on: a refit keeps their place instead

    def _track_page(self) -> None:
        y = self.pages_area.verticalScrollBar().value() + self.pages_area.viewport().height() / 3
        self._set_page(self.canvas.page_at(y))

    def _on_page_typed(self) -> None:
        text = self.page_box.text().strip()
        if text.isdigit():
            self.go(int(text))
        self.page_box.setText(str(self.page()))

    def _set_page(self, index: int) -> None:
        if index != self._current_page:
            self._current_page = index
            self.page_changed.emit(index + 1)
        self._update_labels()

    def _update_labels(self) -> None:
        count = self.document.pageCount()
        if not self.page_box.isModified():  # not while the user types a page number
            self.page_box.setText(str(self.page()) if count else "")
        self.page_label.setText(f"of {count}")
        self.page_box.setAccessibleDescription(f"Page {self.page()} of {count}")
        self.prev_button.setEnabled(self.page() > 1)
        self.next_button.setEnabled(self.page() < count)
        self.zoom_label.setText(f"{round(self.zoom * 100)}%")
        self.fit_button.setChecked(self.fit)

    # -- zoom

    def _base_scale(self) -> float:
        return self.logicalDpiX() / 72.0  # 100 % = the page's printed size on this screen

    def _content_width(self) -> float:
        """The width (points) of the text column, centred on the page, with a little margin: fit
        width shows the text as large as the pane allows, not the page's empty margins."""
        if self._content is None:
            count = self.document.pageCount()
            widest = max((self.document.pagePointSize(i).width() for i in range(count)), default=595.0)
            half = 0.0
            for page in range(min(count, 8)):
                text = self.document.getAllText(page).text()
                if not text.strip():
                    continue
                box = self.document.getSelectionAtIndex(page, 0, len(text)).boundingRectangle()
                centre = self.document.pagePointSize(page).width() / 2
                half = max(half, centre - box.left(), box.right() - centre)
            self._content = min(widest, 2 * half + 36) if half > 0 else widest
        return self._content

    def _fit_zoom(self) -> float:
        widest = self._content_width()
        # the vertical scroll bar's width is kept free: fitting must not make a horizontal one appear
        room = self.pages_area.width() - self.pages_area.verticalScrollBar().sizeHint().width() - 2 * PAGE_GAP
        return max(ZOOM_STEPS[0], room / (widest * self._base_scale()))

    def _apply_zoom(self) -> None:
        """Lay the pages out at the zoom (fit width: the pane's), keeping the reading place."""
        if self.fit:
            self.zoom = self._fit_zoom()
        bar = self.pages_area.verticalScrollBar()
        old_height = max(1, self.canvas.height())
        fraction = bar.value() / old_height
        scale = self.zoom * self._base_scale()
        crop = round(self._content_width() * scale) if self.fit else None
        self.canvas.relayout(scale, crop)
        target = self._target
        if target is not None and target[1] is not None:
            self.reveal(target[0], target[1])
        elif target is not None:
            self.go(target[0] + 1)
        else:
            bar.setValue(int(fraction * self.canvas.height()))
        self._update_labels()

    def set_zoom(self, zoom: float) -> None:
        self.fit = False
        self.zoom = max(ZOOM_STEPS[0], min(ZOOM_STEPS[-1], zoom))
        self._apply_zoom()

    def zoom_in(self) -> None:
        self.set_zoom(next((z for z in ZOOM_STEPS if z > self.zoom + 0.01), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < self.zoom - 0.01), ZOOM_STEPS[0]))

    def fit_width(self) -> None:
        self.fit = True
        self._apply_zoom()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.document.pageCount():
            self._refit.start()  # shown again (a tab, the pane): its size may have changed meanwhile

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.fit and self.document.pageCount():
            self._refit.start()

    def eventFilter(self, watched: Any, event: Any) -> bool:
        from PySide6.QtCore import QEvent

        if (
            watched is self.pages_area.viewport()
            and event.type() == QEvent.Type.Wheel
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            (self.zoom_in if event.angleDelta().y() > 0 else self.zoom_out)()
            return True
        if watched is self.pages_area.viewport() and event.type() == QEvent.Type.Wheel:
            self._target = None
        return super().eventFilter(watched, event)

    # -- find

    def highlight(self, text: str) -> None:
        """Find `text` (kept for callers of the old viewer)."""
        self.find_box.setText(text)
        self._on_find_enter()

    def _on_find_text(self, text: str) -> None:
        self.search.setSearchString(text)
        self.canvas.current_hit = -1
        self._jump_to_first_hit = bool(text.strip())
        self._on_hits_changed()

    def _on_find_enter(self) -> None:
        if self.canvas.current_hit < 0:
            self._jump_to_first_hit = True
            self._on_hits_changed()
        else:
            self.find_next()

    def hit_count(self) -> int:
        return int(self.search.count())

    def _on_hits_changed(self, *_: Any) -> None:
        """The search model found more hits (it searches page by page, off the user's way)."""
        count = self.hit_count()
        self.canvas.hits = [
            (link.page(), list(link.rectangles()))
            for link in (self.search.resultAtIndex(i) for i in range(count))
        ]
        if self._jump_to_first_hit and count:
            here = self._current_page
            first = next((i for i, (page, _) in enumerate(self.canvas.hits) if page >= here), None)
            if first is not None:
                self._jump_to_first_hit = False
                self._show_hit(first)
        self._update_find_label()
        self.canvas.update()

    def _update_find_label(self) -> None:
        self.finder.show_count(self.hit_count(), self.canvas.current_hit)

    def _show_hit(self, index: int) -> None:
        self.canvas.current_hit = index
        page, rects = self.canvas.hits[index]
        bounds = QRectF()
        for r in rects:
            bounds = bounds.united(r)
        self.reveal(page, bounds)
        self._update_find_label()
        self.canvas.update()

    def find_next(self) -> None:
        self._on_hits_changed()
        if self.canvas.hits:
            self._show_hit((self.canvas.current_hit + 1) % len(self.canvas.hits))

    def find_previous(self) -> None:
        self._on_hits_changed()
        if self.canvas.hits:
            self._show_hit((self.canvas.current_hit - 1) % len(self.canvas.hits))

    def evidence_in_view(self) -> QRectF:
        """Where the marked evidence is drawn, in the pane's viewport (empty when none or off screen)."""
        if self.canvas.evidence is None:
            return QRectF()
        ev = self.canvas.evidence
        area = self.canvas.to_widget(ev.page, ev.bounds())
        offset = QPointF(
            self.pages_area.horizontalScrollBar().value(), self.pages_area.verticalScrollBar().value()
        )
        return area.translated(-offset).intersected(QRectF(self.pages_area.viewport().rect()))

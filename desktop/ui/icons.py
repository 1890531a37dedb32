"""The window's icons: a small bundled SVG set (24-unit grid, 1.8 stroke, round caps), no dependency.

Each icon is drawn at the size and device pixel ratio it is asked for (crisp on any screen) in the
current theme's text colour, so a theme switch recolours every icon at its next paint. Rendering
happens on first use of a size; nothing is drawn ahead of time, so the first frame pays only for
the icons it shows.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QIcon, QIconEngine, QImage, QPainter, QPixmap

from desktop.ui import theme

_PATHS = {
    "copy": '<rect x="8" y="8" width="12" height="12" rx="2"/>'
    '<path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2"/>',
    "check": '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    "regenerate": '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
    "edit": '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13.5 6.5l4 4"/>',
    "library": '<path d="M4 19V5a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1z"/>'
    '<path d="M10 19V7a1 1 0 0 1 1-1h3a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1h-3a1 1 0 0 1-1-1z"/>'
    '<path d="M16.2 6.6l2.9-.8a1 1 0 0 1 1.2.7l3 11a1 1 0 0 1-.7 1.2l-2.9.8"/>',
    "settings": '<path d="M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1"/><circle cx="15" cy="6" r="2"/>'
    '<circle cx="9" cy="12" r="2"/><circle cx="17" cy="18" r="2"/>',
    "privacy": '<path d="M12 3l7 3v5c0 4.5-3 8.3-7 10-4-1.7-7-5.5-7-10V6z"/><path d="M9 12l2 2 4-4"/>',
    "help": '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.3-1 .9-1 1.7"/>'
    '<path d="M12 17h.01"/>',
    "new_chat": '<path d="M12 5v14M5 12h14"/>',
    "open": '<path d="M4 19V6a2 2 0 0 1 2-2h4l2 2h6a2 2 0 0 1 2 2v2"/><path d="M4 19l3-8h15l-3 8z"/>',
    "send": '<path d="M12 19V5M6 11l6-6 6 6"/>',
    "stop": '<rect x="7" y="7" width="10" height="10" rx="1.5"/>',
    "zoom_in": '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4M8 11h6M11 8v6"/>',
    "zoom_out": '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4M8 11h6"/>',
    "fit_width": '<path d="M4 4v16M20 4v16M8 12h8M10 9l-3 3 3 3M14 9l3 3-3 3"/>',
    "prev": '<path d="M15 6l-6 6 6 6"/>',
    "next": '<path d="M9 6l6 6-6 6"/>',
    "up": '<path d="M6 15l6-6 6 6"/>',
    "down": '<path d="M6 9l6 6 6-6"/>',
    "close": '<path d="M6 6l12 12M18 6L6 18"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>',
    "sidebar": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M9 4v16"/>',
    "document": '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/>'
    '<path d="M9 13h6M9 17h6"/>',
    "summarize": '<path d="M4 6h16M4 10h16M4 14h10M4 18h7"/>',
    "add": '<path d="M12 5v14M5 12h14"/>',
    "compare": '<rect x="3" y="4" width="7.5" height="16" rx="1.5"/>'
    '<rect x="13.5" y="4" width="7.5" height="16" rx="1.5"/>',
}


def svg(name: str, color: str) -> bytes:
    body = _PATHS[name]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
        f'stroke="{color}" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">{body}</svg>'
    ).encode()


class _Engine(QIconEngine):
    """Draws one named icon on demand, at the asked size × device pixel ratio, in the theme's colour."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._cache: dict[tuple[int, int, str], QImage] = {}

    def _color(self, mode: QIcon.Mode) -> str:
        t = theme.current
        return t.muted if mode == QIcon.Mode.Disabled else t.text

    def _image(self, width: int, height: int, mode: QIcon.Mode) -> QImage:
        color = self._color(mode)
        key = (width, height, color)
        image = self._cache.get(key)
        if image is None:
            from PySide6.QtSvg import QSvgRenderer  # the SVG module loads with the first icon drawn

            w, h = max(1, width), max(1, height)
            # Transparent from zeroed bytes, copied into an image of its own: `image.fill(colour)`
            # is first tried as its Qt.GlobalColor overload, which builds Qt's enums (lazy_qt.py).
            image = QImage(bytes(w * h * 4), w, h, QImage.Format.Format_ARGB32_Premultiplied).copy()
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            QSvgRenderer(QByteArray(svg(self.name, color))).render(painter)
            painter.end()
            self._cache[key] = image
        return image

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        side = min(rect.width(), rect.height())
        image = self._image(round(side * ratio), round(side * ratio), mode)
        target = QRect(0, 0, side, side)
        target.moveCenter(rect.center())
        painter.drawImage(target, image)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return QPixmap.fromImage(self._image(size.width(), size.height(), mode))

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        pixmap = QPixmap.fromImage(
            self._image(round(size.width() * scale), round(size.height() * scale), mode)
        )
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def clone(self) -> QIconEngine:
        return _Engine(self.name)

    def key(self) -> str:
        return "hearth"


_icons: dict[str, QIcon] = {}


def icon(name: str) -> QIcon:
    """The named icon (see `_PATHS`), shared: its engine caches the sizes drawn so far."""
    found = _icons.get(name)
    if found is None:
        if name not in _PATHS:
            raise KeyError(name)
        found = _icons[name] = QIcon(_Engine(name))
    return found


def names() -> list[str]:
    return sorted(_PATHS)

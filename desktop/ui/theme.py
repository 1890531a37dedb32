"""Light/dark: follow the system unless the `theme` setting forces one; a small palette-based style sheet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# palette() colours keep the sheet right in both schemes: no hard-coded light-only colours.
STYLE_SHEET = """
QFrame#userMessage { background: palette(alternate-base); border: none; border-radius: 8px; }
QFrame#assistantMessage { background: palette(base); border: 1px solid palette(mid); border-radius: 8px; }
QToolButton#sourceChip { border: 1px solid palette(highlight); border-radius: 10px; padding: 2px 8px; }
QToolButton#sourceChip:hover { background: palette(highlight); color: palette(highlighted-text); }
QLabel#inlineError { color: #c0392b; }
QLabel#banner { padding: 6px 10px; border-radius: 6px; background: palette(alternate-base); }
QLabel#banner[level="error"] { color: #c0392b; }
QLabel#deviceBadge { border: 1px solid palette(mid); border-radius: 8px; padding: 2px 8px; }
QLabel#dropOverlay { font-size: 18px; border: 3px dashed palette(highlight); border-radius: 16px;
                     background: palette(base); }
"""


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(37, 37, 40), QColor(28, 28, 30), QColor(228, 228, 230)
    for role, color in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor(48, 48, 52)),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor(48, 48, 52)),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.ToolTipBase, QColor(48, 48, 52)),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Highlight, QColor(64, 128, 208)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, QColor(120, 170, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(150, 150, 155)),
        (QPalette.ColorRole.Mid, QColor(80, 80, 85)),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 125))
    return p


def apply_theme(app: QApplication, theme: str) -> None:
    """`theme`: "system" | "light" | "dark" (the setting's choices)."""
    app.setStyle("Fusion")  # Fusion draws with the palette on every platform
    scheme = {
        "light": Qt.ColorScheme.Light,
        "dark": Qt.ColorScheme.Dark,
    }.get(theme, Qt.ColorScheme.Unknown)  # Unknown: let the platform decide
    app.styleHints().setColorScheme(scheme)
    # Where the platform has no theme of its own (X11 without a desktop, say), the hint alone
    # changes nothing: a forced choice also sets the palette.
    if theme == "dark":
        app.setPalette(dark_palette())
    elif theme == "light":
        app.setPalette(app.style().standardPalette())
    app.setStyleSheet(STYLE_SHEET)

"""Light/dark: follow the system unless the `theme` setting forces one; a small palette-based style sheet."""

from __future__ import annotations

from PySide6.QtCore import Qt
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


def apply_theme(app: QApplication, theme: str) -> None:
    """`theme`: "system" | "light" | "dark" (the setting's choices)."""
    app.setStyle("Fusion")  # Fusion follows the colour scheme on every platform
    scheme = {
        "light": Qt.ColorScheme.Light,
        "dark": Qt.ColorScheme.Dark,
    }.get(theme, Qt.ColorScheme.Unknown)  # Unknown: let the platform decide
    app.styleHints().setColorScheme(scheme)
    app.setStyleSheet(STYLE_SHEET)

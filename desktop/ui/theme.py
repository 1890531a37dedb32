"""One light and one dark palette, and the style sheet drawn from them.

`theme` setting: "system" follows the platform's colour scheme; "light" / "dark" force one. Every
colour the window uses comes from `Tokens`, so the two schemes cannot drift apart. Contrast is held
to WCAG 2.2: 4.5:1 for text, 3:1 for control outlines (unticked checkboxes, input borders) and
focus rings; tests/ui/test_window_fixes.py measures the rendered pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from desktop.ui import lazy_qt
from desktop.ui.lazy_qt import Qt

_HERE = Path(__file__).parent


class Tokens(NamedTuple):
    name: str
    bg: str  # window background
    surface: str  # inputs, lists, the reading column
    alt: str  # the user's bubbles, pressed buttons
    hover: str
    border: str  # quiet separators
    control: str  # outlines of inputs and unticked boxes (3:1 against bg and surface)
    text: str
    muted: str  # secondary text (4.5:1)
    accent: str  # ember: focus rings, primary buttons, used sources
    on_accent: str
    accent_soft: str  # selected rows, used chips
    danger: str
    danger_soft: str
    evidence: str  # the highlight on a PDF page: the exact evidence row
    scroll: str


LIGHT = Tokens(
    name="light",
    bg="#f7f6f3",
    surface="#ffffff",
    alt="#efece6",
    hover="#ebe8e2",
    border="#e2dfd8",
    control="#8c867c",
    text="#1f1d1a",
    muted="#655f56",
    accent="#b8501f",
    on_accent="#ffffff",
    accent_soft="#f9e4d8",
    danger="#b3261e",
    danger_soft="#fbe3e1",
    evidence="#ffd23f",
    scroll="#c9c5bd",
)

DARK = Tokens(
    name="dark",
    bg="#1c1d20",
    surface="#24252a",
    alt="#303138",
    hover="#2c2d33",
    border="#393b42",
    control="#9b9ca6",
    text="#e8e7e4",
    muted="#a6a5ad",
    accent="#f08a5d",
    on_accent="#1c1d20",
    accent_soft="#45302a",
    danger="#f2867c",
    danger_soft="#4a2523",
    evidence="#ffd23f",
    scroll="#4b4d55",
)

current: Tokens = LIGHT  # the tokens last applied (icons and the viewer read their colours here)


def _url(name: str) -> str:
    return (_HERE / name).as_posix()


def style_sheet(t: Tokens) -> str:
    check = _url(f"check-{t.name}.svg")
    down, up = _url(f"chevron-{t.name}.svg"), _url(f"chevron-up-{t.name}.svg")
    return f"""
QMainWindow, QDialog {{ background: {t.bg}; }}
QToolTip {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border}; padding: 4px 6px; }}
QMenuBar {{ background: {t.bg}; padding: 2px 4px; }}
QMenuBar::item {{ padding: 4px 10px; border-radius: 5px; }}
QMenuBar::item:selected {{ background: {t.hover}; }}
QMenu {{ background: {t.surface}; border: 1px solid {t.border}; padding: 4px; }}
QMenu::item {{ padding: 6px 28px 6px 14px; border-radius: 5px; }}
QMenu::item:selected {{ background: {t.accent_soft}; color: {t.text}; }}
QMenu::separator {{ height: 1px; background: {t.border}; margin: 4px 8px; }}
QToolBar {{ background: {t.bg}; border: none; border-bottom: 1px solid {t.border}; padding: 4px 8px;
            spacing: 4px; }}
QStatusBar {{ background: {t.bg}; color: {t.muted}; border-top: 1px solid {t.border}; }}
QStatusBar QLabel {{ color: {t.muted}; }}
QSplitter::handle {{ background: {t.border}; }}
QSplitter::handle:hover {{ background: {t.accent}; }}

QToolButton {{ border: 2px solid transparent; border-radius: 7px; padding: 3px 6px; }}
QToolButton:hover {{ background: {t.hover}; }}
QToolButton:pressed, QToolButton:checked {{ background: {t.alt}; }}
QToolButton:focus {{ border-color: {t.accent}; }}
QToolButton::menu-indicator {{ image: none; width: 0; }}

QPushButton {{ background: {t.surface}; border: 1px solid {t.control}; border-radius: 7px;
              padding: 5px 14px; min-height: 20px; }}
QPushButton:hover {{ background: {t.hover}; }}
QPushButton:pressed {{ background: {t.alt}; }}
QPushButton:focus {{ border: 2px solid {t.accent}; padding: 4px 13px; }}
QPushButton:disabled {{ color: {t.muted}; border-color: {t.border}; }}
QPushButton[primary="true"] {{ background: {t.accent}; color: {t.on_accent}; border-color: {t.accent};
                              font-weight: 600; }}
QPushButton[primary="true"]:focus {{ border: 2px solid {t.text}; }}
QPushButton[danger="true"] {{ color: {t.danger}; border-color: {t.danger}; }}

QLineEdit, QPlainTextEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    background: {t.surface}; color: {t.text}; border: 1px solid {t.control}; border-radius: 7px;
    padding: 4px 6px; selection-background-color: {t.accent}; selection-color: {t.on_accent}; }}
QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{
    border: 2px solid {t.accent}; padding: 3px 5px; }}
QComboBox::drop-down {{ border: none; width: 22px; }}
QComboBox::down-arrow {{ image: url({down}); width: 12px; height: 12px; }}
QComboBox QAbstractItemView {{ background: {t.surface}; border: 1px solid {t.border};
    selection-background-color: {t.accent_soft}; selection-color: {t.text}; outline: none; }}
QSpinBox::up-button, QDoubleSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::down-button {{
    border: none; width: 18px; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({up}); width: 10px; height: 10px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url({down}); width: 10px; height: 10px; }}

QListView, QTreeView {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: 8px;
    outline: none; padding: 2px; }}
QListView:focus, QTreeView:focus {{ border: 2px solid {t.accent}; padding: 1px; }}
QListView::item {{ padding: 4px 6px; border-radius: 6px; }}
QTreeView::item {{ padding: 4px 6px; }}
QListView::item:hover, QTreeView::item:hover {{ background: {t.hover}; }}
QListView::item:selected, QTreeView::item:selected {{ background: {t.accent_soft}; color: {t.text}; }}
QHeaderView::section {{ background: {t.surface}; color: {t.muted}; border: none;
    border-bottom: 1px solid {t.border}; padding: 4px 6px; }}

QCheckBox {{ spacing: 8px; border: 2px solid transparent; border-radius: 6px; padding: 1px 2px; }}
QCheckBox:focus {{ border-color: {t.accent}; }}
QCheckBox::indicator, QAbstractItemView::indicator {{ width: 14px; height: 14px;
    border: 2px solid {t.control}; border-radius: 4px; background: {t.surface}; }}
QCheckBox::indicator:hover, QAbstractItemView::indicator:hover {{ border-color: {t.accent}; }}
QCheckBox::indicator:checked, QAbstractItemView::indicator:checked {{ background: {t.accent};
    border-color: {t.accent}; image: url({check}); }}

QTabWidget::pane {{ border: none; border-top: 1px solid {t.border}; }}
QTabBar::tab {{ background: transparent; color: {t.muted}; padding: 6px 12px; border: 2px solid transparent;
    border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {t.text}; border-bottom-color: {t.accent}; }}
QTabBar::tab:hover {{ color: {t.text}; }}
QTabBar::tab:focus {{ border: 2px solid {t.accent}; border-radius: 6px; }}

QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
QScrollBar::handle {{ background: {t.scroll}; border-radius: 4px; margin: 2px; }}
QScrollBar::handle:vertical {{ min-height: 28px; }}
QScrollBar::handle:horizontal {{ min-width: 28px; }}
QScrollBar::handle:hover {{ background: {t.control}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; border: none; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}

QProgressBar {{ background: {t.alt}; border: none; border-radius: 3px; max-height: 6px; }}
QProgressBar::chunk {{ background: {t.accent}; border-radius: 3px; }}

QWidget#sidebar {{ background: {t.bg}; }}
QWidget#sidebar QListView {{ background: transparent; border: none; }}
QWidget#sidebar QListView:focus {{ border: 2px solid {t.accent}; padding: 0; }}
QDialogButtonBox {{ dialogbuttonbox-buttons-have-icons: 0; }}
QWidget#messageList, QScrollArea#conversation {{ background: {t.surface}; }}
QFrame#userMessage {{ background: {t.alt}; border: none; border-radius: 14px; }}
QFrame#assistantMessage {{ background: transparent; border: none; }}
QLabel#messageWho {{ color: {t.muted}; font-weight: 600; }}
QLabel#answerState, QLabel#answerStats {{ color: {t.muted}; }}
QLabel#answerProvenance {{ color: {t.muted}; font-style: italic; }}
QToolButton#sourceChip {{ background: {t.surface}; border: 1px solid {t.control}; border-radius: 9px;
    padding: 3px 10px; color: {t.text}; }}
QToolButton#sourceChip[used="true"] {{ border-color: {t.accent}; background: {t.accent_soft};
    color: {t.text}; }}
QToolButton#sourceChip:hover {{ border-color: {t.accent}; color: {t.text}; }}
QToolButton#sourceChip:focus {{ border: 2px solid {t.accent}; padding: 2px 9px; }}
QToolButton#messageAction {{ padding: 3px; border-radius: 6px; }}
QWidget#composerBox {{ background: {t.surface}; }}
QPlainTextEdit#composer {{ border-radius: 12px; padding: 8px 10px; }}
QPlainTextEdit#composer:focus {{ padding: 7px 9px; }}
QLabel#composerSource {{ color: {t.muted}; }}
QLabel#inlineError {{ color: {t.danger}; }}
QLabel#banner {{ padding: 8px 12px; background: {t.accent_soft}; color: {t.text};
    border-bottom: 1px solid {t.border}; }}
QLabel#banner[level="error"] {{ background: {t.danger_soft}; color: {t.text}; }}
QLabel#deviceBadge {{ border: 1px solid {t.border}; border-radius: 10px; padding: 2px 8px;
    color: {t.muted}; }}
QLabel#dropOverlay {{ font-size: 18px; border: 3px dashed {t.accent}; border-radius: 16px;
    background: {t.surface}; color: {t.text}; }}
QLabel#welcomeTitle {{ font-size: 20px; font-weight: 600; }}
QLabel#welcomeItem {{ font-weight: 600; }}
QLabel#welcomeLead, QLabel#welcomeNote {{ color: {t.muted}; }}
QLabel#paneTitle {{ font-weight: 600; }}
QLabel#findCount, QLabel#fileDetails, QLabel#settingHelp {{ color: {t.muted}; }}
QLabel#settingsHeading {{ font-weight: 600; color: {t.accent}; padding-top: 4px; }}
QWidget#viewerPages {{ background: {t.alt}; }}
"""


def palette(t: Tokens) -> QPalette:
    p = QPalette()
    c = QColor
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, t.bg),
        (roles.WindowText, t.text),
        (roles.Base, t.surface),
        (roles.AlternateBase, t.alt),
        (roles.Text, t.text),
        (roles.Button, t.surface),
        (roles.ButtonText, t.text),
        (roles.BrightText, t.on_accent),
        (roles.ToolTipBase, t.surface),
        (roles.ToolTipText, t.text),
        (roles.Highlight, t.accent),
        (roles.HighlightedText, t.on_accent),
        (roles.Link, t.accent),
        (roles.LinkVisited, t.accent),
        (roles.PlaceholderText, t.muted),
        (roles.Mid, t.border),
        (roles.Midlight, t.hover),
        (roles.Dark, t.control),
        (roles.Light, t.surface),
        (roles.Shadow, t.control),
    ):
        p.setColor(role, c(color))
    for role in (roles.Text, roles.ButtonText, roles.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, c(t.muted))
    return p


def resolve(theme: str) -> Tokens:
    """The tokens for a `theme` setting value; "system" asks the platform (light where it cannot say)."""
    if theme == "dark":
        return DARK
    if theme == "light":
        return LIGHT
    if not lazy_qt.built():
        # Before the first frame, and before Hearth sets its own palette: the platform's palette,
        # which Qt draws from the same colour scheme, says it without building Qt's enums (lazy_qt).
        return DARK if QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128 else LIGHT
    hints = QApplication.styleHints()
    return DARK if hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark else LIGHT


def apply_theme(app: QApplication, theme: str, *, style: bool = True, sheet: bool = True) -> Tokens:
    """`theme`: "system" | "light" | "dark" (the setting's choices). Returns the tokens applied.

    The Fusion style draws with the palette on every platform; the sheet does the rest. At start,
    run_gui makes the app with Fusion already (`style=False`; `setStyle` would build a second
    style, and PySide6 its QStyle type, 4 ms before the first frame) and sets `style_sheet(tokens)`
    once its widgets exist (`sheet=False`: a sheet set first makes every widget's construction pay)."""
    global current
    if style:
        app.setStyle("Fusion")
    # Native dialogs follow a forced choice too; "Unknown" gives it back to the platform, which is
    # where a window starts (so not asked then: PySide6 would build its QStyleHints type for it).
    if theme in ("light", "dark") or lazy_qt.built():
        hints = app.styleHints()
        if hints is not None:
            scheme = {"light": "Light", "dark": "Dark"}.get(theme, "Unknown")
            lazy_qt.set_by_name(hints, "colorScheme", scheme)
    tokens = resolve(theme)
    current = tokens
    app.setPalette(palette(tokens))
    if sheet:
        app.setStyleSheet(style_sheet(tokens))
    return tokens

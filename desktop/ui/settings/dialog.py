"""The settings dialog, generated from `SETTINGS`: one editor per declared setting, grouped by section.

Nothing here names a setting: adding one to desktop/core/settings.py adds it to this dialog.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.core.settings import SETTINGS, Setting, SettingsStore
from desktop.ui.qtcompat import emit

LONG_TEXT = 80  # a str default longer than this gets a multi-line editor (the system prompt)


class SettingsDialog(QDialog):
    """Signals (GUI thread): applied(dict) — the settings that changed, after they were saved."""

    applied = Signal(dict)

    def __init__(self, store: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings sections")
        forms: dict[str, QFormLayout] = {}
        for setting in SETTINGS:
            if setting.section not in forms:
                page = QWidget()
                forms[setting.section] = QFormLayout(page)
                self.tabs.addTab(page, setting.section)
            editor = make_editor(setting)
            set_value(editor, setting, store[setting.key])
            self.editors[setting.key] = editor
            title = setting.title + (" *" if setting.restart else "")
            label = QLabel(title)
            label.setBuddy(editor)
            label.setToolTip(setting.help)
            help_label = QLabel(setting.help)
            help_label.setWordWrap(True)
            help_label.setStyleSheet("color: palette(placeholder-text);")
            help_label.setAccessibleName(f"{setting.title}: help")
            forms[setting.section].addRow(label, editor)
            forms[setting.section].addRow("", help_label)
        layout.addWidget(self.tabs)
        note = QLabel("* reloads the model when changed.")
        note.setAccessibleName("Note")
        layout.addWidget(note)
        self.error = QLabel()
        self.error.setObjectName("inlineError")
        self.error.setAccessibleName("Error")
        self.error.setVisible(False)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        for button in buttons.buttons():
            button.setAccessibleName(button.text().replace("&", ""))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        layout.addWidget(buttons)
        self.resize(560, 460)

    def values(self) -> dict[str, Any]:
        return {s.key: get_value(self.editors[s.key], s) for s in SETTINGS}

    def restore_defaults(self) -> None:
        for s in SETTINGS:
            set_value(self.editors[s.key], s, s.default)

    def accept(self) -> None:
        values = self.values()
        changed = {k: v for k, v in values.items() if v != self.store[k]}
        try:
            self.store.update(changed)
        except (ValueError, OSError) as exc:
            self.error.setText(f"Not saved: {exc}")
            self.error.setVisible(True)
            return
        super().accept()
        if changed:
            emit(self.applied, changed)


def make_editor(s: Setting) -> QWidget:
    editor: QWidget
    if s.type is bool:
        editor = QCheckBox()
    elif s.choices:
        combo = QComboBox()
        for c in s.choices:
            combo.addItem(str(c), c)
        editor = combo
    elif s.type is int:
        spin = QSpinBox()
        spin.setRange(int(s.minimum if s.minimum is not None else -(2**31)), int(s.maximum or 2**31 - 1))
        if s.default == 0 and (s.minimum or 0) == 0:
            spin.setSpecialValueText("automatic")  # 0 means "let Hearth choose" in the declaration
        editor = spin
    elif s.type is float:
        dspin = QDoubleSpinBox()
        dspin.setDecimals(2)
        dspin.setSingleStep(0.05)
        dspin.setRange(float(s.minimum or 0.0), float(s.maximum if s.maximum is not None else 1e9))
        editor = dspin
    elif isinstance(s.default, str) and len(s.default) > LONG_TEXT:
        text = QPlainTextEdit()
        text.setMaximumHeight(90)
        editor = text
    else:
        editor = QLineEdit()
    editor.setAccessibleName(s.title)
    editor.setAccessibleDescription(s.help)
    editor.setToolTip(s.help)
    editor.setObjectName(f"setting_{s.key}")
    return editor


def set_value(editor: QWidget, s: Setting, value: Any) -> None:
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(0, editor.findData(value)))
    elif isinstance(editor, QSpinBox | QDoubleSpinBox):
        editor.setValue(value)
    elif isinstance(editor, QPlainTextEdit):
        editor.setPlainText(str(value))
    elif isinstance(editor, QLineEdit):
        editor.setText(str(value))


def get_value(editor: QWidget, s: Setting) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return s.type(editor.value())
    if isinstance(editor, QPlainTextEdit):
        return editor.toPlainText()
    if isinstance(editor, QLineEdit):
        return editor.text()
    raise TypeError(type(editor))

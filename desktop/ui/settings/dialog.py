"""The settings dialog, generated from `SETTINGS`: one editor per declared setting.

Nothing here names a setting: adding one to desktop/core/settings.py adds it to this dialog. The
declared sections are shown as headings on four pages (`PAGES`), not one tab each; a section
no page lists gets a page of its own. Choices read as words ("Key points", not `key_points`), and
a caller can offer choices the declaration cannot know (the models on this computer). A page
longer than the dialog scrolls, and the dialog is never taller than the screen.
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
from desktop.ui.scrolling import fitting, scrolling

LONG_TEXT = 80  # a str default longer than this gets a multi-line editor (the system prompt)
AUTOMATIC = "Automatic"
PAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Model", ("Model",)),
    ("Answers", ("Answers", "Library", "Summaries")),
    ("Servers", ("Servers",)),
    ("Appearance", ("Appearance",)),
)
# (label, value) pairs offered for a setting whose declaration has no fixed choices
Choices = dict[str, list[tuple[str, Any]]]


def words(value: Any) -> str:
    """A choice as a person reads it: key_points → Key points."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def help_text(s: Setting) -> str:
    """The declared help, in the editor's own words (a 0 that means "automatic" is shown as that)."""
    text = s.help
    if _automatic(s):
        text = text.replace("0 lets Hearth choose", f"“{AUTOMATIC}” lets Hearth choose")
    return text


def _automatic(s: Setting) -> bool:
    return s.type is int and s.default == 0 and (s.minimum or 0) == 0


class SettingsDialog(QDialog):
    """Signals (GUI thread): applied(dict) — the settings that changed, after they were saved."""

    applied = Signal(dict)

    def __init__(
        self, store: SettingsStore, parent: QWidget | None = None, choices: Choices | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.editors: dict[str, QWidget] = {}
        self.headings: dict[str, QLabel] = {}
        self.locked: dict[str, str] = {}  # setting → the policy file that locks it
        choices = choices or {}
        from desktop.services import policy

        self.policy = policy.apply(store)  # an administrator's pinned settings read as locked
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings sections")
        self.tabs.setDocumentMode(True)
        forms: dict[str, QFormLayout] = {}
        page_of = {section: title for title, sections in PAGES for section in sections}
        pages: dict[str, QFormLayout] = {}
        for setting in SETTINGS:
            page_title = page_of.get(setting.section, setting.section)
            if page_title not in pages:
                page = QWidget()
                pages[page_title] = QFormLayout(page)
                pages[page_title].setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
                self.tabs.addTab(scrolling(page), page_title.replace("&", "&&"))
            form = pages[page_title]
            if setting.section not in forms:
                forms[setting.section] = form
                heading = QLabel(setting.section)
                heading.setObjectName("settingsHeading")
                heading.setAccessibleName(f"{setting.section} settings")
                heading.setVisible(setting.section != page_title)  # the tab already says it
                if form.rowCount():
                    form.addRow(QLabel(""))
                form.addRow(heading)
                self.headings[setting.section] = heading
            editor = make_editor(setting, choices.get(setting.key))
            set_value(editor, setting, store[setting.key])
            self.editors[setting.key] = editor
            title = setting.title + (" *" if setting.restart else "")
            label = QLabel(title)
            label.setBuddy(editor)
            label.setToolTip(help_text(setting))
            help_label = QLabel(help_text(setting))
            help_label.setObjectName("settingHelp")
            help_label.setWordWrap(True)
            help_label.setAccessibleName(f"{setting.title}: help")
            source = store.locked_by(setting.key)
            if source:
                self.locked[setting.key] = source
                editor.setEnabled(False)
                why = f"Locked by your administrator ({source})."
                help_label.setText(f"{why} {help_text(setting)}")
                editor.setToolTip(why)
                editor.setAccessibleDescription(f"{why} {help_text(setting)}")
            form.addRow(label, editor)
            form.addRow("", help_label)
        layout.addWidget(self.tabs)
        note = QLabel("* reloads the model when changed.")
        note.setObjectName("settingHelp")
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
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.setAutoDefault(False)  # Enter saves; it never wipes the user's choices
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore.clicked.connect(self.restore_defaults)
        layout.addWidget(buttons)
        self.resize(fitting(self, 640, 560))

    def values(self) -> dict[str, Any]:
        return {s.key: get_value(self.editors[s.key], s) for s in SETTINGS}

    def restore_defaults(self) -> None:
        for s in SETTINGS:
            if s.key not in self.locked:
                set_value(self.editors[s.key], s, s.default)

    def accept(self) -> None:
        from desktop.core.policy import SERVER_SETTINGS, PolicyError, check_server

        values = self.values()
        changed = {k: v for k, v in values.items() if v != self.store[k] and k not in self.locked}
        plain_ok = bool(values["allow_plain_http"])
        try:
            for key in SERVER_SETTINGS:
                if values[key] and key in changed:  # refuse a malformed, forbidden or plain-http URL
                    check_server(key, values[key], policy=self.policy, allow_plain_http=plain_ok)
            self.store.update(changed)
        except PolicyError as exc:
            self.error.setText(f"Not saved: {exc.user_message} {exc.hint}")
            self.error.setVisible(True)
            return
        except (ValueError, OSError) as exc:
            self.error.setText(f"Not saved: {exc}")
            self.error.setVisible(True)
            return
        super().accept()
        if changed:
            emit(self.applied, changed)


def make_editor(s: Setting, offered: list[tuple[str, Any]] | None = None) -> QWidget:
    editor: QWidget
    if s.type is bool:
        editor = QCheckBox()
    elif s.choices or offered:
        combo = QComboBox()
        for label, value in offered if offered else [(words(c), c) for c in s.choices]:
            combo.addItem(label, value)
        editor = combo
    elif s.type is int:
        spin = QSpinBox()
        spin.setRange(int(s.minimum if s.minimum is not None else -(2**31)), int(s.maximum or 2**31 - 1))
        if _automatic(s):
            spin.setSpecialValueText(AUTOMATIC)  # 0 means "let Hearth choose" in the declaration
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
        text.setTabChangesFocus(True)
        editor = text
    else:
        editor = QLineEdit()
    editor.setAccessibleName(s.title)
    editor.setAccessibleDescription(help_text(s))
    editor.setToolTip(help_text(s))
    editor.setObjectName(f"setting_{s.key}")
    return editor


def set_value(editor: QWidget, s: Setting, value: Any) -> None:
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QComboBox):
        index = editor.findData(value)
        if index < 0 and not s.choices:  # a value the offered list lacks (a model file named by hand)
            editor.addItem(str(value), value)
            index = editor.count() - 1
        editor.setCurrentIndex(max(0, index))
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

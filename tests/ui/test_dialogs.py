"""Settings generated from the declaration, the privacy panel, accessibility, geometry, drop routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTextBrowser,
    QTreeWidget,
    QWidget,
)

from desktop.core.settings import SETTINGS, SettingsStore
from desktop.services import privacy
from desktop.services.paths import data_dir
from desktop.ui import messages
from desktop.ui.main_window import drop_hint
from desktop.ui.privacy.panel import PrivacyDialog
from desktop.ui.settings.dialog import SettingsDialog


def test_settings_dialog_has_one_editor_per_declared_setting_and_saves_changes(qtbot: Any) -> None:
    store = SettingsStore(data_dir() / "settings.json")
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    assert set(dialog.editors) == {s.key for s in SETTINGS}
    assert set(dialog.headings) == {s.section for s in SETTINGS}  # every section, as a heading
    assert dialog.tabs.count() <= 4, "a few pages, not one tab per control"
    assert dialog.values() == store.as_dict()  # every editor shows the stored value
    dialog.editors["temperature"].setValue(0.8)
    dialog.editors["theme"].setCurrentIndex(dialog.editors["theme"].findData("dark"))
    with qtbot.waitSignal(dialog.applied) as applied:
        dialog.accept()
    assert applied.args[0] == {"temperature": 0.8, "theme": "dark"}
    again = SettingsStore(data_dir() / "settings.json")
    assert again["temperature"] == 0.8 and again["theme"] == "dark"


def test_every_settings_page_fits_a_small_screen_and_shows_its_help_whole(qtbot: Any) -> None:
    """At 800x600 the dialog fits the screen, and no help text is cut to a line and a half
    (a long page scrolls instead of squeezing its rows)."""
    from PySide6.QtWidgets import QLabel

    dialog = SettingsDialog(SettingsStore(data_dir() / "settings.json"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    screen = dialog.screen().availableGeometry()
    assert dialog.frameGeometry().height() <= screen.height()
    assert dialog.frameGeometry().width() <= screen.width()
    for index in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(index)
        qtbot.wait(20)
        page = dialog.tabs.currentWidget()
        helps = [w for w in page.findChildren(QLabel) if w.objectName() == "settingHelp"]
        assert helps, dialog.tabs.tabText(index)
        assert not _cut(helps), dialog.tabs.tabText(index)


def test_the_privacy_panel_fits_a_small_screen_and_shows_its_text_whole(qtbot: Any, make_window: Any) -> None:
    from PySide6.QtWidgets import QLabel

    window = make_window()
    dialog = PrivacyDialog(window.session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.frameGeometry().height() <= dialog.screen().availableGeometry().height()
    dialog.resize(560, 300)  # made smaller still: the text scrolls, it is not squeezed
    qtbot.wait(20)
    labels = [w for w in dialog.findChildren(QLabel) if w.isVisible() and w.wordWrap() and w.text()]
    assert len(labels) >= 4
    assert not _cut(labels)


def _cut(labels: list[Any]) -> list[tuple[str, int, int]]:
    """Word-wrapped labels given less height than their text needs at their width."""
    return [
        (label.text()[:60], label.height(), label.heightForWidth(label.width()))
        for label in labels
        if label.height() < label.heightForWidth(label.width())
    ]


def test_restore_defaults_puts_back_every_declared_default(qtbot: Any) -> None:
    store = SettingsStore(data_dir() / "settings.json")
    store.update({"max_answer_tokens": 99, "system_prompt": "be terse"})
    dialog = SettingsDialog(store)
    qtbot.addWidget(dialog)
    dialog.restore_defaults()
    assert dialog.values() == {s.key: s.default for s in SETTINGS}


def test_privacy_panel_counts_refusals_and_deletes_all_data(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    with qtbot.waitSignal(window.chat.answer_finished, timeout=10_000):
        window.chat.ask("remember me")
    dialog = PrivacyDialog(window.session, window)
    qtbot.addWidget(dialog)
    assert f"Network attempts refused: {privacy.refused_count()}" in dialog.refused.text()
    assert str(data_dir()) in dialog.where.text()
    with qtbot.waitSignal(dialog.data_deleted):
        dialog.delete_all()
    assert window.chat.store.chats() == []
    assert window.chat.sidebar.chat_items() == []
    # the user's data is gone (what the still-running window writes afresh, caches and the reopened
    # empty chat store, may be there)
    left = {p.name for p in data_dir().iterdir()}
    gone = {"library.sqlite", "settings.json", "window.ini", "models", "vectors"}
    assert not gone & left, " ".join(sorted(left))
    with qtbot.waitSignal(window.chat.answer_finished, timeout=10_000):  # the app goes on working
        window.chat.ask("fresh start")
    assert len(window.chat.store.chats()) == 1


def test_every_control_has_an_accessible_name(qtbot: Any, make_window: Any, report_pdf: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.chat.answer_finished, timeout=10_000):
        window.chat.ask("hello")
    window.show_library()
    window.open_source({"path": str(report_pdf), "page": 2, "snippet": "Battery storage"})
    window.open_pdf(report_pdf)  # the Summarize / Add to library choice
    window.show_about()
    dialogs = [
        SettingsDialog(window.session.settings, window, choices={"model": window.model_choices()}),
        PrivacyDialog(window.session, window),
    ]
    kinds = (QAbstractButton, QLineEdit, QPlainTextEdit, QComboBox, QListWidget, QTextBrowser, QTreeWidget)
    unnamed = []
    for root in [window, *dialogs]:
        for w in root.findChildren(QWidget):
            internal = w.objectName().startswith("qt_")  # Qt's own parts (spin box editors …)
            if isinstance(w, kinds) and not w.accessibleName() and not internal:
                unnamed.append(f"{type(w).__name__} in {type(w.parent()).__name__} {w.objectName()!r}")
    assert not unnamed, unnamed


def test_window_geometry_is_remembered(qtbot: Any, make_window: Any) -> None:
    first = make_window()
    first.resize(700, 520)
    first.close()
    second = make_window()
    assert (second.width(), second.height()) == (700, 520)


def test_drop_routes_pdf_gguf_and_folders(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert drop_hint([pdf]) == "Drop to summarize report.pdf"
    assert drop_hint([tmp_path / "m.gguf"]) == "Drop to import the model m.gguf"
    assert drop_hint([tmp_path]) == "Drop to add these to your library"
    window = make_window()
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    window.handle_drop([photo])
    qtbot.waitUntil(lambda: "cannot read photo.png" in window.banner.text(), timeout=3000)


def test_importing_a_file_that_is_not_a_model_explains_why(
    qtbot: Any, make_window: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "fake.gguf"
    bad.write_bytes(b"not a model at all" * 10)
    window = make_window()
    errors: list[messages.UserMessage] = []
    window.session.runner.busy_changed.connect(lambda busy: None)
    window.handle_drop([bad])
    qtbot.waitUntil(
        lambda: window.banner.isVisible() and "gguf" in window.banner.text().lower(), timeout=10_000
    )
    assert window.last_bug is None, errors


def test_settings_read_as_words_and_offer_the_models_on_this_computer(qtbot: Any) -> None:
    store = SettingsStore(data_dir() / "settings.json")
    models = [("Built-in: SmolLM2 (the default)", ""), ("qwen-coder (imported, fits)", "qwen-coder")]
    dialog = SettingsDialog(store, choices={"model": models})
    qtbot.addWidget(dialog)
    model = dialog.editors["model"]
    assert isinstance(model, QComboBox), "a list of models, not a free-text path"
    assert [model.itemText(i) for i in range(model.count())] == [m[0] for m in models]
    style = dialog.editors["summary_style"]
    assert isinstance(style, QComboBox)
    assert "Key points" in [style.itemText(i) for i in range(style.count())]
    assert all("_" not in style.itemText(i) for i in range(style.count()))
    model.setCurrentIndex(1)
    with qtbot.waitSignal(dialog.applied) as applied:
        dialog.accept()
    assert applied.args[0] == {"model": "qwen-coder"}
    threads_help = dialog.editors["threads"].accessibleDescription()
    assert "0 lets" not in threads_help and "Automatic" in threads_help


def test_privacy_panel_says_how_data_is_kept_on_disk_and_what_vectors_reveal(
    qtbot: Any, make_window: Any
) -> None:
    window = make_window()
    with qtbot.waitSignal(window.chat.answer_finished, timeout=10_000):
        window.chat.ask("remember me")  # creates the encrypted chat store
    dialog = PrivacyDialog(window.session, window)
    qtbot.addWidget(dialog)
    text = dialog.at_rest.text()
    assert "Chats and document text are encrypted" in text
    assert "vector index (the vectors/ folder) is not encrypted" in text and "do not contain the text" in text
    # No line claims what the code does not do (issue 10: a "remote servers" setting did nothing).
    from PySide6.QtWidgets import QLabel

    shown = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "Remote servers:" not in shown and "you named a server" not in shown

"""The Hearth window: menus, a toolbar (chats, model, open, library, settings, privacy), and three
panes side by side in one splitter: the chat list, the conversation, and a side pane whose tabs hold
the library and the open document.

`run_gui()` paints the window first and only then asks the llm lane to load the model: nothing
here imports llama_cpp, torch, sentence_transformers or chromadb at module level, so the first
paint never waits for them.

On a narrow window (800 px) the chat column keeps its minimum width: opening the side pane folds
the chat list away, and it comes back when there is room again.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QObject, QSettings, QSize, QTimer, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME, __version__
from desktop.core.errors import AppError
from desktop.services.paths import data_dir
from desktop.ui import icons, messages
from desktop.ui.chat.panel import ChatPanel
from desktop.ui.lazy_qt import Qt, set_by_name
from desktop.ui.models.picker import FIT_LABELS, ModelPicker
from desktop.ui.qtcompat import emit
from desktop.ui.session import LoadedModel, Session
from desktop.ui.theme import apply_theme, style_sheet

if TYPE_CHECKING:  # annotations only: each Qt type PySide6 builds before the first frame costs
    from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence

    from desktop.ui.library.panel import LibraryPanel
    from desktop.ui.side_pane import SidePane
    from desktop.ui.single_instance import WindowInstance
    from desktop.ui.viewer.pdf_viewer import PdfViewer
    from desktop.ui.viewer.text_viewer import TextViewer

log = logging.getLogger("desktop.ui")

ICON_PATH = Path(__file__).with_name("hearth.svg")
WARM_UP_MS = 300  # after the first frame's own follow-ups (chats, model load, library) have run
FIRST_FRAME_WAIT_MS = 1000  # no paint by then (shown minimized, hidden at once): start the work anyway
ROOM_FOR_CHATS = 1000  # narrower than this with the side pane open, the chat list folds away

PRIVACY_STATEMENT = (
    "Hearth runs entirely on this computer. Your questions, your documents and the answers never "
    "leave it: Hearth makes no network calls, and a guard refuses any connection to another machine. "
    "Your data stays in one folder, readable only by you; the Privacy panel shows it and can delete it."
)


def _key_sequences(shortcut: str) -> list[QKeySequence]:
    """The key sequences for "Ctrl+N", or for a standard key named "StandardKey.Open" (all of the
    platform's bindings for it). Not `QKeySequence(x)`: PySide6 tries x against its Qt.Key overload
    first, which builds Qt's enums (desktop/ui/lazy_qt.py)."""
    from PySide6.QtGui import QKeySequence

    standard = shortcut.removeprefix("StandardKey.")
    if standard != shortcut:
        return QKeySequence.keyBindings(getattr(QKeySequence.StandardKey, standard))
    return [QKeySequence.fromString(shortcut)]


class _MessageBridge(QObject):
    """Hops user messages posted from any thread onto the GUI thread."""

    posted = Signal(object)


class MainWindow(QMainWindow):
    """Signals (GUI thread): first_shown() — the window has painted once (start-up is timed from it)."""

    first_shown = Signal()

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.session = session or Session(parent=self)
        self.setWindowTitle(APP_NAME)
        self.setAccessibleName("Hearth")
        self.setAcceptDrops(True)
        self._shown = False
        self._first_painted = False
        self._first_frame_done = False
        self._closed = False
        self._chats_folded = False  # the chat list was folded away for room (not by the user)
        self.open_on_start: list[Path] = []  # files named on the command line (`hearth FILE.pdf`)
        self.dialogs_enabled = True  # tests turn modal dialogs off and read `last_bug` instead
        self.last_bug: messages.UserMessage | None = None
        self.about_box: Any = None
        self._model_entries: list[Any] = []  # services.models.ModelEntry, as last listed
        self.open_choice: Any = None

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Notice")
        set_by_name(self.banner, "textInteractionFlags", "TextSelectableByMouse")
        self.banner.setVisible(False)
        self._banner_timer = QTimer(self, singleShot=True, interval=8000)
        self._banner_timer.timeout.connect(lambda: self.banner.setVisible(False))
        layout.addWidget(self.banner)
        self.split = QSplitter()  # side by side (horizontal, the default)
        self.split.setObjectName("panes")
        self.split.setHandleWidth(1)
        self.chat = ChatPanel(self.session)
        self.chat.setHandleWidth(1)
        self._side: SidePane | None = None  # built when the library or a document is first shown
        self._panes_state: QByteArray | None = None
        self.split.addWidget(self.chat)
        self.split.setChildrenCollapsible(False)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        layout.addWidget(self.split, 1)
        self.setCentralWidget(central)

        self.drop_overlay = QLabel(central)
        self.drop_overlay.setObjectName("dropOverlay")
        set_by_name(self.drop_overlay, "alignment", "AlignCenter")
        self.drop_overlay.setAccessibleName("Drop here")
        self.drop_overlay.setVisible(False)

        self._keys: list[tuple[QAction, str, str]] = []  # (action, shortcut, text): see _bind_keys
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_shortcuts()
        self.statusBar().setAccessibleName("Status")
        self.statusBar().setSizeGripEnabled(False)
        self.status_label = QLabel("Starting…")
        self.status_label.setAccessibleName("Model status")
        self.statusBar().addPermanentWidget(self.status_label)

        self.session.model_loading.connect(self._on_model_loading)
        self.session.model_ready.connect(self._on_model_ready)
        self.session.model_failed.connect(self._on_model_failed)
        self.session.runner.busy_changed.connect(self._on_busy)
        self.chat.open_source.connect(self.open_source)
        self.chat.chat_changed.connect(lambda _c: self._remember_chat())
        # The library panel and the viewer are built on first use (their modules are not in the
        # first frame); the side pane shows them as tabs.
        self._library: LibraryPanel | None = None
        self._library_read = False
        self.viewer: PdfViewer | None = None  # PDFs (QtPdf)
        self.text_viewer: TextViewer | None = None  # every other type (services/readers)
        self._text_request: object | None = None  # the document read for the text view now

        self._fix_tab_order()
        self._bridge = _MessageBridge(self)  # messages reach the window once it has painted: see
        # _after_first_show (until then messages buffers them)
        self._restore_geometry()

    # -- building

    def _build_actions(self) -> None:
        self.open_action = self._make_action("Open…", "StandardKey.Open", self.open_file, "open")
        self.open_action.setStatusTip(
            "Open a document (PDF, Word, text, Markdown, HTML) to summarize it or add it to the library"
        )
        self.new_chat_action = self._make_action("New chat", "Ctrl+N", self.chat.new_chat, "new_chat")
        self.paste_action = self._make_action("Summarize pasted text…", "Ctrl+Shift+V", self.summarize_pasted)
        self.paste_action.setStatusTip("Summarize text from the clipboard: an email, an article, notes")
        self.quit_action = self._make_action("Quit", "StandardKey.Quit", self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.chats_action = self._make_action("Chats", "Ctrl+Shift+H", self.toggle_chats, "sidebar")
        self.chats_action.setToolTip("Show or hide the chat list (Ctrl+Shift+H)")
        self.library_action = self._make_action("Library", "Ctrl+Shift+L", self.toggle_library, "library")
        self.close_document_action = self._make_action("Close document", "Ctrl+W", self.close_document)
        self.settings_action = self._make_action("Settings", "Ctrl+,", self.open_settings, "settings")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.privacy_action = self._make_action("Privacy", "", self.open_privacy, "privacy")
        self.shortcuts_action = self._make_action("Keyboard shortcuts", "F1", self.show_shortcuts, "help")
        self.about_action = self._make_action("About Hearth", "", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.help_action = self.about_action

    def _make_action(self, text: str, shortcut: str, slot: Any, icon: str = "") -> QAction:
        """An action of the window; its `shortcut` ("Ctrl+N", "StandardKey.Open") is bound by
        `_bind_keys` once the window has painted."""
        action = QAction(text, self)
        if icon:
            action.setIcon(icons.icon(icon))
        if shortcut:
            self._keys.append((action, shortcut, text))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # its shortcut works even where the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        bar.setAccessibleName("Menu bar")
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.new_chat_action)
        file_menu.addAction(self.paste_action)
        file_menu.addAction(self.close_document_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.chats_action)
        view_menu.addAction(self.library_action)
        view_menu.addSeparator()
        view_menu.addAction(self.settings_action)
        view_menu.addAction(self.privacy_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setAccessibleName("Main toolbar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setIconSize(QSize(18, 18))
        set_by_name(bar, "toolButtonStyle", "ToolButtonTextBesideIcon")
        bar.toggleViewAction().setEnabled(False)
        self.addToolBar(bar)
        self.toolbar = bar
        self._tool(bar, self.chats_action, icon_only=True)
        self.picker = ModelPicker()
        self.picker.model_chosen.connect(self.switch_model)
        self.picker.import_requested.connect(self.import_model)
        bar.addWidget(self.picker)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        for action in (self.open_action, self.library_action, self.settings_action, self.privacy_action):
            self._tool(bar, action)

    def _tool(self, bar: QToolBar, action: QAction, icon_only: bool = False) -> None:
        bar.addAction(action)
        button = bar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setAccessibleName(action.text().rstrip("…"))
            set_by_name(button, "focusPolicy", "StrongFocus")  # toolbar buttons take the focus too
            if icon_only:
                set_by_name(button, "toolButtonStyle", "ToolButtonIconOnly")

    def _build_shortcuts(self) -> None:
        chat = self.chat
        for keys, slot in (
            ("Ctrl+F", self._find),
            ("Ctrl+L", lambda: chat.view.composer.setFocus()),
            ("Esc", chat.stop),
            ("Ctrl+R", chat.regenerate),
            ("Ctrl+Up", chat.edit_last_question),
            ("Ctrl+Shift+C", chat.copy_last_answer),
            ("F2", chat.sidebar.rename_current),
        ):
            action = QAction(self)
            self._keys.append((action, keys, ""))
            set_by_name(action, "shortcutContext", "WindowShortcut")
            action.triggered.connect(slot)
            self.addAction(action)

    def _bind_keys(self) -> None:
        """The shortcuts, and the tooltips that show them (in the platform's own words: ⌘O on a
        Mac). Bound after the first frame, which no key can reach: PySide6's QKeySequence type
        (71 standard keys) and the bindings cost the first frame 1% of a bare window's start."""
        from PySide6.QtGui import QKeySequence

        keys, self._keys = self._keys, []
        for action, shortcut, text in keys:
            action.setShortcuts(_key_sequences(shortcut))
            if text:
                native = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                action.setToolTip(f"{text.rstrip('…')} ({native})")

    def _fix_tab_order(self) -> None:
        """Tab follows the reading order: the toolbar, the chat list, the conversation, the composer,
        then the side pane. (Qt chains widgets in creation order; the toolbar is built last.)"""
        bar = self.toolbar
        chain: list[QWidget] = [
            w for a in bar.actions() if isinstance(w := bar.widgetForAction(a), QToolButton)
        ]  # the buttons `_tool` made focusable, not the spacer
        chain = [chain[0], self.picker.combo, *chain[1:]] if chain else [self.picker.combo]
        side = self.chat.sidebar
        chain += [side.search, side.new_button, side.list]
        for a, b in itertools.pairwise(chain):
            QWidget.setTabOrder(a, b)
        self.chat.view.fix_tab_order()

    def _find(self) -> None:
        """Ctrl+F: find in the document when the focus is in it, else search the chats."""
        focus = QApplication.focusWidget()
        for viewer in (self.viewer, self.text_viewer):
            if viewer is not None and focus is not None and viewer.isAncestorOf(focus):
                viewer.find_box.setFocus()
                viewer.find_box.selectAll()
                return
        if self.chat.sidebar.isHidden():
            self.toggle_chats()
        self.chat.sidebar.search.setFocus()

    # -- start-up

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self.chat.view.composer.setFocus()  # the cursor starts where the user types
            # A window that is not painted (shown minimized) starts its work anyway, a moment later.
            QTimer.singleShot(FIRST_FRAME_WAIT_MS, self._after_first_frame)

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        if not self._first_painted:
            self._first_painted = True
            # After this paint, not before: loading the model, reading the chats and the library
            # must never delay the first frame. The whole window is painted in this pass (Qt paints
            # a window's widgets together), and a zero timer runs once it has been flushed.
            QTimer.singleShot(0, self._after_first_frame)

    def _after_first_frame(self) -> None:
        if not self._first_frame_done and not self._closed:
            self._after_first_show()

    def _after_first_show(self) -> None:
        """Everything the first frame did not need: stored chats, the model, the catalog, the library."""
        self._first_frame_done = True
        emit(self.first_shown)
        self._bind_keys()
        self.chat.sidebar.finish()
        # Queued, so that a message posted on the GUI thread is shown after the code that posted it.
        self._bridge.posted.connect(self.show_message, Qt.ConnectionType.QueuedConnection)
        messages.set_sink(lambda m: emit(self._bridge.posted, m))
        self.chat.load()
        self._reopen_last_chat()
        if self.session.runtime is None and self.session.runner.running("model") is None:
            self.session.load_model()
        self.session.first_start_selftest(self._selftest_done)
        self.refresh_models()
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        has_library = (data_dir() / "library.sqlite").exists()
        self.chat.has_library = has_library
        if has_library:  # only a user who has a library pays for Chroma
            self.library.resume()
            self._library_read = True
            self.library.refresh()
        if self._geometry_store().value("library_open", False) in (True, "true"):
            self.show_library()  # restored open
        self.chat.view.composer.setFocus()
        if self.open_on_start:  # `hearth FILE…`, "Open with Hearth": as a drop, or a hand-over
            self.handle_drop(list(self.open_on_start))
        QTimer.singleShot(WARM_UP_MS, self._warm_up)

    def _warm_up(self) -> None:
        """Load what the first answer draws with while the window idles after its first frame and
        the model loads, in two short steps: the message widgets' module (and with it Qt's
        namespace of enums), then one message made and thrown away (PySide6 builds the types of
        its text view on first use). At the first question instead, they held the GUI thread for
        40-60 ms just as the answer began."""
        if self._closed:
            return
        module = importlib.import_module("desktop.ui.chat.message_view")

        def draft() -> None:
            if not self._closed:
                module.MessageWidget("assistant", "Warm **up**").deleteLater()

        QTimer.singleShot(WARM_UP_MS, draft)

    def _selftest_done(self, results: list[Any]) -> None:
        """A failed first-start check stays on screen as a banner with its remedy."""
        failed = [r for r in results if not r.ok]
        if failed:
            first = failed[0]
            more = f" ({len(failed) - 1} more: hearth doctor --selftest)" if len(failed) > 1 else ""
            messages.error(f"Self-test: {first.name} failed — {first.summary}{more}", first.remedy)

    def _reopen_last_chat(self) -> None:
        """The window opens on the chat the user last had open (a new one if that was new)."""
        stored = self._geometry_store().value("last_chat", 0)
        try:
            chat_id = int(stored or 0)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return
        if chat_id <= 0:
            return
        try:
            self.session.chats.chat(chat_id)
        except KeyError:
            return  # deleted since
        self.chat.open_chat(chat_id)

    def _remember_chat(self) -> None:
        """Kept as the user moves between chats, so even a crash reopens the right one. (A new
        chat in a data folder just emptied by "delete all my data" writes nothing.)"""
        if not self._first_frame_done or self._closed:
            return
        if self.chat.chat_id is None and not (data_dir() / "window.ini").exists():
            return
        self._geometry_store().setValue("last_chat", self.chat.chat_id or 0)

    @property
    def library(self) -> LibraryPanel:
        """The library panel, built on first use (its module and widgets are not in the first frame)."""
        if self._library is None:
            from desktop.ui.library.panel import LibraryPanel

            panel = LibraryPanel(self.session)
            self._library = panel
            panel.asked_changed.connect(self.chat.set_collections)
            panel.summarize_requested.connect(lambda path: self.summarize(Path(path)))
            panel.files_changed.connect(self._on_library_files)
            self.chat.chat_changed.connect(panel.set_asked)
            panel.set_asked(self.chat.asked_collections())
        return self._library

    def _on_library_files(self, rows: list[Any]) -> None:
        if rows and not self.chat.has_library:
            self.chat.has_library = True
            self.chat.set_collections(self.chat.asked_collections())

    # -- model

    def switch_model(self, model: str) -> None:
        self.chat.stop()
        self.session.load_model(model)

    def import_model(self, path: str) -> None:
        """Import a GGUF (dialog or drop) into the catalog on the io lane, then switch to it."""
        from desktop.services import models

        def imported(entry: Any) -> None:
            messages.info(f"Imported {entry.name}." + (f" {entry.plan_reason}" if entry.plan_reason else ""))
            self.refresh_models()
            self.switch_model(entry.name)

        self.statusBar().showMessage(f"Importing {Path(path).name}…")
        self.session.runner.call(
            "io", lambda: models.import_model(path), on_succeeded=imported, on_failed=self._job_failed
        )

    def refresh_models(self) -> None:
        """Fill the picker with the bundled and imported models and their fit (read on the io lane)."""
        from desktop.services import models

        def listed(entries: list[Any]) -> None:
            self._model_entries = list(entries)
            items = []
            for e in entries:
                fit = FIT_LABELS.get(e.fit or "", "") if not e.error else "unusable"
                label = f"{e.name} ({e.source}" + (f", {fit})" if fit else ")")
                items.append((label, e.name))
            current = self.session.model.name if self.session.model else ""
            self.picker.set_entries(items, current)

        self.session.runner.call("io", models.list_models, on_succeeded=listed, on_failed=self._job_failed)

    def _on_model_loading(self, name: str) -> None:
        self.picker.set_loading(name)
        self.status_label.setText(f"Loading {Path(name).name if '/' in name else name}…")

    def _on_model_ready(self, model: LoadedModel) -> None:
        self.picker.set_loaded(model)
        self.status_label.setText(
            f"{model.name} · {model.backend.upper()} · {model.n_threads} thread(s) · "
            f"{model.n_ctx} tokens of context"
        )
        for note in model.notices:
            messages.warning(note)

    def _on_model_failed(self, error: Any) -> None:
        if isinstance(error, AppError):
            self.picker.set_failed(error.user_message)
            self.status_label.setText("No model loaded")
            messages.app_error(error)
        else:
            self.picker.set_failed("The model could not be loaded.")
            messages.bug("Loading the model failed because of a bug.", getattr(error, "details", repr(error)))

    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self.statusBar().clearMessage()

    def _job_failed(self, error: Any) -> None:
        if isinstance(error, AppError):
            messages.app_error(error)
        else:
            messages.bug("A background task failed because of a bug.", getattr(error, "details", repr(error)))

    # -- messages

    def show_message(self, message: messages.UserMessage) -> None:
        """Expected things inline (the banner); bugs in a dialog with copyable details."""
        if message.level == "bug":
            self.last_bug = message
            if self.dialogs_enabled:
                from desktop.ui.bug_dialog import BugDialog

                BugDialog(message.text, message.hint, message.details, self).open()
            return
        text = f"<b>{_esc(message.text)}</b>" + (f" {_esc(message.hint)}" if message.hint else "")
        self.banner.setText(text)
        self.banner.setProperty("level", message.level)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setVisible(True)
        self._banner_timer.start(15000 if message.level == "error" else 8000)

    # -- dialogs

    def open_settings(self) -> None:
        from desktop.ui.settings.dialog import SettingsDialog

        dialog = SettingsDialog(self.session.settings, self, choices={"model": self.model_choices()})
        dialog.applied.connect(self._settings_applied)
        dialog.open()

    def model_choices(self) -> list[tuple[str, str]]:
        """The chat model setting as a list: the built-in one (the empty value) and every model the
        catalog lists, with where it comes from and whether it fits."""
        out = [("Built-in model (the default)", "")]
        for e in self._model_entries:
            if e.source == "bundled":
                out[0] = (f"Built-in: {e.name} (the default)", "")
                continue
            fit = FIT_LABELS.get(e.fit or "", "") if not e.error else "unusable"
            out.append((f"{e.name} ({e.source}" + (f", {fit})" if fit else ")"), e.name))
        return out

    def _settings_applied(self, changed: dict[str, Any]) -> None:
        if "theme" in changed:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, str(changed["theme"]))
        from desktop.core.settings import SETTINGS

        restart = {s.key for s in SETTINGS if s.restart} & set(changed)
        if restart:
            self.switch_model(str(self.session.settings["model"]))

    def open_privacy(self) -> None:
        from desktop.ui.privacy.panel import PrivacyDialog

        dialog = PrivacyDialog(self.session, self)
        dialog.data_deleted.connect(self._after_data_deleted)
        dialog.open()

    def _after_data_deleted(self) -> None:
        self.chat.new_chat()
        self.chat.sidebar.refresh()

    def show_about(self) -> None:
        """Version, what runs where, and the privacy statement (not the welcome text again)."""
        from PySide6.QtWidgets import QMessageBox

        model = self.session.model
        runs = (
            f"{_esc(model.name)} on the {model.backend.upper()}, {model.n_threads} thread(s)"
            if model is not None
            else "no model loaded yet"
        )
        box = QMessageBox(self)
        box.setWindowTitle(f"About {APP_NAME}")
        box.setAccessibleName(f"About {APP_NAME}")
        box.setIconPixmap(QIcon(str(ICON_PATH)).pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<h3>{APP_NAME} {__version__}</h3><p>A private assistant for your own documents.</p>")
        box.setInformativeText(
            f"<p>{_esc(PRIVACY_STATEMENT)}</p>"
            f"<p><b>Model:</b> {runs}<br><b>Your data:</b> <code>{_esc(str(data_dir()))}</code></p>"
        )
        ok = box.addButton(QMessageBox.StandardButton.Close)
        ok.setAccessibleName("Close")
        box.setDefaultButton(ok)
        self.about_box = box
        box.open()

    def show_shortcuts(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        rows = "".join(
            f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>"
            for k, v in (
                ("Enter / Shift+Enter", "send / new line"),
                ("Esc", "stop the answer"),
                ("Ctrl+N", "new chat"),
                ("Ctrl+O", "open a document"),
                ("Ctrl+Shift+L", "library"),
                ("Ctrl+Shift+H", "show or hide the chat list"),
                ("Ctrl+F", "search chats, or find in the document"),
                ("Ctrl+R / Ctrl+Up", "regenerate / edit the last question"),
                ("Ctrl+Shift+C", "copy the last answer"),
                ("Ctrl+= / Ctrl+- / Ctrl+0", "zoom the document in / out / fit width"),
                ("Ctrl+W", "close the document"),
            )
        )
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setAccessibleName("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{rows}</table>")
        box.addButton(QMessageBox.StandardButton.Close).setAccessibleName("Close")
        box.open()

    # -- opening a document (File → Open…, `hearth FILE.pdf`)

    def summarize_pasted(self) -> None:
        """Paste text (the clipboard's, to start with) and summarize it in a chat of its own."""
        from desktop.ui.paste_dialog import PasteDialog

        dialog = PasteDialog(self)
        if dialog.exec() == PasteDialog.DialogCode.Accepted:
            self.chat.summarize_text(dialog.pasted())

    def open_file(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        from desktop.services import readers

        path, _ = QFileDialog.getOpenFileName(self, "Open a document", "", readers.file_dialog_filters())
        if path:
            self.open_document(Path(path))

    def open_document(self, path: Path, action: str | None = None) -> None:
        """Summarize `path` now (in a chat of its own) or add it to the library; asks which when
        `action` is None. The Summarize button is the default: Enter never changes the library."""
        if not path.is_file():
            messages.error(f"{path.name} could not be found.", "It may have been moved or deleted.")
            return
        refusal = _unreadable(path)
        if refusal is not None:
            messages.error(*refusal)
            return
        if action == "summarize":
            self.summarize(path)
            return
        if action == "library":
            self.show_library()
            self.library.add([path])
            return
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(self)
        box.setWindowTitle(f"Open {path.name}")
        box.setAccessibleName(f"Open {path.name}")
        box.setText(f"What shall Hearth do with <b>{_esc(path.name)}</b>?")
        box.setInformativeText(
            "Summarize it now in a chat of its own, or add it to your library to ask questions "
            "about it with the pages cited."
        )
        summarize = box.addButton("Summarize now", QMessageBox.ButtonRole.AcceptRole)
        add = box.addButton("Add to library", QMessageBox.ButtonRole.ActionRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        for button, name in ((summarize, "Summarize now"), (add, "Add to library"), (cancel, "Cancel")):
            button.setAccessibleName(name)
        box.setDefaultButton(summarize)
        box.setEscapeButton(cancel)

        def chosen(button: Any) -> None:
            if button is summarize:
                self.open_document(path, "summarize")
            elif button is add:
                self.open_document(path, "library")

        box.buttonClicked.connect(chosen)
        self.open_choice = box
        box.open()

    open_pdf = open_document  # the name callers used when Hearth read only PDFs

    # -- the side pane: library and document

    @property
    def side(self) -> SidePane:
        """The side pane (library and document tabs), built on first use: a tab widget costs the
        first frame ~15 ms it does not need."""
        if self._side is None:
            from desktop.ui.side_pane import SidePane

            self._side = SidePane()
            self.split.addWidget(self._side)
            if self._panes_state is not None:
                self.split.restoreState(self._panes_state)
            self._side.setVisible(False)
            QWidget.setTabOrder(self.chat.view.stop_button, self._side.tabBar())
        return self._side

    def open_source(self, source: dict[str, Any]) -> None:
        """Open a cited (or summarized) document at its page beside the chat, the evidence
        highlighted: a PDF in the QtPdf view, any other type in the text view."""
        path = Path(str(source.get("path", "")))
        if not path.is_file():
            messages.error(
                f"{path.name or 'The document'} is no longer where it was.",
                "It may have been moved or deleted; re-add it to the library.",
            )
            return
        from desktop.services import readers

        viewer: PdfViewer | TextViewer
        if readers.kind_of(path) in ("pdf", ""):
            viewer = self.ensure_viewer()
            other: QWidget | None = self.text_viewer
        else:
            viewer = self.ensure_text_viewer()
            other = self.viewer
        if other is not None:
            self.side.hide_page(other)  # one document tab at a time
        self.side.show_page(viewer, _tab_title(path.name), "document")
        self._fit_panes(opening=True)
        where = (
            int(source.get("page") or 1),
            str(source.get("snippet") or ""),
            str(source.get("quote") or ""),
        )
        if viewer is self.viewer or self.text_viewer is None or self.text_viewer.is_current(path):
            if viewer is self.viewer:
                self._text_request = None  # a text document still being read is no longer wanted
            viewer.show_source(path, *where)
            return
        # Another type: read by its reader off the GUI thread (a Word file is parsed in a worker
        # process), then shown at the cited page. A newer citation replaces one still being read.
        from desktop.ui.viewer.text_viewer import read_document

        text_viewer = self.text_viewer
        text_viewer.set_loading(path)
        self._text_request = request = object()

        def loaded(result: Any) -> None:
            if self._text_request is request:
                stamp, info, pages = result
                text_viewer.load(path, pages, info.unit, stamp)
                text_viewer.show_source(path, *where)

        def failed(error: Any) -> None:
            if self._text_request is not request:
                return
            if isinstance(error, AppError):
                text_viewer.show_error(path, error.user_message)
            else:
                self._job_failed(error)

        self.session.runner.call(
            "io", lambda: read_document(path), replaces="document_view", on_succeeded=loaded, on_failed=failed
        )

    def ensure_viewer(self) -> PdfViewer:
        if self.viewer is None:
            from desktop.ui.viewer.pdf_viewer import PdfViewer

            self.viewer = PdfViewer()
            self.viewer.close_requested.connect(self.close_document)
        return self.viewer

    def ensure_text_viewer(self) -> TextViewer:
        if self.text_viewer is None:
            from desktop.ui.viewer.text_viewer import TextViewer

            self.text_viewer = TextViewer()
            self.text_viewer.close_requested.connect(self.close_document)
        return self.text_viewer

    def close_document(self) -> None:
        shown = [v for v in (self.viewer, self.text_viewer) if v is not None]
        for viewer in shown:
            self.side.hide_page(viewer)
        if shown:
            self._fit_panes()

    def toggle_library(self) -> None:
        if self.library_visible():
            self.hide_library()
        else:
            self.show_library()

    def show_library(self) -> None:
        panel = self.library
        self.side.show_page(panel, "Library", "library")
        self._fit_panes(opening=True)
        if not self._library_read and self._first_frame_done:
            self._library_read = True
            panel.refresh()

    def hide_library(self) -> None:
        if self._library is not None:
            self.side.hide_page(self._library)
            self._fit_panes()

    def library_visible(self) -> bool:
        return self._side is not None and self._side.showing(self._library)

    def toggle_chats(self) -> None:
        sidebar = self.chat.sidebar
        self._chats_folded = False
        sidebar.setVisible(sidebar.isHidden())
        if sidebar.isVisible() and self.chat.sizes()[0] < sidebar.minimumWidth():
            self.chat.setSizes([230, max(1, self.chat.width() - 230)])

    def _fit_panes(self, opening: bool = False) -> None:
        """Keep the conversation readable: the chat list folds away while the side pane needs the
        room, and comes back when the window is wide again; a newly opened pane takes ~40 %."""
        sidebar = self.chat.sidebar
        side_open = self._side is not None and self._side.isVisible()
        narrow = side_open and self.width() < ROOM_FOR_CHATS
        if narrow and sidebar.isVisible():
            sidebar.setVisible(False)
            self._chats_folded = True
        elif not narrow and self._chats_folded:
            sidebar.setVisible(True)
            self._chats_folded = False
        if opening and side_open:
            from desktop.ui.side_pane import SIDE_MIN  # loaded already: the side pane is open

            total = max(1, self.split.width())
            side = max(SIDE_MIN, min(int(total * 0.42), total - self.chat.minimumSizeHint().width()))
            current = self.split.sizes()
            if len(current) == 2 and current[1] < SIDE_MIN:
                self.split.setSizes([total - side, side])

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_panes()

    # -- drop target

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = _local_paths(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        self.drop_overlay.setText(drop_hint(paths))
        central = self.centralWidget()
        if central is not None:
            self.drop_overlay.setGeometry(central.rect().adjusted(24, 24, -24, -24))
        self.drop_overlay.raise_()
        self.drop_overlay.setVisible(True)

    def dragLeaveEvent(self, event: Any) -> None:
        self.drop_overlay.setVisible(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.setVisible(False)
        paths = _local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.handle_drop(paths)

    def handle_drop(self, paths: list[Path]) -> None:
        """One document (PDF, Word, text, Markdown, HTML) → summarize (in its own chat); one GGUF →
        import; several files or a folder → offer the library."""
        if len(paths) == 1 and paths[0].suffix.lower() == ".gguf":
            self.import_model(str(paths[0]))
        elif len(paths) == 1 and paths[0].is_file():
            refusal = _unreadable(paths[0])
            if refusal is None:
                self.summarize(paths[0])
            else:
                messages.error(*refusal)
        else:
            self.offer_library(paths)

    def summarize(self, path: Path) -> None:
        self.chat.summarize(path)

    def offer_library(self, paths: list[Path]) -> None:
        self.show_library()
        self.library.offer_to_add(paths)

    def open_handed_over(self, paths: list[Path], activation: str = "") -> bool:
        """Files a second `hearth FILE…` handed to this window (ui/single_instance.py): the window
        comes to the front, then they are opened as dropped ones are; a path that is no longer a
        file is named in an error. False: the window is closing (the launch opens the next one)."""
        if self._closed:
            return False
        if activation:  # the launcher's token: Wayland's Qt uses it once to let the window raise
            import os

            os.environ["XDG_ACTIVATION_TOKEN"] = activation
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()
        if not self._first_frame_done:  # the stored chats load first, or they would hide the new one
            QTimer.singleShot(100, lambda: self.open_handed_over(paths))
            return True
        files = [p for p in paths if p.is_file()]
        for path in paths:
            if path not in files:
                messages.error(f"{path.name} could not be found.", "It may have been moved or deleted.")
        if files:
            self.handle_drop(files)
        return True

    # -- geometry and closing

    def _geometry_store(self) -> QSettings:
        return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        store = self._geometry_store()
        geometry = store.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)
        state = store.value("splitter")
        if isinstance(state, QByteArray):
            self.chat.restoreState(state)
        panes = store.value("panes")
        if isinstance(panes, QByteArray):
            self._panes_state = panes  # applied when the side pane is built

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            store = self._geometry_store()
            store.setValue("geometry", self.saveGeometry())
            if self._chats_folded:
                self.chat.sidebar.setVisible(True)  # saved unfolded: the next window may be wider
            store.setValue("splitter", self.chat.saveState())
            if self._side is not None:
                store.setValue("panes", self.split.saveState())
            store.setValue("library_open", self.library_visible())
            store.setValue("last_chat", self.chat.chat_id or 0)
            store.sync()
            self._closed = True
            messages.set_sink(None)
            # Gone from the screen at once: stopping the model process and the library can take
            # seconds, and a window that lingers after Quit feels broken.
            self.hide()
            app = QApplication.instance()
            if app is not None:
                app.processEvents()
            self.session.close()
        super().closeEvent(event)


def drop_hint(paths: list[Path]) -> str:
    from desktop.services import readers

    if len(paths) == 1 and readers.is_supported(paths[0]):
        return f"Drop to summarize {paths[0].name}"
    if len(paths) == 1 and paths[0].suffix.lower() == ".gguf":
        return f"Drop to import the model {paths[0].name}"
    return "Drop to add these to your library"


def _unreadable(path: Path) -> tuple[str, str] | None:
    """(message, hint) when no reader takes `path` (by its suffix, else its content); None when one does.
    Whether the content is good is the reader's to say, with its reason, when it reads the file."""
    from desktop.core.errors import DocumentError
    from desktop.services import readers

    try:
        readers.reader_for(path)
    except DocumentError:
        return (
            f"Hearth cannot read {path.name}.",
            "Drop or open a PDF, Word (.docx), text, Markdown or HTML document to summarize it, "
            "or a .gguf model to import it.",
        )
    return None


def _local_paths(mime: Any) -> list[Path]:
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tab_title(name: str) -> str:
    return name if len(name) <= 28 else name[:27] + "…"


def _collect_garbage_again() -> None:
    """After the first frame: cyclic collection, off while starting (desktop/app.py), is back on.
    The start's garbage goes first (one collection, 7 ms here); what survives lives as long as the
    window, so it is set aside for good (`gc.freeze`) and later collections do not walk it again."""
    import gc

    if gc.isenabled():  # started another way (tests): nothing to undo
        return
    gc.collect()
    gc.freeze()
    gc.enable()


def run_gui(
    argv: list[str] | None = None,
    open_paths: list[Path] | None = None,
    instance: WindowInstance | None = None,
) -> int:
    """Start the window; the model loads on the llm lane once it has painted. `open_paths`: PDFs
    named on the command line ("Open with Hearth"), offered as File → Open… offers them.
    `instance`: this data folder's claim, whose later launches hand their files to this window.
    Returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = QApplication.instance()
    styled = app is None  # Fusion chosen as the app is made: `setStyle` would build and replace a style
    if app is None:
        args = list(sys.argv if argv is None else argv) or ["hearth"]
        app = QApplication([args[0], "-style", "Fusion", *args[1:]])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("hearth")
    from desktop.ui.errors import install_excepthooks

    install_excepthooks()
    try:
        session = Session()
    except AppError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, APP_NAME, f"{exc.user_message}\n\n{exc.hint}")
        return 1
    tokens = apply_theme(
        app, str(session.settings["theme"]), style=not styled, sheet=False
    )  # icons take its colours
    for problem in session.settings.problems:
        messages.warning(f"Settings: {problem}", "The default was used instead.")
    window = MainWindow(session)
    # The style sheet once the widgets exist: one polish pass (3 ms here). Set before, it made every
    # widget's construction pay for it (15 ms of the first frame's 30).
    app.setStyleSheet(style_sheet(tokens))
    window.open_on_start = list(open_paths or [])
    if instance is not None:
        instance.deliver_to(lambda given: window.open_handed_over(list(given.paths), given.activation))
        window.first_shown.connect(instance.listen)  # QtNetwork after the first frame, not before
    window.first_shown.connect(_collect_garbage_again)
    window.show()
    code = app.exec()
    if instance is not None:
        instance.close()
    return code

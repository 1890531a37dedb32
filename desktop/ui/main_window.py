"""The Hearth window: toolbar (model picker, library, settings, privacy), chats, drop target, messages.

`run_gui()` paints the window first and only then asks the llm lane to load the model: nothing
here imports llama_cpp, torch, sentence_transformers or chromadb at module level, so the first
paint never waits for them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME
from desktop.core.errors import AppError
from desktop.services.paths import data_dir
from desktop.ui import messages
from desktop.ui.chat.panel import ChatPanel
from desktop.ui.models.picker import FIT_LABELS, ModelPicker
from desktop.ui.qtcompat import emit
from desktop.ui.session import LoadedModel, Session
from desktop.ui.theme import apply_theme

if TYPE_CHECKING:
    from desktop.ui.library.panel import LibraryPanel

log = logging.getLogger("desktop.ui")

ICON_PATH = Path(__file__).with_name("hearth.svg")


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
        self._first_frame_done = False
        self._closed = False
        self.dialogs_enabled = True  # tests turn modal dialogs off and read `last_bug` instead
        self.last_bug: messages.UserMessage | None = None

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("Notice")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setVisible(False)
        self._banner_timer = QTimer(self, singleShot=True, interval=8000)
        self._banner_timer.timeout.connect(lambda: self.banner.setVisible(False))
        layout.addWidget(self.banner)
        self.chat = ChatPanel(self.session)
        layout.addWidget(self.chat, 1)
        self.setCentralWidget(central)

        self.drop_overlay = QLabel(central)
        self.drop_overlay.setObjectName("dropOverlay")
        self.drop_overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_overlay.setAccessibleName("Drop here")
        self.drop_overlay.setVisible(False)

        self._build_toolbar()
        self._build_shortcuts()
        self.statusBar().setAccessibleName("Status")
        self.status_label = QLabel("Starting…")
        self.status_label.setAccessibleName("Model status")
        self.statusBar().addPermanentWidget(self.status_label)

        self.session.model_loading.connect(self._on_model_loading)
        self.session.model_ready.connect(self._on_model_ready)
        self.session.model_failed.connect(self._on_model_failed)
        self.session.runner.busy_changed.connect(self._on_busy)
        self.chat.open_source.connect(self.open_source)
        # The dock exists from the start (so its place is restored); its panel is built after the
        # first frame, or when something asks for `self.library` first.
        self._library: LibraryPanel | None = None
        self.library_dock = QDockWidget("Library", self)
        self.library_dock.setObjectName("libraryDock")
        self.library_dock.setAccessibleName("Library panel")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.library_dock)
        self.library_dock.hide()
        self.library_dock.visibilityChanged.connect(self._on_library_visible)
        self._library_read = False
        self.viewer: Any = None  # PdfViewer, built on first use (QtPdf loads then)
        self.viewer_dock: QDockWidget | None = None

        self._bridge = _MessageBridge(self)
        self._bridge.posted.connect(self.show_message, Qt.ConnectionType.QueuedConnection)
        messages.set_sink(lambda m: emit(self._bridge.posted, m))
        self._restore_geometry()

    # -- building

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setAccessibleName("Main toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.picker = ModelPicker()
        self.picker.model_chosen.connect(self.switch_model)
        self.picker.import_requested.connect(self.import_model)
        bar.addWidget(self.picker)
        bar.addSeparator()
        self.library_action = self._action(bar, "Library", "Ctrl+Shift+L", self.toggle_library)
        self.settings_action = self._action(bar, "Settings", "Ctrl+,", self.open_settings)
        self.privacy_action = self._action(bar, "Privacy", "", self.open_privacy)
        self.help_action = self._action(bar, "Help", "F1", self.show_help)

    def _action(self, bar: QToolBar, text: str, shortcut: str, slot: Any) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(
                f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            )
        action.triggered.connect(slot)
        bar.addAction(action)
        button = bar.widgetForAction(action)
        if button is not None:
            button.setAccessibleName(text)
        return action

    def _build_shortcuts(self) -> None:
        chat = self.chat
        for keys, slot in (
            ("Ctrl+N", chat.new_chat),
            ("Ctrl+F", lambda: chat.sidebar.search.setFocus()),
            ("Ctrl+L", lambda: chat.view.composer.setFocus()),
            ("Esc", chat.stop),
            ("Ctrl+R", chat.regenerate),
            ("Ctrl+Up", chat.edit_last_question),
            ("Ctrl+Shift+C", chat.copy_last_answer),
            ("F2", chat.sidebar.rename_current),
            ("Ctrl+Q", self.close),
        ):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)

    # -- start-up

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            # After this paint, not before: loading the model must never delay the first frame.
            QTimer.singleShot(0, self._after_first_show)

    def _after_first_show(self) -> None:
        """Everything the first frame did not need: stored chats, the model, the catalog, the library."""
        self._first_frame_done = True
        emit(self.first_shown)
        self.chat.load()
        if self.session.runtime is None and self.session.runner.running("model") is None:
            self.session.load_model()
        self.session.first_start_selftest(self._selftest_done)
        self.refresh_models()
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        if (data_dir() / "library.sqlite").exists():  # only a user who has a library pays for Chroma
            self.library.resume()
            self._library_read = True
            self.library.refresh()
        elif self.library_dock.isVisible():  # restored open
            self._on_library_visible(True)

    def _selftest_done(self, results: list[Any]) -> None:
        """A failed first-start check stays on screen as a banner with its remedy."""
        failed = [r for r in results if not r.ok]
        if failed:
            first = failed[0]
            more = f" ({len(failed) - 1} more: hearth doctor --selftest)" if len(failed) > 1 else ""
            messages.error(f"Self-test: {first.name} failed — {first.summary}{more}", first.remedy)

    @property
    def library(self) -> LibraryPanel:
        """The library panel, built on first use (its module and widgets are not in the first frame)."""
        if self._library is None:
            from desktop.ui.library.panel import LibraryPanel

            panel = LibraryPanel(self.session)
            self._library = panel
            self.library_dock.setWidget(panel)
            panel.asked_changed.connect(self.chat.set_collections)
            panel.summarize_requested.connect(lambda path: self.summarize(Path(path)))
            self.chat.chat_changed.connect(panel.set_asked)
            panel.set_asked(self.chat.asked_collections())
        return self._library

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
                from desktop.ui.errors import BugDialog

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

        dialog = SettingsDialog(self.session.settings, self)
        dialog.applied.connect(self._settings_applied)
        dialog.open()

    def _settings_applied(self, changed: dict[str, Any]) -> None:
        if "theme" in changed:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, str(changed["theme"]))
        restart = {"model", "context_size", "gpu", "threads"} & set(changed)
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

    def show_help(self) -> None:
        self.chat.new_chat()

    # -- the document viewer

    def open_source(self, source: dict[str, Any]) -> None:
        """Open a cited (or summarized) PDF at its page in the side viewer, the passage highlighted."""
        path = Path(str(source.get("path", "")))
        if not path.is_file():
            messages.error(
                f"{path.name or 'The document'} is no longer where it was.",
                "It may have been moved or deleted; re-add it to the library.",
            )
            return
        if self.viewer is None:
            from desktop.ui.viewer.pdf_viewer import PdfViewer

            self.viewer = PdfViewer()
            self.viewer_dock = QDockWidget("Document", self)
            self.viewer_dock.setObjectName("viewerDock")
            self.viewer_dock.setAccessibleName("Document viewer panel")
            self.viewer_dock.setWidget(self.viewer)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.viewer_dock)
            self.resizeDocks([self.viewer_dock], [460], Qt.Orientation.Horizontal)
        assert self.viewer_dock is not None
        self.viewer_dock.show()
        self.viewer_dock.raise_()
        self.viewer.show_source(path, int(source.get("page") or 1), str(source.get("snippet") or ""))

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
        """One PDF → summarize; one GGUF → import; several files or a folder → offer the library."""
        if len(paths) == 1 and paths[0].suffix.lower() == ".gguf":
            self.import_model(str(paths[0]))
        elif len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() == ".pdf":
            self.summarize(paths[0])
        elif len(paths) == 1 and paths[0].is_file():
            messages.error(
                f"Hearth cannot read {paths[0].name}.",
                "Drop a PDF to summarize it, or a .gguf model to import it.",
            )
        else:
            self.offer_library(paths)

    def summarize(self, path: Path) -> None:
        self.chat.summarize(path)

    def offer_library(self, paths: list[Path]) -> None:
        self.show_library()
        self.library.offer_to_add(paths)

    def toggle_library(self) -> None:
        if self.library_dock.isVisible():
            self.library_dock.hide()
        else:
            self.show_library()

    def show_library(self) -> None:
        self.library_dock.show()
        self.library_dock.raise_()

    def _on_library_visible(self, visible: bool) -> None:
        if visible and not self._library_read and self._first_frame_done:
            self._library_read = True
            self.library.refresh()

    # -- geometry and closing

    def _geometry_store(self) -> QSettings:
        return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        store = self._geometry_store()
        geometry = store.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        state = store.value("splitter")
        if isinstance(state, QByteArray):
            self.chat.restoreState(state)
        docks = store.value("docks")
        if isinstance(docks, QByteArray):
            self.restoreState(docks)  # the library dock where the user left it (the viewer: when opened)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            store = self._geometry_store()
            store.setValue("geometry", self.saveGeometry())
            store.setValue("splitter", self.chat.saveState())
            store.setValue("docks", self.saveState())
            store.sync()
            messages.set_sink(None)
            self.session.close()
        super().closeEvent(event)


def drop_hint(paths: list[Path]) -> str:
    if len(paths) == 1 and paths[0].suffix.lower() == ".pdf":
        return f"Drop to summarize {paths[0].name}"
    if len(paths) == 1 and paths[0].suffix.lower() == ".gguf":
        return f"Drop to import the model {paths[0].name}"
    return "Drop to add these to your library"


def _local_paths(mime: Any) -> list[Path]:
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_gui(argv: list[str] | None = None) -> int:
    """Start the window; the model loads on the llm lane once it has painted. Returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName("hearth")
    from desktop.ui.errors import install_excepthooks

    install_excepthooks()
    try:
        session = Session()
    except AppError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, APP_NAME, f"{exc.user_message}\n\n{exc.hint}")
        return 1
    apply_theme(app, str(session.settings["theme"]))
    for problem in session.settings.problems:
        messages.warning(f"Settings: {problem}", "The default was used instead.")
    window = MainWindow(session)
    window.show()
    return app.exec()

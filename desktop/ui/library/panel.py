"""The library panel: collections, per-file status with the reason a file failed, add, remove, re-index,
and which collections the open chat asks.

Every library call runs on the index lane (Session.library_call / library_job); this panel only
draws what comes back. While indexing, the file list is re-read between batches at most twice a
second, so the statuses move from queued to indexing to ready (or error, with its reason) live.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import AppError
from desktop.core.events import Notice, Progress, format_eta
from desktop.ui import messages, theme
from desktop.ui.flow_layout import FlowLayout, flow_size_policy
from desktop.ui.jobs import JobHandle
from desktop.ui.qtcompat import emit
from desktop.ui.session import Session

log = logging.getLogger("desktop.ui.library")

DEFAULT_COLLECTION = "default"  # the library service's default collection name
STATUS_LABELS = {"queued": "queued", "indexing": "indexing…", "ready": "ready", "error": "error"}
REFRESH_EVERY_S = 0.5


class LibraryPanel(QWidget):
    """Signals (GUI thread):
    files_changed(list)       the file rows were re-read (list of services.library_store.FileRow)
    indexing_finished(str)    "succeeded" | "failed" | "cancelled"
    asked_changed(tuple)      the collections the open chat asks were changed by the user
    collection_removed(str)   a whole collection was deleted from the library
    summarize_requested(str)  the user asked for a summary of this ready file (its path)
    file_progress(str, int, int)  the file being indexed (its path), its pages done, its page count
                              (0 until the file has been read); its row shows "indexing 12/40 pages"
    """

    files_changed = Signal(list)
    indexing_finished = Signal(str)
    asked_changed = Signal(tuple)
    collection_removed = Signal(str)
    summarize_requested = Signal(str)
    file_progress = Signal(str, int, int)
    _listed_between = Signal(object)  # (read number, listing), emitted on the index lane; queued

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setAccessibleName("Library")
        self.rows: list[Any] = []
        self.collections: list[str] = []
        self._stored_collections: set[str] = set()  # as the library listed them (not New… ones)
        self._index: JobHandle | None = None
        self._last_refresh = 0.0
        self._offer: list[Path] = []
        self._file: tuple[str, str, int] | None = None  # (collection, path, run's done when it began)
        self.file_status: dict[tuple[str, str], str] = {}  # the row text of the file being indexed
        self._reads = 0  # refreshes asked for; a read older than the one last shown is dropped
        self._shown_read = 0
        self._listed_between.connect(self._on_read, Qt.ConnectionType.QueuedConnection)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        # What the library holds, read from the store (not from the last run's result): right after
        # an add that found everything already indexed, and right after a relaunch.
        self.count_label = QLabel()
        self.count_label.setObjectName("libraryCount")
        self.count_label.setAccessibleName("Library contents")
        self.count_label.setWordWrap(True)
        layout.addWidget(self.count_label)
        top = QHBoxLayout()
        self.collection = QComboBox()
        self.collection.setAccessibleName("Collection")
        self.collection.setToolTip("The collection files are added to and listed from")
        self.collection.currentIndexChanged.connect(self._on_collection_shown)
        top.addWidget(self.collection, 1)
        self.new_collection_button = self._button("New…", "New collection", self.new_collection)
        top.addWidget(self.new_collection_button)
        self.remove_collection_button = self._button(
            "Delete…",
            "Delete this collection from the library (the PDFs stay on disk)",
            self.remove_collection,
        )
        top.addWidget(self.remove_collection_button)
        layout.addLayout(top)

        self.offer = QWidget()
        offer_row = QHBoxLayout(self.offer)
        offer_row.setContentsMargins(0, 0, 0, 0)
        self.offer_label = QLabel()
        self.offer_label.setWordWrap(True)
        self.offer_label.setAccessibleName("Add to library?")
        offer_row.addWidget(self.offer_label, 1)
        offer_row.addWidget(self._button("Add", "Add the dropped files", self.accept_offer))
        offer_row.addWidget(self._button("Dismiss", "Do not add the dropped files", self.dismiss_offer))
        self.offer.setVisible(False)
        layout.addWidget(self.offer)

        self.files = QTreeWidget()
        self.files.setAccessibleName("Files in the collection")
        self.files.setHeaderLabels(["File", "Status", "Pages", "Details"])
        self.files.setRootIsDecorated(False)
        self.files.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.files.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.files.header().setStretchLastSection(True)
        self.files.itemSelectionChanged.connect(self._show_details)
        layout.addWidget(self.files, 1)

        # The selected file in full: its reason and hint wrap here, however narrow the dock is.
        self.details = QLabel()
        self.details.setObjectName("fileDetails")
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Selected file details")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(False)
        layout.addWidget(self.details)

        button_row = QWidget()
        button_row.setSizePolicy(flow_size_policy())
        buttons = FlowLayout(button_row)  # wraps in a narrow pane instead of widening it
        self.add_files_button = self._button(
            "Add files…", "Add documents (PDF, Word, text, Markdown, HTML)", self.add_files
        )
        self.add_folder_button = self._button("Add folder…", "Add a folder of documents", self.add_folder)
        self.remove_button = self._button("Remove", "Remove the selected files from the library", self.remove)
        self.reindex_button = self._button("Re-index", "Read the selected files again", self.reindex)
        self.summarize_button = self._button(
            "Summarize", "Summarize the selected file into the chat", self.summarize_selected
        )
        for b in (
            self.add_files_button,
            self.add_folder_button,
            self.remove_button,
            self.reindex_button,
            self.summarize_button,
        ):
            buttons.addWidget(b)
        layout.addWidget(button_row)

        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Indexing progress")
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setAccessibleName("Indexing status")
        self.progress_label.setWordWrap(True)
        self.cancel_button = self._button("Stop", "Stop indexing", self.cancel_indexing)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        layout.addLayout(progress_row)
        layout.addWidget(self.progress_label)
        self._set_indexing(False)

        asks = QLabel("This chat asks:")
        asks.setAccessibleName("This chat asks")
        layout.addWidget(asks)
        self.asked = QListWidget()
        self.asked.setAccessibleName("Collections this chat asks")
        self.asked.setToolTip("Ticked collections are searched for every question in the open chat")
        self.asked.itemChanged.connect(self._on_asked_changed)
        layout.addWidget(self.asked)
        self._asked: tuple[str, ...] = ()
        self._filling = False

    def _button(self, text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.setToolTip(name)
        button.clicked.connect(lambda _=False: slot())
        return button

    # -- reading

    def refresh(self) -> None:
        """Re-read collections and files on the index lane: between two batches while it indexes
        (a queued job would wait for the whole run), else as a job of its own. Nothing once the
        window is closing: a job its close cancelled still reports, late (`_index_done`)."""
        if self.session.runner.closed:
            return
        self._last_refresh = time.monotonic()
        self._reads += 1
        seq = self._reads
        if self._index is not None and not self._index.done:

            def read() -> Any:
                lib = self.session.library_on_lane()
                return lib.collections(), lib.files()

            future = self.session.runner.call_between("index", read)
            # done on the index lane; the signal is queued to the GUI thread, where this panel lives
            future.add_done_callback(
                lambda f: (
                    emit(self._listed_between, (seq, f.result()))
                    if not f.cancelled() and f.exception() is None
                    else None
                )
            )
            return
        self.session.library_call(
            lambda lib: (lib.collections(), lib.files()),
            on_succeeded=lambda listed: self._on_read((seq, listed)),
            on_failed=self._on_error,
        )

    def _on_read(self, read: tuple[int, tuple[list[str], list[Any]]]) -> None:
        seq, listed = read
        if seq < self._shown_read:  # a between-batches read that arrived after a newer one
            return
        self._shown_read = seq
        self._on_listed(listed)

    def _on_listed(self, listed: tuple[list[str], list[Any]]) -> None:
        collections, rows = listed
        self._stored_collections = set(collections)
        made_here = {c for c in self.collections if c not in collections}  # New… ones, still empty
        self.collections = sorted(set(collections) | made_here | {DEFAULT_COLLECTION})
        self.rows = list(rows)
        current = self.current_collection()
        self.collection.blockSignals(True)
        self.collection.clear()
        self.collection.addItems(self.collections)
        self.collection.setCurrentIndex(max(0, self.collection.findText(current)))
        self.collection.blockSignals(False)
        self._show_rows()
        self._show_count()
        self.set_asked(self._asked)
        emit(self.files_changed, self.rows)

    def current_collection(self) -> str:
        return self.collection.currentText() or DEFAULT_COLLECTION

    def counts(self, collection: str | None = None) -> dict[str, int]:
        """Files per status in `collection` (the one shown when None), as the store listed them."""
        name = collection or self.current_collection()
        out: dict[str, int] = {}
        for row in self.rows:
            if row.collection == name:
                out[row.status] = out.get(row.status, 0) + 1
        return out

    def count_text(self, collection: str | None = None) -> str:
        counts = self.counts(collection)
        if not counts:
            return "No documents yet: add files (PDF, Word, text, Markdown, HTML) or a folder."
        ready = counts.get("ready", 0)
        parts = [f"{ready} document{'s' if ready != 1 else ''} ready"]
        waiting = counts.get("queued", 0) + counts.get("indexing", 0)
        if waiting:
            parts.append(f"{waiting} waiting")
        if counts.get("error"):
            parts.append(f"{counts['error']} could not be read")
        return " · ".join(parts)

    def _on_collection_shown(self, _index: int) -> None:
        self._show_rows()
        self._show_count()

    def _show_count(self) -> None:
        self.count_label.setText(self.count_text())

    def _show_rows(self) -> None:
        collection = self.current_collection()
        selected = set(self.selected_paths())  # kept across the re-reads made while indexing
        self.files.clear()
        for row in self.rows:
            if row.collection != collection:
                continue
            status = STATUS_LABELS.get(row.status, row.status)
            if row.status in ("queued", "indexing"):  # its own pages, while it is the file being indexed
                status = self.file_status.get((row.collection, row.path), status)
            item = QTreeWidgetItem(
                [
                    Path(row.path).name,
                    status,
                    str(row.page_count or ""),
                    " ".join(x for x in (row.message, row.hint) if x) if row.status == "error" else "",
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, row.path)
            tip = row.path + (f"\n\n{row.message}\n{row.hint}" if row.status == "error" else "")
            for col in range(4):
                item.setToolTip(col, tip)
            if row.status == "error":
                item.setForeground(1, QColor(theme.current.danger))
            self.files.addTopLevelItem(item)
            if row.path in selected:
                item.setSelected(True)
        for col in (0, 1, 2):
            self.files.resizeColumnToContents(col)
        self._show_details()

    def _show_details(self) -> None:
        paths = set(self.selected_paths())
        rows = [r for r in self.rows if r.path in paths and r.collection == self.current_collection()]
        if len(rows) != 1:
            self.details.setVisible(False)
            return
        row = rows[0]
        lines = [f"<b>{_esc(Path(row.path).name)}</b> — {STATUS_LABELS.get(row.status, row.status)}"]
        if row.status == "error":
            lines.append(_esc(row.message))
            if row.hint:
                lines.append(f"<i>{_esc(row.hint)}</i>")
        lines.append(f"<small>{_esc(row.path)}</small>")
        self.details.setText("<br>".join(lines))
        self.details.setVisible(True)

    def status_of(self, name: str) -> str:
        return next((r.status for r in self.rows if Path(r.path).name == name), "")

    # -- which collections the chat asks

    def set_asked(self, asked: tuple[str, ...]) -> None:
        self._asked = tuple(asked)
        self._filling = True
        self.asked.clear()
        for name in self.collections or [DEFAULT_COLLECTION]:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in self._asked else Qt.CheckState.Unchecked)
            self.asked.addItem(item)
        rows = max(1, self.asked.count())
        self.asked.setFixedHeight(min(4, rows) * max(24, self.asked.sizeHintForRow(0)) + 10)
        self._filling = False

    def _on_asked_changed(self, _item: QListWidgetItem) -> None:
        if self._filling:
            return
        names = [self.asked.item(i) for i in range(self.asked.count())]
        self._asked = tuple(i.text() for i in names if i.checkState() == Qt.CheckState.Checked)
        emit(self.asked_changed, self._asked)

    # -- changing

    def add_files(self) -> None:
        from desktop.services import readers

        paths, _ = QFileDialog.getOpenFileNames(self, "Add documents", "", readers.file_dialog_filters())
        if paths:
            self.add([Path(p) for p in paths])

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of documents")
        if folder:
            self.add([Path(folder)])

    def new_collection(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name of the new collection:")
        name = name.strip()
        if ok and name:
            if name not in self.collections:
                self.collections.append(name)
                self.collection.addItem(name)
            self.collection.setCurrentText(name)

    def remove_collection(self, name: str | None = None, confirm: bool = True) -> JobHandle | None:
        """Delete a whole collection (its files leave the library; the PDFs stay on disk), after asking."""
        name = name or self.current_collection()
        if self._index is not None and not self._index.done:
            messages.error(
                f"The collection “{name}” cannot be deleted while files are being indexed.",
                "Wait for indexing to finish, or press Stop, then try again.",
            )
            return None
        count = sum(1 for r in self.rows if r.collection == name)
        if confirm:
            from PySide6.QtWidgets import QMessageBox

            what = f" and its {count} file(s)" if count else ""
            answer = QMessageBox.question(
                self,
                "Delete collection",
                f"Delete the collection “{name}”{what} from the library?\n\n"
                "The PDF files themselves stay where they are on disk. This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,  # Enter keeps the collection
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None

        def removed(_result: Any) -> None:
            self.collections = [c for c in self.collections if c != name]
            self._stored_collections.discard(name)
            if name in self._asked:  # the open chat can no longer ask it
                self._asked = tuple(c for c in self._asked if c != name)
                emit(self.asked_changed, self._asked)
            messages.info(f"Deleted the collection “{name}”.")
            if name != DEFAULT_COLLECTION:  # the default one is always listed (empty now)
                self.collection.removeItem(self.collection.findText(name))
            self.collection.setCurrentText(DEFAULT_COLLECTION)
            self.refresh()
            emit(self.collection_removed, name)

        if name not in self._stored_collections:  # made with New… and never filled: nothing is stored
            removed(None)
            return None
        return self.session.library_call(
            lambda lib: lib.remove_collection(name), on_succeeded=removed, on_failed=self._on_error
        )

    def offer_to_add(self, paths: list[Path]) -> None:
        """Several files or a folder were dropped: ask, inline, whether to add them."""
        self._offer = list(paths)
        what = f"{len(paths)} items" if len(paths) > 1 else paths[0].name
        self.offer_label.setText(f"Add {what} to the collection “{self.current_collection()}”?")
        self.offer.setVisible(True)

    def accept_offer(self) -> None:
        paths, self._offer = self._offer, []
        self.offer.setVisible(False)
        if paths:
            self.add(paths)

    def dismiss_offer(self) -> None:
        self._offer = []
        self.offer.setVisible(False)

    def add(self, paths: list[Path], collection: str | None = None) -> JobHandle:
        """Add files or folders to a collection and index them (queued behind any indexing running)."""
        target = collection or self.current_collection()
        return self._start_index(lambda lib: lib.add_job([str(p) for p in paths], target), "Adding")

    def remove(self) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        target = self.current_collection()
        self.session.library_call(
            lambda lib: lib.remove(paths, target),
            on_succeeded=lambda _n: self.refresh(),
            on_failed=self._on_error,
        )

    def reindex(self, paths: list[str] | None = None) -> JobHandle | None:
        """Read the selected files again from disk (after fixing a file, say), changed or not:
        text, passages and vectors are recomputed (Library.reindex_job); failed files are retried."""
        paths = paths if paths is not None else self.selected_paths()
        if not paths:
            return None
        target = self.current_collection()
        return self._start_index(lambda lib: lib.reindex_job(paths, target), "Re-indexing")

    def summarize_selected(self) -> bool:
        """Ask for a summary of the one selected file; a clear message for anything else."""
        rows = self.files.selectedItems()
        if len(rows) != 1:
            messages.info("Select one file to summarize.")
            return False
        path = str(rows[0].data(0, Qt.ItemDataRole.UserRole))
        if self.status_of(rows[0].text(0)) != "ready":
            messages.info(f"{rows[0].text(0)} is not ready: only a file Hearth could read can be summarized.")
            return False
        emit(self.summarize_requested, path)
        return True

    def resume(self) -> JobHandle:
        """Finish what an earlier run left queued (at start, when a library exists)."""
        return self._start_index(lambda lib: lib.resume_job(), "Resuming")

    def selected_paths(self) -> list[str]:
        return [str(i.data(0, Qt.ItemDataRole.UserRole)) for i in self.files.selectedItems()]

    def select(self, names: list[str]) -> None:
        for i in range(self.files.topLevelItemCount()):
            item = self.files.topLevelItem(i)
            if item is not None:
                item.setSelected(item.text(0) in names)

    def cancel_indexing(self) -> None:
        if self._index is not None and not self._index.done:
            self._index.cancel()

    def _start_index(self, make: Any, verb: str) -> JobHandle:
        job = self.session.library_job(make)
        handle = self.session.runner.create("index", job, name="index")
        handle.progressed.connect(self._on_index_event)
        handle.succeeded.connect(self._on_indexed)
        handle.failed.connect(lambda e: self._index_done("failed", e))
        handle.cancelled.connect(lambda: self._index_done("cancelled"))
        self._index = handle
        self._set_indexing(True, f"{verb}…")
        return handle.start()

    def _on_index_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            self._track_file(event)
            self.progress.setMaximum(max(1, event.total))
            self.progress.setValue(event.done)
            eta = f", about {format_eta(event.eta_s)} left" if event.eta_s else ""
            unit = f" {event.unit}" if event.unit else ""
            self.progress_label.setText(f"{event.label} — {event.done}/{event.total}{unit}{eta}")
            if time.monotonic() - self._last_refresh > REFRESH_EVERY_S:
                self.refresh()  # runs between the lane's batches: statuses move while it indexes
        elif isinstance(event, Notice):
            messages.info(event.message)

    def _track_file(self, event: Progress) -> None:
        """The row being indexed shows its own pages: FileProgress names the file (path, collection);
        its `done` counts the whole run, so the file's share is what the run did since the file began."""
        path, collection = getattr(event, "path", ""), getattr(event, "collection", "")
        if not path or event.unit != "pages":
            return
        if self._file is None or self._file[:2] != (collection, path):
            self._finish_file()
            self._file = (collection, path, event.done)
        # The event carries the file's page count once it is read; before that, the row may have it.
        pages = int(getattr(event, "pages", 0) or 0)
        if not pages:
            row = next((r for r in self.rows if r.path == path and r.collection == collection), None)
            pages = int(row.page_count or 0) if row is not None else 0
        done = max(0, event.done - self._file[2])
        done = min(done, pages) if pages else done
        if not pages and time.monotonic() - self._last_refresh > 0.2:
            self.refresh()  # its page count is stored once it has been read: fetch it soon
        text = f"indexing {done}/{pages} pages" if pages else "indexing…"
        self.file_status[(collection, path)] = text
        self._set_row_status(collection, path, text)
        emit(self.file_progress, path, done, pages)

    def _finish_file(self) -> None:
        if self._file is not None:
            self.file_status.pop(self._file[:2], None)
            self._file = None

    def _set_row_status(self, collection: str, path: str, text: str) -> None:
        if collection != self.current_collection():
            return
        for i in range(self.files.topLevelItemCount()):
            item = self.files.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == path:
                item.setText(1, text)
                self.files.resizeColumnToContents(1)
                return

    def row_status_text(self, name: str) -> str:
        """What the Status column shows for the file named `name` (tests read it)."""
        for i in range(self.files.topLevelItemCount()):
            item = self.files.topLevelItem(i)
            if item is not None and item.text(0) == name:
                return item.text(1)
        return ""

    def _on_indexed(self, result: Any) -> None:
        """The run's own outcome; the library's totals come from the store (count_label)."""
        failed = len(getattr(result, "failed", []))
        self._index_done("succeeded")
        self.progress_label.setText(
            "Done." + (f" {failed} file(s) could not be read: select one to see why." if failed else "")
        )

    def _index_done(self, outcome: str, error: Any = None) -> None:
        self._finish_file()
        self._set_indexing(False, "Stopped." if outcome == "cancelled" else "")
        if error is not None:
            self._on_error(error)
        self.refresh()
        emit(self.indexing_finished, outcome)

    def _set_indexing(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress event says how much
        self.progress_label.setText(text)

    def _on_error(self, error: Any) -> None:
        if isinstance(error, AppError):
            messages.app_error(error)
        else:
            messages.bug("A library task failed because of a bug.", getattr(error, "details", repr(error)))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

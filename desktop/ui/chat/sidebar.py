"""The conversations sidebar: search, create, rename (double-click or F2), export and delete chats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import AppError
from desktop.ui import messages
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:
    from desktop.services.chats import ChatStore

CHAT_ID = Qt.ItemDataRole.UserRole


class ConversationList(QWidget):
    """Lists the store's chats, newest first. It reads and writes the store on the GUI thread.

    Signals (GUI thread):
        chat_selected(int)   the user picked a chat
        new_requested()      "New chat" was pressed
        chat_deleted(int)    a chat was deleted (after confirmation)
    """

    chat_selected = Signal(int)
    new_requested = Signal()
    chat_deleted = Signal(int)

    def __init__(self, store: Callable[[], ChatStore], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store  # asked each time: the store is opened late and replaced by "delete all"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats (Ctrl+F)")
        self.search.setAccessibleName("Search chats")
        self.search.setClearButtonEnabled(True)
        for button in self.search.findChildren(QToolButton):  # Qt's own clear button has no name
            button.setAccessibleName("Clear search")
        self.search.textChanged.connect(lambda _t: self.refresh())
        top.addWidget(self.search, 1)
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.setAccessibleName("New chat")
        self.new_button.clicked.connect(self.new_requested)
        top.addWidget(self.new_button)
        layout.addLayout(top)

        self.list = QListWidget()
        self.list.setAccessibleName("Chats")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_renamed)
        layout.addWidget(self.list, 1)
        self._current: int | None = None
        self._refreshing = False

    @property
    def store(self) -> ChatStore:
        return self._store()

    def refresh(self, select: int | None = None) -> None:
        if select is not None:
            self._current = select
        self._refreshing = True
        try:
            self.list.clear()
            for chat in self.store.chats(self.search.text()):
                item = QListWidgetItem(chat.title)
                item.setData(CHAT_ID, chat.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setToolTip(chat.title + (f"\nModel: {chat.model}" if chat.model else ""))
                self.list.addItem(item)
                if chat.id == self._current:
                    self.list.setCurrentItem(item)
        finally:
            self._refreshing = False

    def current_chat(self) -> int | None:
        return self._current

    def _on_current(self, item: QListWidgetItem | None, _prev: object) -> None:
        if self._refreshing or item is None:
            return
        chat_id = int(item.data(CHAT_ID))
        if chat_id != self._current:
            self._current = chat_id
            emit(self.chat_selected, chat_id)

    def _on_renamed(self, item: QListWidgetItem) -> None:
        if self._refreshing:
            return
        try:
            self.store.rename(int(item.data(CHAT_ID)), item.text())
        except AppError as exc:
            messages.app_error(exc)

    def rename_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def delete_chat(self, chat_id: int, confirm: bool = True) -> None:
        title = self.store.chat(chat_id).title
        if confirm:
            from PySide6.QtWidgets import QMessageBox

            answer = QMessageBox.question(
                self, "Delete chat", f"Delete “{title}” and all its messages? This cannot be undone."
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.store.delete_chat(chat_id)
        if self._current == chat_id:
            self._current = None
        self.refresh()
        emit(self.chat_deleted, chat_id)

    def export_chat(self, chat_id: int) -> None:
        chat = self.store.chat(chat_id)
        import json

        from PySide6.QtWidgets import QFileDialog

        path, chosen = QFileDialog.getSaveFileName(
            self, "Export chat", f"{chat.title}.md", "Markdown (*.md);;JSON (*.json)"
        )
        if not path:
            return
        try:
            if path.endswith(".json") or chosen.startswith("JSON"):
                text = json.dumps(self.store.export_json(chat_id), indent=2, ensure_ascii=False)
            else:
                text = self.store.export_markdown(chat_id)
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            messages.error(f"Could not write {path}.", str(exc))
        else:
            messages.info(f"Exported “{chat.title}” to {path}.")

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        chat_id = int(item.data(CHAT_ID))
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction("Export…", lambda: self.export_chat(chat_id))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.delete_chat(chat_id))
        menu.exec(self.list.mapToGlobal(pos))

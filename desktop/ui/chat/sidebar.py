"""The conversations sidebar: search, create, rename (double-click or F2), export and delete chats.

Chats are listed newest first under "Today", "Previous 7 days" and "Earlier" headings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import AppError
from desktop.ui import icons, messages
from desktop.ui.lazy_qt import Qt, set_by_name
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QListWidgetItem

    from desktop.services.chats import ChatStore

CHAT_ID = 0x0100  # Qt.ItemDataRole.UserRole, as the int item roles are: no enum built at import


class ConversationList(QFrame):  # a frame paints its style sheet background
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
        self.setObjectName("sidebar")
        self.setMinimumWidth(170)
        self._store = store  # asked each time: the store is opened late and replaced by "delete all"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        top = QHBoxLayout()
        top.setSpacing(4)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats (Ctrl+F)")
        self.search.setAccessibleName("Search chats")
        self.search.textChanged.connect(lambda _t: self.refresh())
        top.addWidget(self.search, 1)
        self.new_button = QToolButton()
        self.new_button.setIcon(icons.icon("new_chat"))
        self.new_button.setIconSize(QSize(18, 18))
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.new_button.setAccessibleName("New chat")
        set_by_name(self.new_button, "focusPolicy", "StrongFocus")
        self.new_button.clicked.connect(self.new_requested)
        top.addWidget(self.new_button)
        layout.addLayout(top)

        self.list = QListWidget()
        self.list.setAccessibleName("Chats")
        set_by_name(self.list, "horizontalScrollBarPolicy", "ScrollBarAlwaysOff")
        set_by_name(self.list, "textElideMode", "ElideRight")
        set_by_name(self.list, "contextMenuPolicy", "CustomContextMenu")
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemClicked.connect(self._on_clicked)
        self.list.itemChanged.connect(self._on_renamed)
        layout.addWidget(self.list, 1)
        self._current: int | None = None
        self._refreshing = False

    def finish(self) -> None:
        """After the first frame: the search box's clear button, which shows only once there is
        text (made now, it would load its icon before the first frame)."""
        self.search.setClearButtonEnabled(True)
        for button in self.search.findChildren(QToolButton):  # Qt's own clear button has no name
            button.setAccessibleName("Clear search")

    @property
    def store(self) -> ChatStore:
        return self._store()

    def refresh(self, select: int | None = None) -> None:
        from PySide6.QtWidgets import QListWidgetItem  # after the first frame: the list is empty in it

        if select is not None:
            self._current = select
        self._refreshing = True
        try:
            self.list.clear()
            group = ""
            now = time.time()
            for chat in self.store.chats(self.search.text()):
                heading = age_group(chat.updated, now)
                if heading != group:
                    group = heading
                    head = QListWidgetItem(heading)
                    head.setFlags(Qt.ItemFlag.NoItemFlags)  # a heading: not selectable, not a chat
                    font = head.font()
                    font.setBold(True)
                    font.setPointSizeF(font.pointSizeF() * 0.85)
                    head.setFont(font)
                    self.list.addItem(head)
                item = QListWidgetItem(chat.title)
                item.setData(CHAT_ID, chat.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                when = time.strftime("%d %b %Y, %H:%M", time.localtime(chat.updated))
                item.setToolTip(
                    chat.title + f"\nLast message: {when}" + (f"\nModel: {chat.model}" if chat.model else "")
                )
                self.list.addItem(item)
                if chat.id == self._current:
                    self.list.setCurrentItem(item)
        finally:
            self._refreshing = False

    def chat_items(self) -> list[QListWidgetItem]:
        """The listed chats (not the headings), top to bottom."""
        items = [self.list.item(i) for i in range(self.list.count())]
        return [i for i in items if i is not None and i.data(CHAT_ID) is not None]

    def clear_current(self) -> None:
        """No chat is open (a new one is being written): nothing stays selected, and clicking the
        chat that was open opens it again."""
        self._current = None
        self._refreshing = True
        try:
            self.list.setCurrentRow(-1)
            self.list.clearSelection()
        finally:
            self._refreshing = False

    def current_chat(self) -> int | None:
        return self._current

    def _on_current(self, item: QListWidgetItem | None, _prev: object) -> None:
        if self._refreshing or item is None or item.data(CHAT_ID) is None:
            return
        chat_id = int(item.data(CHAT_ID))
        if chat_id != self._current:
            self._current = chat_id
            emit(self.chat_selected, chat_id)

    def _on_clicked(self, item: QListWidgetItem) -> None:
        if item.data(CHAT_ID) is not None and int(item.data(CHAT_ID)) != self._current:
            self._on_current(item, None)

    def _on_renamed(self, item: QListWidgetItem) -> None:
        if self._refreshing or item.data(CHAT_ID) is None:
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

            buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
            answer = QMessageBox.question(
                self,
                "Delete chat",
                f"Delete “{title}” and all its messages? This cannot be undone.",
                buttons,
                QMessageBox.StandardButton.No,  # Enter keeps the chat
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
        if item is None or item.data(CHAT_ID) is None:
            return
        chat_id = int(item.data(CHAT_ID))
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction("Export…", lambda: self.export_chat(chat_id))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.delete_chat(chat_id))
        menu.exec(self.list.mapToGlobal(pos))


def age_group(updated: float, now: float) -> str:
    """The heading a chat last used at `updated` is listed under."""
    today = time.localtime(now)
    midnight = time.mktime((today.tm_year, today.tm_mon, today.tm_mday, 0, 0, 0, 0, 0, -1))
    if updated >= midnight:
        return "Today"
    if updated >= midnight - 6 * 86400:
        return "Previous 7 days"
    return "Earlier"

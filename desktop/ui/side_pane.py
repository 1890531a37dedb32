"""The side pane: the library and the open document, as tabs beside the chat.

Its own module: the window builds it when the library or a document is first shown, so its module
(and PySide6's QTabWidget type) is not loaded for the first frame.
"""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from desktop.ui import icons
from desktop.ui.lazy_qt import Qt

SIDE_MIN = 300  # the side pane's narrowest (library, document)


class SidePane(QTabWidget):
    """The library and the open document, as tabs beside the chat. Hidden when it holds neither."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidePane")
        self.setAccessibleName("Side pane")
        self.setDocumentMode(True)
        self.setMinimumWidth(SIDE_MIN)
        self.tabBar().setAccessibleName("Side pane tabs")
        self.tabBar().setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setVisible(False)

    def show_page(self, page: QWidget, title: str, icon: str) -> None:
        if self.indexOf(page) < 0:
            self.addTab(page, icons.icon(icon), title)
        self.setTabText(self.indexOf(page), title)
        self.setCurrentWidget(page)
        self.setVisible(True)

    def hide_page(self, page: QWidget) -> None:
        index = self.indexOf(page)
        if index >= 0:
            self.removeTab(index)
        if self.count() == 0:
            self.setVisible(False)

    def showing(self, page: QWidget | None) -> bool:
        return page is not None and self.isVisible() and self.currentWidget() is page

"""Defects a new user met (issue 8), each pinned: chips wrap, safe defaults, the cursor's place,
the last chat reopened, dark-theme checkboxes and focus outlines that can be seen."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.events import Sources, Token
from desktop.ui.privacy.panel import PrivacyDialog
from desktop.ui.theme import apply_theme


def citation(n: int, page: int = 1, used: bool = True) -> dict[str, Any]:
    return {
        "n": n,
        "doc_id": f"sha{n}",
        "title": f"Quarterly report of a company with a long name {n}",
        "path": f"/nowhere/report_{n}.pdf",
        "page": page,
        "snippet": f"Total net sales $ {n},797 million",
        "quote": f"Total net sales $ {n},797",
        "used": used,
    }


def cited_answer_factory(citations: list[dict[str, Any]], text: str) -> Any:
    """An answer job that shows `citations` first, then streams `text` (like rag.ask_job)."""
    from desktop.core.types import Answer, Citation

    cites = tuple(Citation(**c) for c in citations)

    def factory(session: Any, collections: Any, history: Any) -> Any:
        def job(cancel: Any) -> Generator[Any, None, Any]:
            yield Sources(cites)
            for word in text.split(" "):
                yield Token(word + " ")
            return Answer(text, cites)

        return job

    return factory


def ask(qtbot: Any, window: Any, question: str) -> None:
    with qtbot.waitSignal(window.chat.answer_finished, timeout=20_000) as done:
        window.chat.ask(question)
    assert done.args == ["succeeded"]


# -- chips


def test_eight_source_chips_wrap_without_a_horizontal_scrollbar_at_800x600(
    qtbot: Any, make_window: Any
) -> None:
    window = make_window()
    window.resize(800, 600)
    cites = [citation(n, page=n + 2) for n in range(1, 9)]
    window.chat.answer_job_factory = cited_answer_factory(cites, "Net sales were $81,797 million [1].")
    ask(qtbot, window, "What were net sales?")
    qtbot.wait(50)  # the layout settles
    view = window.chat.view
    answer = view.messages()[-1]
    assert len(answer.chip_buttons()) == 8
    assert not view.scroll_area.horizontalScrollBar().isVisible()
    viewport = view.scroll_area.viewport().width()
    for message in view.messages():
        assert message.width() <= viewport, (message.width(), viewport)
    right = max(c.geometry().right() for c in answer.chip_buttons())
    assert right <= answer.chips.width(), "chips flow onto new lines inside the message"
    rows = {c.geometry().top() for c in answer.chip_buttons()}
    assert len(rows) > 1


def test_chips_mark_the_sources_the_answer_used(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    cites = [citation(1), citation(2, used=False)]
    window.chat.answer_job_factory = cited_answer_factory(cites, "It was $1,797 [1].")
    ask(qtbot, window, "How much?")
    first, second = window.chat.view.messages()[-1].chip_buttons()
    assert first.property("used") is True and second.property("used") is False
    assert "used in the answer" in first.accessibleName()
    assert "not used" in second.accessibleName()


# -- safe defaults


def test_enter_in_the_privacy_panel_never_deletes_data(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    asked: list[bool] = []
    monkeypatch.setattr(PrivacyDialog, "confirm_delete", lambda self: asked.append(True))
    dialog = PrivacyDialog(window.session, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.delete_button.autoDefault() and not dialog.delete_button.isDefault()
    assert dialog.focusWidget() is not dialog.delete_button
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.keyClick(dialog, Qt.Key.Key_Enter)
    dialog.delete_button.setFocus()  # even with the focus on it, Enter does not press it
    qtbot.keyClick(dialog.delete_button, Qt.Key.Key_Return)
    assert asked == []


def test_the_delete_confirmation_defaults_to_cancel_and_enter_keeps_the_data(
    qtbot: Any, make_window: Any
) -> None:
    window = make_window()
    dialog = PrivacyDialog(window.session, window)
    qtbot.addWidget(dialog)
    deleted: list[bool] = []
    dialog.data_deleted.connect(lambda: deleted.append(True))
    seen: dict[str, Any] = {}

    def press_enter() -> None:
        boxes = [b for b in dialog.findChildren(QMessageBox) if b.isVisible()]
        if not boxes:
            QTimer.singleShot(50, press_enter)
            return
        box = boxes[0]
        try:
            seen["default"] = box.defaultButton().text() if box.defaultButton() else ""
            seen["escape"] = box.escapeButton() is box.defaultButton()
            qtbot.keyClick(box, Qt.Key.Key_Return)
        finally:
            if box.isVisible():  # never leave a modal box open: the test would hang
                box.done(0)

    QTimer.singleShot(50, press_enter)
    dialog.confirm_delete()
    assert seen == {"default": "Cancel", "escape": True}
    assert deleted == []


def test_deleting_a_chat_asks_with_no_as_the_default(
    qtbot: Any, make_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    ask(qtbot, window, "keep me")
    defaults: list[Any] = []

    def question(_parent: Any, _title: str, _text: str, buttons: Any = None, default: Any = None) -> Any:
        defaults.append(default)
        return default

    monkeypatch.setattr(QMessageBox, "question", question)
    window.chat.sidebar.delete_chat(window.chat.chat_id)
    assert defaults == [QMessageBox.StandardButton.No]
    assert len(window.chat.store.chats()) == 1


# -- where the user starts


def test_the_cursor_starts_in_the_message_box(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window.focusWidget() is window.chat.view.composer, timeout=3000)


def test_the_window_reopens_on_the_last_chat(qtbot: Any, make_window: Any) -> None:
    first = make_window()
    ask(qtbot, first, "first chat")
    first.chat.new_chat()
    ask(qtbot, first, "the chat I was reading")
    last = first.chat.chat_id
    first.close()
    second = make_window()
    qtbot.waitUntil(lambda: second.chat.chat_id == last, timeout=3000)
    assert second.chat.view.messages()[0].text == "the chat I was reading"
    assert not second.chat.view.welcome.isVisibleTo(second)
    assert second.focusWidget() is second.chat.view.composer


def test_a_new_chat_left_open_reopens_as_a_new_chat(qtbot: Any, make_window: Any) -> None:
    first = make_window()
    ask(qtbot, first, "old chat")
    first.chat.new_chat()
    first.close()
    second = make_window()
    qtbot.wait(100)
    assert second.chat.chat_id is None


# -- dark theme: contrast a user can see (WCAG 2.2: 3:1 for controls and focus indicators)


def luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def best_contrast(image: QImage, against: QColor, x0: int, y0: int, x1: int, y1: int) -> float:
    return max(
        contrast(image.pixelColor(x, y), against)
        for x in range(max(0, x0), min(image.width(), x1))
        for y in range(max(0, y0), min(image.height(), y1))
    )


@pytest.fixture(params=["dark", "light"])
def themed(request: pytest.FixtureRequest) -> Iterator[str]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    palette, sheet = app.palette(), app.styleSheet()
    apply_theme(app, request.param)
    yield request.param
    app.setStyleSheet(sheet)
    app.setPalette(palette)


def test_unticked_checkboxes_are_visible(qtbot: Any, themed: str) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    box = QCheckBox()
    box.setAccessibleName("A setting")
    listed = QListWidget()
    listed.setAccessibleName("Collections")
    item = QListWidgetItem("default")
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Unchecked)
    listed.addItem(item)
    layout.addWidget(box)
    layout.addWidget(listed)
    host.resize(240, 160)
    host.show()
    qtbot.waitExposed(host)
    shot = box.grab().toImage()
    background = shot.pixelColor(shot.width() - 2, shot.height() // 2)
    assert best_contrast(shot, background, 0, 0, 24, shot.height()) >= 3.0, themed
    rows = listed.viewport().grab().toImage()
    rect = listed.visualItemRect(item)
    base = rows.pixelColor(rows.width() - 3, rect.center().y())
    assert best_contrast(rows, base, rect.left(), rect.top(), rect.left() + 26, rect.bottom()) >= 3.0, themed


def focus_ring(qtbot: Any, widget: QWidget, other: QWidget) -> tuple[int, int]:
    """(pixels whose colour changes by 3:1 or more when `widget` gets the focus, its perimeter)."""
    other.setFocus()
    qtbot.waitUntil(lambda: other.hasFocus(), timeout=2000)
    before = widget.grab().toImage()
    widget.setFocus()
    qtbot.waitUntil(lambda: widget.hasFocus(), timeout=2000)
    after = widget.grab().toImage()
    changed = sum(
        1
        for x in range(before.width())
        for y in range(before.height())
        if contrast(before.pixelColor(x, y), after.pixelColor(x, y)) >= 3.0
    )
    return changed, 2 * (widget.width() + widget.height())


def test_focus_outlines_are_visible(qtbot: Any, themed: str) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    edit, button, listed = QLineEdit(), QPushButton("Send"), QListWidget()
    for w, name in ((edit, "Edit"), (button, "Button"), (listed, "List")):
        w.setAccessibleName(name)
        layout.addWidget(w)
    listed.addItem("one")
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    qtbot.waitActive(host)
    for widget, other in ((edit, button), (button, edit), (listed, edit)):
        changed, perimeter = focus_ring(qtbot, widget, other)
        # a ring one pixel thick all round, changing by 3:1 (rounded corners trim a few pixels)
        assert changed >= 0.9 * perimeter, (themed, type(widget).__name__, changed, perimeter)

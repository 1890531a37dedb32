"""Side by side in the window: "Compare with…" on an answer asks another model the same question.

The second model runs in a runtime of its own, on the `llm` lane after the first answer has
finished (one model decodes at a time), and is closed as soon as it has answered, so its memory
comes back. Its answer streams into a pane beside the first answer (under it when the message is
narrow), each pane with its model's name and stats. Stop cancels it; a new question does too.

The turn stays one message (services/chats.py `add_comparison`): its text is the chosen answer,
the one the next question's history carries; "Use this answer" on a pane makes that one chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import AppError
from desktop.core.events import Event, Notice, Progress, Sources
from desktop.core.jobs import CancelToken
from desktop.ui import messages
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:
    from desktop.ui.chat.message_view import MessageWidget
    from desktop.ui.chat.panel import ChatPanel
    from desktop.ui.jobs import JobHandle
    from desktop.ui.session import RuntimeFactory

log = logging.getLogger("desktop.ui.chat")

BESIDE_MIN_WIDTH = 600  # a message narrower than this shows the answers one under the other
CHOSEN = "the chat continues from this answer"
# The theme's colours through the palette it sets (ui/theme.py): a quiet frame, the chosen one in accent.
PANE_STYLE = (
    "QFrame#comparePane { border: 1px solid palette(mid); border-radius: 8px; }"
    'QFrame#comparePane[chosen="true"] { border: 1px solid palette(highlight); }'
)


class AnswerPane(QFrame):
    """One model's answer in a comparison: its name, the text, its stats; "Use this answer".
    Signal chosen() on the GUI thread."""

    chosen = Signal()

    def __init__(self, model: str, parent: QWidget | None = None) -> None:
        from desktop.ui.chat.message_view import MarkdownView

        super().__init__(parent)
        self.setObjectName("comparePane")
        self.model = model
        self.text = ""
        self.citations: list[dict[str, Any]] = []
        self.setAccessibleName(f"Answer by {model}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        head = QHBoxLayout()
        self.name = QLabel(model)
        self.name.setObjectName("messageWho")
        self.name.setWordWrap(True)
        self.name.setAccessibleName("Model")
        head.addWidget(self.name, 1)
        layout.addLayout(head)
        self.state = QLabel("")
        self.state.setObjectName("answerState")
        self.state.setAccessibleName("Answer state")
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        self.body = MarkdownView()
        self.body.setAccessibleName(f"Answer by {model}, text")
        layout.addWidget(self.body)
        self.sources = QLabel()
        self.sources.setObjectName("answerStats")
        self.sources.setWordWrap(True)
        self.sources.setAccessibleName("Sources")
        self.sources.setVisible(False)
        layout.addWidget(self.sources)
        self.stats_label = QLabel()
        self.stats_label.setObjectName("answerStats")
        self.stats_label.setWordWrap(True)
        self.stats_label.setAccessibleName("Answer statistics")
        self.stats_label.setVisible(False)
        layout.addWidget(self.stats_label)
        self.error = QLabel()
        self.error.setObjectName("inlineError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self.use_button = QPushButton("Use this answer")
        self.use_button.setObjectName("useAnswer")
        self.use_button.setToolTip(
            "Continue the chat from this answer (the next question sends it as the reply)"
        )
        self.use_button.setAccessibleName(f"Use the answer by {model}")
        self.use_button.setAutoDefault(False)
        self.use_button.clicked.connect(self.chosen)
        self.use_button.setVisible(False)
        layout.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def set_state(self, text: str) -> None:
        self.state.setText(text)
        self.state.setVisible(bool(text))

    def append(self, text: str) -> None:
        from desktop.ui.chat.markdown import close_open_fence

        self.text += text
        self.body.setMarkdown(close_open_fence(self.text))

    def set_sources(self, citations: list[dict[str, Any]]) -> None:
        self.citations = list(citations)
        shown = [f"[{c.get('n')}] {c.get('title') or 'Document'}, p. {c.get('page')}" for c in citations]
        self.sources.setText("Sources: " + "; ".join(shown) if shown else "")
        self.sources.setVisible(bool(shown))

    def finish(self, text: str, stats: dict[str, Any] | None, note: str = "") -> None:
        from desktop.ui.chat.message_view import stats_line

        self.text = text
        self.body.setMarkdown(text)
        self.set_state(note)
        stats = dict(stats or {})
        line = stats_line(stats)
        if stats.get("load_s"):
            line += f" · loaded in {float(stats['load_s']):.1f} s"
        self.stats_label.setText(line)
        self.stats_label.setVisible(bool(line))

    def show_error(self, message: str, hint: str = "") -> None:
        self.set_state("")
        self.error.setText(message + (f"\n{hint}" if hint else ""))
        self.error.setVisible(True)

    def set_chosen(self, chosen: bool, can_choose: bool) -> None:
        if self.property("chosen") != chosen:
            self.setProperty("chosen", chosen)
            self.style().unpolish(self)
            self.style().polish(self)
        self.use_button.setVisible(not chosen and can_choose)
        if chosen:
            self.set_state(CHOSEN)
        elif self.state.text() == CHOSEN:
            self.set_state("")


class CompareView(QWidget):
    """The answers of one turn: beside each other on a wide message, one under the other on a
    narrow one (a window of 800 px). Lives inside the answer's MessageWidget, in place of its text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setStyleSheet(PANE_STYLE)
        self.setAccessibleName("Answers side by side")
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(8)
        self.panes: list[AnswerPane] = []

    def add_pane(self, model: str) -> AnswerPane:
        pane = AnswerPane(model)
        self.box.addWidget(pane, 1)
        self.panes.append(pane)
        return pane

    def remove_pane(self, pane: AnswerPane) -> None:
        self.box.removeWidget(pane)
        self.panes.remove(pane)
        pane.deleteLater()

    @property
    def beside(self) -> bool:
        return self.box.direction() == QBoxLayout.Direction.LeftToRight

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._arrange(event.size().width())

    def _arrange(self, width: int) -> None:
        wanted = (
            QBoxLayout.Direction.LeftToRight
            if width >= BESIDE_MIN_WIDTH
            else QBoxLayout.Direction.TopToBottom
        )
        if self.box.direction() != wanted:
            self.box.setDirection(wanted)


def compare_view(widget: MessageWidget, create: bool = False) -> CompareView | None:
    """The comparison shown in an answer (created in place of its text when `create`)."""
    view = widget.findChild(CompareView)
    if view is None and create:
        view = CompareView(widget)
        layout = widget.layout()
        assert layout is not None
        layout.addWidget(view)
        widget.body.setVisible(False)
        widget.stats_label.setVisible(False)
        widget.chips.setVisible(False)
    return view


def model_choices(entries: list[Any], exclude: str) -> list[str]:
    """The models a comparison can ask: every usable one in the catalog except the answer's own."""
    return [e.name for e in entries if not getattr(e, "error", None) and e.name != exclude]


class Comparer(QObject):
    """Runs comparisons for the chat panel. Signals (GUI thread): started(JobHandle), finished(str)
    ("succeeded" | "failed" | "cancelled")."""

    started = Signal(object)
    finished = Signal(str)

    def __init__(self, panel: ChatPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.open_runtime: RuntimeFactory | None = None  # None: the planned runtime (tests pass theirs)
        self.list_models: Callable[[], list[Any]] | None = None  # None: services.models.list_models
        self.menu: QMenu | None = None
        self._handle: JobHandle | None = None
        self._settle_stop: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None and not self._handle.done

    def can_compare(self, widget: MessageWidget) -> bool:
        """On the last answer of a chat, when nothing is answering; not in the chat of an opened
        document (its answers come from that document, which a comparison does not search)."""
        from desktop.ui.chat.panel import document_of

        widgets = self.panel.view.messages()
        if not (
            widgets
            and widget is widgets[-1]
            and widget.role == "assistant"
            and not widget.page_links
            and widget.property("message_id") is not None
            and self.panel.chat_id is not None
            and not self.panel.answering
        ):
            return False
        try:
            return document_of(self.panel.store.messages(self.panel.chat_id)) is None
        except AppError:
            return False

    # -- choosing the second model

    def choose_model(self, widget: MessageWidget) -> None:
        """List the catalog's models (io lane), then offer them in a menu at the answer's button."""
        from desktop.services import models

        lister = self.list_models or (lambda: models.list_models())
        self.panel.session.runner.call(
            "io",
            lister,
            on_succeeded=lambda entries: self._offer(widget, entries),
            on_failed=lambda error: messages.app_error(error) if isinstance(error, AppError) else None,
        )

    def _offer(self, widget: MessageWidget, entries: list[Any]) -> None:
        if widget.property("removed"):
            return
        first = self.first_model()
        names = model_choices(entries, first)
        menu = QMenu(self.panel)
        menu.setAccessibleName("Compare with")
        menu.setToolTipsVisible(True)
        if not names:
            none = menu.addAction("No other model: import one from the model menu")
            none.setEnabled(False)
        for name in names:
            action = menu.addAction(name)
            action.setToolTip(f"Ask {name} the same question and show both answers")
            action.triggered.connect(lambda _=False, n=name: self.compare(widget, n))
        self.menu = menu
        button = widget.compare_button
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))

    def first_model(self) -> str:
        session = self.panel.session
        if session.model is not None:
            return session.model.name
        if self.panel.chat_id is not None:
            return self.panel.store.chat(self.panel.chat_id).model
        return ""

    # -- running it

    def compare(self, widget: MessageWidget, model: str) -> JobHandle | None:
        """Ask `model` the question `widget` answered; stream it into a pane beside the answer."""
        panel = self.panel
        message_id = widget.property("message_id")
        if panel.chat_id is None or message_id is None or panel.answering:
            return None
        chat_id, first = panel.chat_id, self.first_model()
        chat = panel.store.chat(chat_id)
        history = panel.store.history(chat_id)
        if history and history[-1].role == "assistant":
            history = history[:-1]  # the answer compared: the other model answers the same question
        view = compare_view(widget, create=True)
        assert view is not None
        if not view.panes:
            own = view.add_pane(first or "this model")
            own.finish(widget.text, widget.stats)
            own.set_sources(widget.citations)
        pane = view.add_pane(model)
        pane.set_state("starting…")
        self._wire(widget, view)
        self._show_choice(widget, view)
        job = self._job(model, tuple(history), tuple(chat.collections))
        handle = panel.session.runner.create("llm", job, name="compare", replaces="answer")
        handle.tokens.connect(lambda text: self._on_tokens(pane, text))
        handle.progressed.connect(lambda ev: self._on_event(pane, ev))
        handle.succeeded.connect(
            lambda r: self._on_succeeded(handle, widget, pane, int(message_id), first, r)
        )
        handle.failed.connect(lambda error: self._on_failed(handle, pane, error))
        settle = lambda: self._on_cancelled(handle, widget, pane, int(message_id), first)  # noqa: E731
        handle.cancelled.connect(settle)
        self._handle, self._settle_stop = handle, settle
        panel.view.set_busy(True)
        panel._update_actions()
        handle.start()
        emit(self.started, handle)
        return handle

    def _job(
        self, model: str, history: tuple[Any, ...], collections: tuple[str, ...]
    ) -> Callable[[CancelToken], Generator[Event, None, Any]]:
        from desktop.services.compare import model_answer
        from desktop.ui.session import open_planned_runtime

        session = self.panel.session
        settings = session.settings
        factory = self.open_runtime or open_planned_runtime

        def open_model(name: str) -> tuple[Any, str]:
            runtime, shown = factory(settings, name)
            return runtime, str(shown.get("name") or name)

        def job(cancel: CancelToken) -> Generator[Event, None, Any]:
            retriever = session.retriever(cancel) if collections else None
            run = model_answer(open_model, model, history, collections, settings, retriever=retriever)
            return (yield from run(cancel))

        return job

    def stop(self) -> None:
        """Stop the comparison now; what it said so far is kept, marked stopped."""
        handle = self._handle
        if handle is None or handle.done:
            return
        handle.cancel()
        if self._settle_stop is not None:
            self._settle_stop()  # settled now, as the panel's stop does (the job's late one is ignored)

    # -- events (GUI thread)

    def _on_tokens(self, pane: AnswerPane, text: str) -> None:
        if pane.state.text():
            pane.set_state("")
        pane.append(text)

    def _on_event(self, pane: AnswerPane, event: Any) -> None:
        if isinstance(event, Progress):
            pane.set_state(f"{event.label}…")
        elif isinstance(event, Sources):
            pane.set_sources([c.to_dict() for c in event.citations])
        elif isinstance(event, Notice):
            messages.post(
                messages.UserMessage("warning" if event.level == "warning" else "info", event.message)
            )

    def _on_succeeded(
        self,
        handle: JobHandle,
        widget: MessageWidget,
        pane: AnswerPane,
        message_id: int,
        first: str,
        result: Any,
    ) -> None:
        if handle is not self._handle:
            return
        pane.model = result.model
        pane.name.setText(result.model)
        pane.finish(result.text, result.stats)
        pane.set_sources(list(result.citations))
        self._keep(widget, message_id, first, result.to_entry())
        self._done("succeeded")

    def _on_cancelled(
        self, handle: JobHandle, widget: MessageWidget, pane: AnswerPane, message_id: int, first: str
    ) -> None:
        if handle is not self._handle:
            return
        if pane.text.strip():
            pane.finish(pane.text, None, "stopped")
            entry = {"model": pane.model, "text": pane.text, "stats": {}, "citations": [], "stopped": True}
            self._keep(widget, message_id, first, entry)
        else:
            view = compare_view(widget)
            if view is not None:
                view.remove_pane(pane)
                if len(view.panes) == 1 and widget.property("compared") is None:
                    self._unshow(widget, view)
        self._done("cancelled")

    def _on_failed(self, handle: JobHandle, pane: AnswerPane, error: Any) -> None:
        if handle is not self._handle:
            return
        if isinstance(error, AppError):
            pane.show_error(error.user_message, error.hint)
        else:
            pane.show_error("Something went wrong while answering.", "Hearth keeps running; see the details.")
            messages.bug("A comparison failed because of a bug.", getattr(error, "details", repr(error)))
        self._done("failed")

    def _done(self, outcome: str) -> None:
        self._handle = self._settle_stop = None
        self.panel.view.set_busy(False)
        self.panel._update_actions()
        emit(self.finished, outcome)

    def _keep(self, widget: MessageWidget, message_id: int, first: str, entry: dict[str, Any]) -> None:
        try:
            stored = self.panel.store.add_comparison(message_id, first, entry)
        except AppError as exc:
            messages.app_error(exc)
            return
        except KeyError:
            return  # the chat was deleted meanwhile
        widget.setProperty("compared", True)
        view = compare_view(widget)
        if view is not None:
            self._show_choice(widget, view, int(stored.meta.get("compare_chosen", 0)))

    # -- a stored comparison, and choosing the answer the chat continues from

    def show_stored(self, widget: MessageWidget, meta: dict[str, Any]) -> None:
        """An answer kept with a comparison (a chat reopened): its panes, as they were."""
        entries = list(meta.get("compare") or [])
        if len(entries) < 2:
            return
        view = compare_view(widget, create=True)
        assert view is not None
        for e in entries:
            pane = view.add_pane(str(e.get("model") or "Model"))
            if e.get("error"):
                pane.show_error(str(e["error"]))
            else:
                pane.finish(str(e.get("text") or ""), e.get("stats"), "stopped" if e.get("stopped") else "")
            pane.set_sources(list(e.get("citations") or []))
        widget.setProperty("compared", True)
        self._wire(widget, view)
        self._show_choice(widget, view, int(meta.get("compare_chosen", 0)))

    def _show_choice(self, widget: MessageWidget, view: CompareView, chosen: int = 0) -> None:
        compared = widget.property("compared") is not None
        for i, pane in enumerate(view.panes):
            pane.set_chosen(i == chosen, compared and not self.running and not pane.error.isVisible())

    def _wire(self, widget: MessageWidget, view: CompareView) -> None:
        for pane in view.panes:
            if not pane.property("wired"):
                pane.setProperty("wired", True)
                pane.chosen.connect(lambda p=pane: self.choose(widget, view.panes.index(p)))

    def choose(self, widget: MessageWidget, index: int) -> None:
        """The chat continues from answer `index`: it becomes the message's text (copy, history)."""
        message_id = widget.property("message_id")
        if message_id is None or self.running or self.panel.answering:
            return
        try:
            stored = self.panel.store.choose_answer(int(message_id), index)
        except (AppError, KeyError, IndexError) as exc:
            if isinstance(exc, AppError):
                messages.app_error(exc)
            return
        widget.citations = list(stored.meta.get("citations") or [])
        widget.text = stored.content
        widget.stats = dict(stored.meta.get("stats") or {})
        view = compare_view(widget)
        if view is not None:
            self._show_choice(widget, view, index)

    @staticmethod
    def _unshow(widget: MessageWidget, view: CompareView) -> None:
        for pane in list(view.panes):
            view.remove_pane(pane)
        layout = widget.layout()
        if layout is not None:
            layout.removeWidget(view)
        view.deleteLater()
        widget.body.setVisible(True)
        widget.finish(widget.stats)
        widget.chips.setVisible(bool(widget.citations))

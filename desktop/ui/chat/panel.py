"""The chat panel: ties the sidebar and the view to the chat store and to answer jobs on the llm lane.

One answer runs at a time (`replaces="answer"`): a new question, a regenerate or switching chats
cancels the one still streaming. Each answer is kept on disk while it streams (`StreamingAnswer`:
marked "interrupted" until it ends, so a kill or a power cut loses nothing shown); a stopped answer
keeps what the user saw, so the next turn has the context they read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QWidget

from desktop.core.errors import AppError
from desktop.core.jobs import CancelToken
from desktop.ui import messages
from desktop.ui.chat.sidebar import ConversationList
from desktop.ui.chat.view import ChatView
from desktop.ui.jobs import JobBug, JobHandle
from desktop.ui.models import chat_model
from desktop.ui.qtcompat import emit
from desktop.ui.session import Session

if TYPE_CHECKING:  # imported on first use: the first frame needs none of them
    from desktop.core.events import Event, Progress
    from desktop.core.types import ChatMessage
    from desktop.services.chats import ChatStore, StreamingAnswer
    from desktop.ui.chat.compare import Comparer
    from desktop.ui.chat.message_view import MessageWidget

log = logging.getLogger("desktop.ui.chat")

# (session, chat collections, history ending with the question[, document=path]) -> a job on the
# llm lane (`document` only in the chat of an opened document). chat_answer_job is the one.
AnswerJobFactory = Callable[..., Callable[[CancelToken], Generator["Event", None, Any]]]


MODEL_ALONE = "From the model alone, not your documents (no collection is ticked for this chat)."
# A document opened or dropped to summarize is added here when a question is first asked about it.
OPENED_COLLECTION = "Opened files"
INTERRUPTED = "interrupted: Hearth stopped before this answer was finished"


def chat_answer_job(
    session: Session,
    collections: tuple[str, ...],
    history: tuple[ChatMessage, ...],
    document: str | None = None,
) -> Callable[[CancelToken], Generator[Event, None, Any]]:
    """Plain chat; when the chat asks collections, a cited answer from them; in the chat of an
    opened document (`document`: its path), a cited answer from that document alone. The use cases
    are `hearth chat`'s and `hearth ask`'s (services/tasks.py); the evidence search runs in one
    call on the index lane."""

    def job(cancel: CancelToken) -> Generator[Event, None, Any]:
        from desktop.core.events import Notice, Progress
        from desktop.services import tasks

        runtime = session.require_runtime()  # on the llm lane, after the load job queued before it
        if not collections and document is None:
            return (yield from tasks.chat(runtime, history, session.settings)(cancel))
        retriever = session.retriever(cancel)
        asked, sha = collections, None
        if document is not None:
            name = Path(document).name
            yield Progress(0, 0, f"Reading {name} to answer from it")
            row = retriever.document(document, OPENED_COLLECTION)
            if row.collection == OPENED_COLLECTION and row.collection not in collections:
                yield Notice(
                    f"{name} is now in your library (collection “{OPENED_COLLECTION}”), so questions "
                    "about it are answered from its pages. Remove it there when you no longer need it."
                )
            asked, sha = (row.collection,), row.sha256
        answer = tasks.answer(
            runtime,
            retriever,
            history[-1].content,
            asked,
            session.settings,
            history=history[:-1],
            document=sha,
            gather=getattr(retriever, "gather", None),
        )
        return (yield from answer(cancel))

    return job


def document_of(messages: list[Any]) -> str | None:
    """The document a chat is about: the one its summary was made of (None for other chats)."""
    for m in messages:
        if m.role == "assistant" and m.meta.get("kind") == "summary" and m.meta.get("source"):
            return str(m.meta["source"])
    return None


class ChatPanel(QSplitter):
    """Sidebar + chat view.

    Signals (GUI thread):
        answer_started(JobHandle)  an answer job was started (tests and benchmarks time it)
        answer_finished(str)       "succeeded" | "failed" | "cancelled"
        open_source(dict)          a citation (chip or [n]) or page link was clicked: open the viewer
        chat_changed(tuple)        another chat (or a new one) is open; payload: the collections it asks
    """

    chat_changed = Signal(tuple)  # the open chat changed; payload: the collections it asks
    answer_started = Signal(object)
    answer_finished = Signal(str)
    open_source = Signal(dict)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)  # by keyword: a positional one is first tried as an orientation,
        # which builds Qt's enums before the first frame (desktop/ui/lazy_qt.py)
        self.session = session
        self.answer_job_factory: AnswerJobFactory = chat_answer_job
        self.sidebar = ConversationList(lambda: self.session.chats)
        self.view = ChatView()
        self.view.tab_before = self.sidebar.list  # Tab: the chat list, then the conversation
        self.addWidget(self.sidebar)
        self.addWidget(self.view)
        self.setChildrenCollapsible(False)
        self.setCollapsible(0, True)  # the chat list folds away on a narrow window; the chat never does
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        self.setSizes([230, 780])
        self.has_library = False  # a library exists: the composer says when a chat asks none of it
        self.chat_id: int | None = None
        self._answer: JobHandle | None = None
        self._answer_widget: MessageWidget | None = None
        self._answer_meta: dict[str, Any] = {}
        self.pending_collections: tuple[str, ...] = ()  # what the next new chat will ask
        self.summary_ranker: RankerFactory | None = default_ranker
        self._comparer: Comparer | None = None  # "Compare with…" (ui/chat/compare.py), made on first use

        self.sidebar.chat_selected.connect(self.open_chat)
        self.sidebar.new_requested.connect(self.new_chat)
        self.sidebar.chat_deleted.connect(self._on_deleted)
        self.view.send_requested.connect(self.ask)
        self.view.stop_requested.connect(self.stop)
        session.data_reset.connect(self._on_data_reset)

    @property
    def comparer(self) -> Comparer:
        """Side by side (ui/chat/compare.py), imported and made on first use: not before the first frame."""
        if self._comparer is None:
            from desktop.ui.chat.compare import Comparer

            self._comparer = Comparer(self)
        return self._comparer

    def load(self) -> None:
        """List the stored chats (opens chats.sqlite). The window calls it once it has painted."""
        self.sidebar.refresh()

    @property
    def store(self) -> ChatStore:
        return self.session.chats

    def _on_data_reset(self) -> None:
        self.new_chat()
        self.sidebar.refresh()

    # -- chats

    def new_chat(self) -> None:
        self.stop()
        self.chat_id = None
        self.view.clear()
        self.sidebar.clear_current()
        self.view.composer.setFocus()
        self._show_answer_source(self.pending_collections)
        emit(self.chat_changed, self.pending_collections)

    def open_chat(self, chat_id: int) -> None:
        self.stop()
        self.chat_id = chat_id
        self.view.clear()
        for m in self.store.messages(chat_id):
            if m.role == "system":
                continue
            w = self.view.add_message(m.role, page_links=m.meta.get("kind") == "summary")
            if m.meta.get("source"):
                w.setProperty("source_path", m.meta["source"])
            self._wire(w)
            w.setProperty("message_id", m.id)
            if m.meta.get("citations"):
                w.set_sources(m.meta["citations"])
            w.set_text(m.content)
            w.finish(m.meta.get("stats"), stored_note(m.meta))
            versions = m.meta.get("versions") or []
            if versions:
                w.set_versions(int(m.meta.get("version", len(versions) - 1)), len(versions))
            self.comparer.show_stored(w, m.meta)
        self._update_actions()
        self.view.scroll_to_bottom()
        self.sidebar.refresh(select=chat_id)
        chat = self.store.chat(chat_id)
        collections = tuple(chat.collections)
        self._show_answer_source(collections, document_of(self.store.messages(chat_id)))
        emit(self.chat_changed, collections)
        chat_model.follow(self.session, chat.model)  # its model (with its adapter), if another is loaded

    def _on_deleted(self, chat_id: int) -> None:
        if chat_id == self.chat_id:
            self.new_chat()

    def _ensure_chat(self, first_question: str, title: str = "") -> int:
        if self.chat_id is None:
            title = title or " ".join(first_question.split())[:48] or "New chat"
            model = self.session.model.name if self.session.model else str(self.session.settings["model"])
            chat = self.store.create_chat(
                title,
                model=model,
                system_prompt=str(self.session.settings["system_prompt"]),
                collections=self.pending_collections,
            )
            self.chat_id = chat.id
            self.sidebar.refresh(select=chat.id)
        return self.chat_id

    # -- asking

    def set_collections(self, collections: tuple[str, ...]) -> None:
        """The collections the open chat asks (kept with the chat), or the next new chat."""
        self.pending_collections = tuple(collections)
        self._show_answer_source(self.pending_collections)
        if self.chat_id is not None:
            try:
                self.store.set_collections(self.chat_id, collections)
            except AppError as exc:
                messages.app_error(exc)

    def _show_answer_source(self, collections: tuple[str, ...], document: str | None = None) -> None:
        if document is not None:
            self.view.set_answer_source(f"Answers from {Path(document).name}, with the pages cited.")
        elif collections:
            names = ", ".join(f"“{c}”" for c in collections)
            self.view.set_answer_source(f"Answers from your documents in {names}, with the pages cited.")
        elif self.has_library:
            self.view.set_answer_source(
                "Answers from the model alone: tick a collection in the Library to ask your documents."
            )
        else:
            self.view.set_answer_source("")

    def asked_collections(self) -> tuple[str, ...]:
        """The collections the open chat asks (or the next new chat will)."""
        if self.chat_id is None:
            return self.pending_collections
        return tuple(self.store.chat(self.chat_id).collections)

    @property
    def answering(self) -> bool:
        return (self._answer is not None and not self._answer.done) or (
            self._comparer is not None and self._comparer.running
        )

    def ask(self, question: str) -> JobHandle | None:
        """Store the question, show it, and stream an answer. A running answer is cancelled first."""
        question = question.strip()
        if not question:
            return None
        self.stop()
        try:
            chat_id = self._ensure_chat(question)
            self.store.add_message(chat_id, "user", question)
        except AppError as exc:
            messages.app_error(exc)
            return None
        self._wire(self.view.add_message("user", question))
        return self._start_answer()

    def regenerate(self) -> JobHandle | None:
        """Answer the last question again. The old answer is kept as a version (‹ 1/2 ›): the new
        one replaces it in the conversation, and the user can step back to it."""
        if self.chat_id is None:
            return None
        self.stop()
        stored = self.store.messages(self.chat_id)
        if not stored or stored[-1].role != "assistant":
            return self._start_answer() if stored and stored[-1].role == "user" else None
        old = stored[-1]
        versions = list(old.meta.get("versions") or [answer_version(old.content, old.meta)])
        self.store.delete_messages_from(self.chat_id, old.id)
        widgets = self.view.messages()
        if widgets and widgets[-1].role == "assistant":
            self.view.remove_message(widgets[-1])
            widgets[-1].setProperty("removed", True)
        return self._start_answer({"versions": versions})

    def show_version(self, widget: MessageWidget, index: int) -> None:
        """Show version `index` of a regenerated answer; it becomes the one the next turn sees."""
        message_id = widget.property("message_id")
        if message_id is None or self.answering:
            return
        try:
            stored = self.store.message(int(message_id))
        except KeyError:
            return
        versions = list(stored.meta.get("versions") or [])
        if not 0 <= index < len(versions):
            return
        chosen = versions[index]
        meta = {**chosen.get("meta", {}), "versions": versions, "version": index}
        try:
            self.store.update_message(stored.id, str(chosen.get("text", "")), meta)
        except AppError as exc:
            messages.app_error(exc)
            return
        self._show_stored(widget, str(chosen.get("text", "")), meta)

    def _show_stored(self, widget: MessageWidget, text: str, meta: dict[str, Any]) -> None:
        widget.set_sources(list(meta.get("citations") or []))
        widget.set_text(text)
        widget.finish(meta.get("stats"), stored_note(meta))
        versions = meta.get("versions") or []
        widget.set_versions(int(meta.get("version", len(versions) - 1)), len(versions))

    def edit_last_question(self) -> None:
        """Take the last question back into the composer; sending it replaces it and its answer."""
        if self.chat_id is None:
            return
        self.stop()
        stored = self.store.messages(self.chat_id)
        last_user = next((m for m in reversed(stored) if m.role == "user"), None)
        if last_user is None:
            return
        self.store.delete_messages_from(self.chat_id, last_user.id)
        widgets = self.view.messages()
        for w in reversed(widgets):
            w.setProperty("removed", True)
            self.view.remove_message(w)
            if w.role == "user":
                break
        self.view.composer.setPlainText(last_user.content)
        self.view.composer.setFocus()
        self._update_actions()

    def stop(self) -> None:
        """Stop the answer now. What the user saw is kept and stored at once, so a question asked
        right after lands after it in the history; the job's own late `cancelled` is then ignored."""
        if self._comparer is not None:
            self._comparer.stop()
        handle, widget = self._answer, self._answer_widget
        if handle is None or handle.done or widget is None or self.chat_id is None:
            return
        handle.cancel()
        self._on_cancelled(handle, self.chat_id, widget, self._answer_meta)

    def _start_answer(self, meta: dict[str, Any] | None = None) -> JobHandle:
        assert self.chat_id is not None
        chat_model.remember(self.store, self.chat_id, self.session.model)
        chat = self.store.chat(self.chat_id)
        history = tuple(self.store.history(self.chat_id))
        widget = self.view.add_message("assistant")
        widget.set_streaming("loading the model…" if self.session.model is None else "thinking…")
        earlier = (meta or {}).get("versions") or []
        if earlier:
            widget.set_versions(len(earlier), len(earlier) + 1)
        stored = self.store.messages(self.chat_id)
        document = document_of(stored)
        if document is not None:
            # "Summarize x.pdf" and the summary are not a conversation to follow up on: a short
            # question after them ("How much notice do I give?") is searched as it stands.
            skipped = {m.content for m in stored if m.meta.get("kind") in ("summary", "summary_request")}
            history = tuple(m for m in history if m.role == "system" or m.content not in skipped)
            job = self.answer_job_factory(self.session, chat.collections, history, document=document)
        else:
            job = self.answer_job_factory(self.session, chat.collections, history)
        return self._run_on_llm(job, widget, "answer", meta)

    def summarize(self, path: Path) -> JobHandle | None:
        """Summarize a PDF in a chat of its own, named after the file: streamed, with clickable pages."""
        self.new_chat()
        try:
            chat_id = self._ensure_chat(f"Summary of {path.name}", title=path.name)
            self.store.add_message(chat_id, "user", f"Summarize {path.name}", {"kind": "summary_request"})
        except AppError as exc:
            messages.app_error(exc)
            return None
        self._wire(self.view.add_message("user", f"Summarize {path.name}"))
        widget = self.view.add_message("assistant", page_links=True)
        widget.setProperty("source_path", str(path))
        widget.set_streaming(f"reading {path.name}…")
        self._show_answer_source((), str(path))
        job = summary_job(self.session, path, self.summary_ranker)
        return self._run_on_llm(job, widget, "summary", {"kind": "summary", "source": str(path)})

    def summarize_text(self, text: str) -> JobHandle | None:
        """Summarize pasted text in a chat of its own (`hearth summarize -` in the window). Its
        "pages" are paragraph groups, so the points cite sections; there is no file to open."""
        from desktop.services import tasks

        try:
            doc = tasks.text_pages(text)
        except AppError as exc:
            messages.app_error(exc)
            return None
        words = len(text.split())
        request = f"Summarize pasted text ({words:,} words)"
        self.new_chat()
        try:
            chat_id = self._ensure_chat(request, title="Pasted text")
            self.store.add_message(chat_id, "user", request, {"kind": "summary_request"})
        except AppError as exc:
            messages.app_error(exc)
            return None
        self._wire(self.view.add_message("user", request))
        widget = self.view.add_message("assistant")
        widget.set_streaming("summarizing…")
        self._show_answer_source(())
        job = text_summary_job(self.session, doc, self.summary_ranker)
        return self._run_on_llm(job, widget, "summary", {"kind": "summary", "source": ""})

    def _run_on_llm(
        self,
        job: Callable[[CancelToken], Generator[Event, None, Any]],
        widget: MessageWidget,
        name: str,
        meta: dict[str, Any] | None = None,
    ) -> JobHandle:
        """Stream `job` into `widget`; one at a time (a new one cancels the one running)."""
        assert self.chat_id is not None
        self._wire(widget)
        handle = self.session.runner.create("llm", job, name=name, replaces="answer")
        chat_id = self.chat_id
        extra = dict(meta or {})
        streaming = self._start_saving(chat_id, extra)
        widget.setProperty("streaming", streaming)
        handle.tokens.connect(lambda text: self._on_tokens(widget, text))
        handle.progressed.connect(lambda ev: self._on_event(widget, ev))
        handle.succeeded.connect(lambda result: self._on_succeeded(handle, chat_id, widget, result, extra))
        handle.failed.connect(lambda error: self._on_failed(handle, widget, error, chat_id, extra))
        handle.cancelled.connect(lambda: self._on_cancelled(handle, chat_id, widget, extra))
        self._answer, self._answer_widget, self._answer_meta = handle, widget, extra
        self.view.set_busy(True)
        self._update_actions()
        handle.start()
        emit(self.answer_started, handle)
        return handle

    def _start_saving(self, chat_id: int, meta: dict[str, Any]) -> StreamingAnswer | None:
        """The answer's row, written now and kept current while it streams (None: it could not be
        written, e.g. a full disk; the answer still streams, and is saved whole when it ends)."""
        from desktop.services.chats import StreamingAnswer

        try:
            return StreamingAnswer(self.store, chat_id, meta)
        except AppError as exc:
            log.warning("the answer cannot be saved while it streams: %s", exc)
            return None

    # -- answer events (GUI thread)

    def _on_tokens(self, widget: MessageWidget, text: str) -> None:
        if widget.state.text():
            widget.set_streaming("")
        widget.append(text)
        streaming = _streaming(widget)
        if streaming is not None:
            streaming.add(text)

    def _on_event(self, widget: MessageWidget, event: Any) -> None:
        from desktop.core.events import EtaSmoother, Notice, Progress, Sources

        if isinstance(event, Sources):
            widget.set_sources([c.to_dict() for c in event.citations])
        elif isinstance(event, Notice):
            messages.post(
                messages.UserMessage("warning" if event.level == "warning" else "info", event.message)
            )
        elif isinstance(event, Progress):
            smoother = widget.property("eta")
            if smoother is None:
                smoother = EtaSmoother()
                widget.setProperty("eta", smoother)
            eta = smoother.update(event.eta_s, time.monotonic())
            widget.set_streaming(progress_text(replace(event, eta_s=eta)))
            widget.set_progress(event.done, event.total)

    def _on_succeeded(
        self, handle: JobHandle, chat_id: int, widget: MessageWidget, result: Any, extra: dict[str, Any]
    ) -> None:
        if handle is not self._answer:
            return
        from desktop.services.tasks import reply_of

        reply = reply_of(result)
        text = reply.text or widget.text
        stats = reply.stats
        meta: dict[str, Any] = {**extra, "stats": stats}
        if reply.citations:
            meta["citations"] = list(reply.citations)
            widget.set_sources(meta["citations"])  # the final list says which sources the answer used
        widget.set_text(text)
        note = ""
        if self.has_library and reply.kind == "chat":
            # A plain chat answer while documents exist: say so on the answer itself.
            note = MODEL_ALONE
            meta["source"] = "model"
        widget.finish(stats, note)
        self._save_answer(chat_id, text, with_versions(text, meta), widget)
        self._done("succeeded")

    def _on_cancelled(
        self, handle: JobHandle, chat_id: int, widget: MessageWidget, extra: dict[str, Any]
    ) -> None:
        if handle is not self._answer:
            return  # already settled by stop()
        if widget.text.strip():
            widget.finish(None, "stopped")
            self._save_answer(
                chat_id, widget.text, with_versions(widget.text, {**extra, "stopped": True}), widget
            )
        else:
            self._discard_saving(widget)
            widget.setProperty("removed", True)
            self.view.remove_message(widget)
            self._restore_version(chat_id, extra)
        self._done("cancelled")

    def _restore_version(self, chat_id: int, extra: dict[str, Any]) -> None:
        """A regenerate that produced nothing (stopped at once, or failed): the answer it was to
        replace comes back, so no version is lost."""
        versions = extra.get("versions") or []
        if not versions:
            return
        last = versions[-1]
        meta = {**last.get("meta", {}), "versions": versions, "version": len(versions) - 1}
        widget = self.view.add_message("assistant", page_links=bool(meta.get("kind") == "summary"))
        self._wire(widget)
        self._show_stored(widget, str(last.get("text", "")), meta)
        self._save_answer(chat_id, str(last.get("text", "")), meta, widget)

    def _on_failed(
        self,
        handle: JobHandle,
        widget: MessageWidget,
        error: Any,
        chat_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if handle is not self._answer:
            return
        self._discard_saving(widget)  # no answer to keep: the error stands in its place
        if chat_id is not None and extra:
            self._restore_version(chat_id, extra)  # under the error: the answer it was to replace
        if isinstance(error, AppError):
            widget.show_error(error.user_message, error.hint)
        else:
            widget.show_error(
                "Something went wrong while answering.", "Hearth keeps running; see the details."
            )
            messages.bug("An answer failed because of a bug.", getattr(error, "details", repr(error)))
        self._done("failed")

    def _save_answer(
        self, chat_id: int, text: str, meta: dict[str, Any], widget: MessageWidget | None = None
    ) -> None:
        """Store the answer whole: into the row it streamed into, or a new row."""
        streaming = _streaming(widget) if widget is not None else None
        try:
            if streaming is not None:
                widget.setProperty("streaming", None)  # type: ignore[union-attr]
                stored = streaming.finish(text, meta)
            else:
                stored = self.store.add_message(chat_id, "assistant", text, meta)
            if widget is not None:
                widget.setProperty("message_id", stored.id)
                versions = meta.get("versions") or []
                if versions:
                    widget.set_versions(int(meta.get("version", len(versions) - 1)), len(versions))
        except AppError as exc:
            messages.app_error(exc)
        except KeyError:
            pass  # the chat was deleted while it answered

    def _discard_saving(self, widget: MessageWidget) -> None:
        streaming = _streaming(widget)
        if streaming is None:
            return
        widget.setProperty("streaming", None)
        try:
            streaming.discard()
        except (AppError, KeyError) as exc:
            log.warning("could not remove an empty answer: %s", exc)

    def _done(self, outcome: str) -> None:
        self.view.set_busy(False)
        self._answer = self._answer_widget = None
        self._update_actions()
        emit(self.answer_finished, outcome)

    def _update_actions(self) -> None:
        widgets = self.view.messages()
        last_user = next((w for w in reversed(widgets) if w.role == "user"), None)
        for w in widgets:
            is_last = w is widgets[-1]
            w.set_actions(
                regenerate=is_last and w.role == "assistant" and not w.page_links and not self.answering,
                edit=w is last_user and not self.answering,
                pinned=is_last and w.role == "assistant" and not self.answering,
                compare=self.comparer.can_compare(w),
            )
        self.view.fix_tab_order()

    def _wire(self, widget: MessageWidget) -> None:
        widget.regenerate_requested.connect(self.regenerate)
        widget.version_requested.connect(lambda index, w=widget: self.show_version(w, index))
        widget.edit_requested.connect(self.edit_last_question)
        widget.compare_requested.connect(lambda w=widget: self.comparer.choose_model(w))
        widget.source_clicked.connect(lambda n, w=widget: self._open_citation(w, n))
        widget.link_activated.connect(lambda link, w=widget: self._open_link(w, link))

    def _open_citation(self, widget: MessageWidget, n: int) -> None:
        for c in widget.citations:
            if int(c.get("n", -1)) == n:
                emit(self.open_source, c)
                return

    def _open_link(self, widget: MessageWidget, link: str) -> None:
        kind, _, value = link.partition(":")
        if kind == "cite" and value.isdigit():
            self._open_citation(widget, int(value))
        elif kind == "page" and value.isdigit():
            source = widget.property("source_path")
            if source:
                emit(self.open_source, {"path": source, "page": int(value), "snippet": "", "title": ""})

    def copy_last_answer(self) -> None:
        for w in reversed(self.view.messages()):
            if w.role == "assistant":
                w.copy_to_clipboard()
                return

    def bug_details(self, error: Any) -> str:
        return error.details if isinstance(error, JobBug) else repr(error)


def _streaming(widget: MessageWidget) -> StreamingAnswer | None:
    value = widget.property("streaming")
    return value if value is not None else None


def stored_note(meta: dict[str, Any]) -> str:
    """The line under a stored answer: stopped by the user, cut off by a crash, or from the model
    alone while the user had documents."""
    if meta.get("interrupted"):
        return INTERRUPTED
    if meta.get("stopped"):
        return "stopped"
    if meta.get("source") == "model":
        return MODEL_ALONE
    return ""


def answer_version(text: str, meta: dict[str, Any]) -> dict[str, Any]:
    """One version of an answer, as kept in the answer's `versions` (without versions of its own)."""
    return {"text": text, "meta": {k: v for k, v in meta.items() if k not in ("versions", "version")}}


def with_versions(text: str, meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` for a new answer: a regenerated one lists every version, itself last and current."""
    earlier = meta.get("versions") or []
    if not earlier:
        return meta
    versions = [*earlier, answer_version(text, meta)]
    return {**meta, "versions": versions, "version": len(versions) - 1}


def progress_text(event: Progress) -> str:
    from desktop.core.events import format_eta

    if event.total <= 0:  # a step of unknown length
        return f"{event.label}…"
    unit = f" {event.unit}" if event.unit else ""
    eta = f", about {format_eta(event.eta_s)} left" if event.eta_s else ""
    return f"{event.label} {event.done}/{event.total}{unit}{eta}".strip()


# (session, cancel) -> a ranker for the summary's key points, built on the llm lane; None: word overlap.
RankerFactory = Callable[[Session, CancelToken], Any]


def default_ranker(session: Session, cancel: CancelToken) -> Any:
    """Sentence centrality by the library's embedder, on the index lane (one embedder per process)."""
    from desktop.services.sentences import EmbeddingRanker

    return EmbeddingRanker(session.embedder(cancel))


def summary_job(
    session: Session, path: Path, ranker: RankerFactory | None
) -> Callable[[CancelToken], Generator[Event, None, Any]]:
    """`hearth summarize`'s use case (services/tasks.summarize) on the window's resources: a library
    document's stored pages (read on the index lane), else the file read by its reader."""
    from desktop.services import tasks

    def read(cancel: CancelToken) -> Generator[Event, None, tasks.Pages]:
        lib = session.retriever(cancel) if session.library is not None else None
        stored = lib.stored_pages(str(path)) if lib is not None else None
        if stored is not None:
            return tasks.Pages(tuple(stored), path.stem.replace("_", " "), path.name)
        # Read on the io lane (the model's lane only waits for the pages it is about to summarize).
        return (yield from tasks.file_pages(path, cancel, lambda fn: session.runner.call_between("io", fn)))

    return _summarizing(session, read, ranker)


def text_summary_job(
    session: Session, doc: Any, ranker: RankerFactory | None
) -> Callable[[CancelToken], Generator[Event, None, Any]]:
    """The summary use case on text already in hand (pasted): no reading step."""
    from desktop.services import tasks

    return _summarizing(session, tasks.given(doc), ranker)


def _summarizing(
    session: Session, read: Any, ranker: RankerFactory | None
) -> Callable[[CancelToken], Generator[Event, None, Any]]:
    def job(cancel: CancelToken) -> Generator[Event, None, Any]:
        from desktop.services import tasks

        runtime = session.require_runtime()
        rank = ranker(session, cancel) if ranker is not None else None
        return (yield from tasks.summarize(runtime, read, session.settings, ranker=rank)(cancel))

    return job

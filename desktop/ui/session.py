"""What the window knows of the services: settings, chat history, the job runner and the model.

The model runtime is created and started on the `llm` lane (never on the GUI thread), after the
window has painted; every later use of it is a job on that same lane, so one thread owns it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QObject, Signal

from desktop.core.errors import AppError, Cancelled, ModelNotFound, StorageError
from desktop.core.jobs import CancelToken
from desktop.services.paths import data_dir
from desktop.ui.jobs import JobFn, JobHandle, JobRunner
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:  # opened after the first paint (see Session.settings / .chats), so imported then
    from concurrent.futures import Future

    from desktop.core.events import Event
    from desktop.core.rag import AskRequest, Gathered
    from desktop.core.settings import SettingsStore
    from desktop.services.chats import ChatStore
    from desktop.services.embeddings import Embedder
    from desktop.services.library import Library
    from desktop.services.tasks import Runtime

log = logging.getLogger("desktop.ui")

QUIT_WAIT_S = 0.5  # how long quitting waits for jobs that are still finishing their step

# (settings, model name or path) -> (an unstarted LlamaRuntime, LoadedModel fields). Tests pass their own.
RuntimeFactory = Callable[["SettingsStore", str], tuple["Runtime", dict[str, Any]]]


class LoadedModel(NamedTuple):
    """The running model as the window shows it. (A NamedTuple: a frozen dataclass costs ~1 ms more at
    start-up, on the path to the first frame.)"""

    name: str
    path: str
    backend: str  # "cpu" | "cuda" | "metal" …
    reason: str  # the plan's reason: why this device, these threads, this context
    fit: str
    n_ctx: int
    n_threads: int
    notices: tuple[str, ...] = ()


class Session(QObject):
    """Services for one window. Lives on the GUI thread.

    Signals (all on the GUI thread):
        model_loading(str)        the name or path being loaded
        model_ready(LoadedModel)  the runtime is started and answers
        model_failed(AppError)    it could not be loaded; chat shows the hint until another model loads
        data_reset()              every file was deleted; `chats` and `settings` are new, empty stores
    """

    model_loading = Signal(str)
    model_ready = Signal(object)
    model_failed = Signal(object)
    data_reset = Signal()

    def __init__(
        self,
        settings: SettingsStore | None = None,
        chats: ChatStore | None = None,
        parent: QObject | None = None,
        *,
        open_runtime: RuntimeFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._chats = chats
        self.runner = JobRunner(self)
        self.runtime: Runtime | None = None  # touched only on the llm lane
        self.model: LoadedModel | None = None
        self.library: Library | None = None  # created and used on the index lane only
        self._embedder: Embedder | None = None  # the same
        self.load_error: AppError | None = None
        self._open_runtime = open_runtime or open_planned_runtime

    # -- stores, opened on first use: the window paints before settings.json or chats.sqlite are read

    @property
    def settings(self) -> SettingsStore:
        if self._settings is None:
            from desktop.core.settings import SettingsStore
            from desktop.services import policy_file

            self._settings = SettingsStore(data_dir() / "settings.json")
            if policy_file.present():  # no file, no policy: its rules load only when there is one
                from desktop.services import policy

                policy.apply(self._settings)  # an administrator's pins read as pinned, and are locked
        return self._settings

    @settings.setter
    def settings(self, store: SettingsStore) -> None:
        self._settings = store

    @property
    def chats(self) -> ChatStore:
        if self._chats is None:
            from desktop.services.chats import ChatStore

            self._chats = ChatStore(data_dir() / "chats.sqlite")
        return self._chats

    @chats.setter
    def chats(self, store: ChatStore) -> None:
        self._chats = store

    # -- model

    def load_model(self, model: str | None = None) -> JobHandle:
        """Load (or switch to) `model` on the llm lane; empty or None: the setting, else the bundled one."""
        wanted = model if model is not None else str(self.settings["model"])
        settings, factory = self.settings, self._open_runtime

        def job(cancel: CancelToken) -> Generator[Event, None, LoadedModel]:
            old, self.runtime = self.runtime, None
            if old is not None:
                old.close()
            runtime, loaded = factory(settings, wanted)
            info = runtime.start()
            self.runtime = runtime
            return LoadedModel(
                **{**loaded, "backend": info.backend, "n_ctx": info.n_ctx, "notices": info.notices}
            )
            yield  # a generator job

        handle = self.runner.create("llm", job, name="load model", replaces="model")
        handle.succeeded.connect(self._on_loaded)
        handle.failed.connect(self._on_load_failed)
        emit(self.model_loading, wanted or "the bundled model")
        return handle.start()

    def _on_loaded(self, model: LoadedModel) -> None:
        self.model, self.load_error = model, None
        log.info("model ready: %s on %s", model.name, model.backend)
        emit(self.model_ready, model)
        self.check_model()

    def check_model(self) -> JobHandle | None:
        """Run the loaded model's faithfulness check (services/model_check.py) while the window is
        idle, once per model file: `auto` answers and summaries then follow it. It runs as the
        "answer" job, so a question or a summary cancels it (it is tried again at the next load);
        a job already answering is never cancelled for it."""
        if self.runtime is None or self.runner.closed or self.runner.running("answer") is not None:
            return None
        from desktop.services import model_check

        runtime = self.runtime
        path = model_check.local_model_path(runtime)
        if path is None or model_check.cached_verdict(path) is not None:
            return None

        def job(cancel: CancelToken) -> Generator[Event, None, Any]:
            return (yield from model_check.verdict_for(runtime, cancel))

        return self.runner.create("llm", job, name="model check", replaces="answer").start()

    def _on_load_failed(self, error: Any) -> None:
        self.model = None
        self.load_error = (
            error
            if isinstance(error, AppError)
            else AppError(
                "The model could not be loaded.", "See the details; Hearth keeps running.", detail=str(error)
            )
        )
        emit(self.model_failed, error)

    def first_start_selftest(self, done: Callable[[list[Any]], None]) -> JobHandle | None:
        """On the first start in this data dir, run `hearth doctor --selftest`'s checks off the GUI
        thread (io lane). The engine is checked by the model load itself (same ladder, same
        load-time decode), so no second model process is started here."""
        from desktop.services import selftest

        if selftest.last_results() is not None:
            return None
        settings = self.settings
        checks = [c for c in selftest.CHECKS if c != "engine"]
        return self.runner.call(
            "io", lambda: selftest.run_selftest(settings, checks=checks), on_succeeded=done
        )

    def require_runtime(self) -> Runtime:
        """The started runtime, for a job on the llm lane; a clear error if none could be loaded."""
        if self.runtime is None:
            if self.load_error is not None:
                raise self.load_error
            raise ModelNotFound("No model is loaded.", "Pick a model in the toolbar, or import a GGUF file.")
        return self.runtime

    # -- library (index lane)

    def library_on_lane(self) -> Library:
        """The Library, opened on first use. Only from the index lane: it owns Chroma and the embedder."""
        if self.library is None:
            from desktop.services.library import Library

            self.library = Library(embedder=self.embedder_on_lane())
        return self.library

    def embedder_on_lane(self) -> Embedder:
        """The process's one embedder (all-MiniLM), created on first use. Only from the index lane:
        the library indexes and searches with it, and a summary's key points are scored by it."""
        if self._embedder is None:
            from desktop.services.embeddings import Embedder

            self._embedder = Embedder()
        return self._embedder

    def library_job(self, make: Callable[[Any], JobFn]) -> JobFn:
        """A job for the index lane built from the library: `make(library)` returns the job."""

        def job(cancel: CancelToken) -> Generator[Event, None, Any]:
            return (yield from make(self.library_on_lane())(cancel))

        return job

    def library_call(self, fn: Callable[[Any], Any], **handlers: Any) -> JobHandle:
        """Run `fn(library)` on the index lane; handlers as for JobRunner.submit."""
        return self.runner.call("index", lambda: fn(self.library_on_lane()), **handlers)

    def retriever(self, cancel: CancelToken) -> LaneRetriever:
        """What an ask job (on the llm lane) searches through: each search runs on the index lane."""
        return LaneRetriever(self, cancel)

    def embedder(self, cancel: CancelToken) -> LaneEmbedder:
        """The process's embedder, for a job on another lane (a summary's key points): it encodes on
        the index lane, which owns it, without opening the library."""
        return LaneEmbedder(self, cancel)

    def _close_library(self) -> None:
        """Close the library on its own lane, after whatever runs there (delete-all waits for it)."""
        if self.library is None:
            return
        done = threading.Event()

        def close() -> None:
            try:
                if self.library is not None:
                    self.library.close()
            finally:
                self.library = None
                done.set()

        self.runner.call("index", close)
        if not done.wait(60):
            raise StorageError("The library is still busy.", "Wait for indexing to stop, then try again.")

    def delete_all_data(self) -> int:
        """Delete every file in the data dir (chats, library, settings, imported models); start afresh.

        Running answers and indexing are cancelled first; open stores are closed before their
        files go and reopened empty after. Returns how many files were deleted.
        """
        import shutil

        for key in ("answer", "index", "summary"):
            handle = self.runner.running(key)
            if handle is not None:
                handle.cancel()
        self._close_library()
        if self._chats is not None:
            self._chats.close()
        root = data_dir()
        from desktop.services import database

        database.delete_key(root)  # the key leaves the OS keyring too; the next start sets up afresh
        removed = sum(1 for p in root.rglob("*") if p.is_file())
        try:
            for child in root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        except OSError as exc:
            raise StorageError(
                "Some of your data could not be deleted.",
                f"Close other programs using {root} and try again.",
                detail=repr(exc),
            ) from exc
        finally:
            self._chats = self._settings = None  # reopened, empty, on first use
            emit(self.data_reset)
        log.info("deleted all user data (%d files)", removed)
        return removed

    def close(self) -> None:
        """Stop every job, then the model process. Called once, when the window closes.

        Jobs stop at their next check; work that cannot be interrupted (loading the embedder, a
        batch being embedded) is not waited for beyond QUIT_WAIT_S: quitting must not take seconds.
        Its lane's thread ends with the process; what it owns is then closed by the process's exit
        (SQLite keeps every committed write; the vector index lives in its own child process)."""
        self.runner.shutdown(QUIT_WAIT_S)
        busy = self.runner.busy_lanes()
        if self.library is not None and "index" not in busy:  # no other thread can be using it
            self.library.close()
            self.library = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        if "desktop.services.pdf" in sys.modules:  # its PDF worker processes, if any were started
            sys.modules["desktop.services.pdf"].close_workers()
        if self._chats is not None:
            self._chats.close()


class LaneRetriever:
    """rag.Retriever for a job on the llm lane: every search hops to the index lane and waits.

    The index lane runs these between the batches of an indexing job, so a question is answered
    while a folder indexes, and Chroma is still touched by one thread only.
    """

    def __init__(self, session: Session, cancel: CancelToken) -> None:
        self._session = session
        self._cancel = cancel
        self._notices: list[Any] = []

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        future = self._session.runner.call_between("index", lambda: fn(self._session.library_on_lane()))
        return _wait(future, self._cancel)

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self._call(lambda lib: lib.vector_search(query, collections, k))

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self._call(lambda lib: lib.keyword_search(query, collections, k))

    def chunks(self, ids: Sequence[str]) -> list[Any]:
        return self._call(lambda lib: lib.chunks(ids))

    def pages(self, sha256: str, first: int | None = None, last: int | None = None) -> list[Any]:
        """Page texts, so a passage spanning pages is cited at the page that holds the match."""
        return self._call(lambda lib: lib.pages(sha256, first, last))

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """The library's embedder (one per process, on the index lane) scores the evidence."""
        return self._call(lambda lib: lib.embed_texts(texts))

    def gather(
        self, question: str, request: AskRequest, cancel: CancelToken, timings: dict[str, float]
    ) -> Gathered:
        """A question's whole evidence search (retrieval, names, cited pages, scoring) in one call on
        the index lane, instead of a round trip per search (rag.ask_job's `gather`)."""
        from desktop.core.rag import gather_evidence

        def gather(lib: Library) -> Gathered:
            found = gather_evidence(lib, question, request, lib.embed_texts, cancel, timings)
            self._notices.extend(lib.take_notices())  # in the same call: the team library's, say
            return found

        return self._call(gather)

    def take_notices(self) -> list[Any]:
        """What the library said during the last search (taken by the answer use case)."""
        out, self._notices = self._notices, []
        return out

    def document(self, path: str, collection: str) -> Any:
        """The ready library row of the file at `path`; a file not in the library yet is added to
        `collection` and indexed first (on the index lane, as any add). AppError when it cannot be
        read, with its reason."""

        def find_or_add(lib: Any) -> Any:
            row = lib.ready_file(path)
            if row is None:
                from desktop.core.jobs import run_job

                run_job(lib.add_job([path], collection))
                row = lib.ready_file(path)
            if row is None:
                key = str(Path(path).expanduser().absolute().resolve())
                failed = next((r for r in lib.files(collection) if r.path == key), None)
                reason = failed.message if failed is not None and failed.message else "it could not be read"
                hint = failed.hint if failed is not None and failed.hint else ""
                raise AppError(f"{Path(path).name} cannot be asked: {reason}.", hint)
            return row

        return self._call(find_or_add)

    def stored_pages(self, path: str) -> list[Any] | None:
        """The stored pages of the library's ready document at `path` (None when it has none, or the
        file changed since): a summary of a library document is made from them."""
        return self._call(lambda lib: lib.stored_pages(path))


class LaneEmbedder:
    """`encode` for sentences.EmbeddingRanker, by the session's embedder on the index lane."""

    def __init__(self, session: Session, cancel: CancelToken) -> None:
        self._session = session
        self._cancel = cancel

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        items = list(texts)
        future = self._session.runner.call_between(
            "index", lambda: self._session.embedder_on_lane().encode(items, batch_size=batch_size)
        )
        return _wait(future, self._cancel)


def _wait(future: Future[Any], cancel: CancelToken) -> Any:
    """The result of a call queued on a lane; Cancelled (and the call dropped) when `cancel` fires."""
    while True:
        try:
            return future.result(timeout=0.05)
        except TimeoutError:  # concurrent.futures.TimeoutError is the builtin since Python 3.11
            if cancel.cancelled:
                future.cancel()
                raise Cancelled() from None


def open_planned_runtime(settings: SettingsStore, model: str) -> tuple[Any, dict[str, Any]]:
    """The runtime for `model`, planned for this machine, and what to show of it. Runs on the llm lane."""
    from desktop.services.runtime import open_runtime

    runtime, choice = open_runtime(settings, model or None)
    # Answers come from the model server when one is named and allowed (the local model stands by).
    served = f"{settings['model_server_model'] or 'model'} on {choice.server}" if choice.server else ""
    return runtime, {
        "name": served or choice.model.name,
        "path": choice.model.path,
        "backend": choice.plan.backend,
        "reason": choice.plan.reason,
        "fit": choice.plan.fit,
        "n_ctx": choice.plan.n_ctx,
        "n_threads": choice.plan.n_threads,
    }

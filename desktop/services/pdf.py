"""PDF → pages of clean text, parsed in a worker process with time and memory limits.

Why a worker: pypdf parses untrusted files; a crafted one can loop, recurse or inflate a
compression bomb. The worker is a fresh interpreter (`python -m desktop.services.pdf`, never a
multiprocessing spawn that would re-import the caller's `__main__`) with RLIMIT_AS set, and the
parent kills it when a step takes too long. Workers are reused between documents (starting one
costs ~0.3 s), so ingestion pays that once, not per file.

Word files are parsed in the same workers (`read_in_worker`): python-docx hands their XML to lxml,
native code reading an untrusted file, so a crash or a runaway parse ends the worker, not Hearth.

Protocol (tuples over a socketpair wrapped in `multiprocessing.connection.Connection`):
    parent → worker  ("extract", path, max_pages) | ("inspect", path) | ("read", path, kind)
                     | ("quit",) | ("stall", s) (tests)
    worker → parent  ("info", {pages, title, encrypted, …}) then, for extract and read,
                     ("page", n, text, error)… ("done",) | ("error", reason, detail[, message, hint])

Every failure reaches the caller as `DocumentError(user_message, hint, reason=…)`.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from desktop.core.chunking import clean_text, glyph_code_ratio
from desktop.core.errors import Cancelled, DocumentError
from desktop.core.jobs import CancelToken
from desktop.core.types import Page
from desktop.services import child

log = logging.getLogger("desktop.pdf")

MAX_FILE_BYTES = 512 * 1024 * 1024  # bigger files are refused before parsing
MAX_PAGES = 5000
MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024  # address space of a worker (RLIMIT_AS)
OPEN_TIMEOUT_S = 60.0  # opening a file (xref, decrypt, page tree)
PAGE_TIMEOUT_S = 30.0  # one page's text
TOTAL_TIMEOUT_S = 900.0
START_TIMEOUT_S = 60.0
# Text caps: a dense page of small print holds about 10,000 characters; a 128 KB PDF holding one
# 30 MB line of text once became 33,451 passages and an hour of indexing. Text past these caps is
# left out, and the document says so (PdfInfo.truncated).
MAX_PAGE_CHARS = 60_000
MAX_DOCUMENT_CHARS = 8_000_000
MIN_TEXT_CHARS = 20  # below this for a whole document, it has no usable text layer
GARBLED_RATIO = 0.3


@dataclass(frozen=True, slots=True)
class PdfInfo:
    path: str
    page_count: int
    title: str
    encrypted: bool  # True also for files that open with the empty password
    file_size: int
    truncated: str = ""  # what was left out by the text caps, in words; empty when nothing was

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "page_count": self.page_count,
            "title": self.title,
            "encrypted": self.encrypted,
            "file_size": self.file_size,
        }


# ----------------------------------------------------------------------------- user messages

_MESSAGES: dict[str, tuple[str, str]] = {
    "not_found": ("The file could not be found.", "It may have been moved or deleted."),
    "unreadable_file": (
        "Hearth may not read this file.",
        "Check that you have permission to open it.",
    ),
    "empty_file": ("This file is empty (0 bytes).", "Copy or download it again."),
    "not_regular_file": (
        "This is not a regular file (it is a pipe, a device or a socket), so Hearth does not read it.",
        "Add the document itself, not a link to a device or pipe.",
    ),
    "not_pdf": (
        "This file is not a PDF, although its name may say so.",
        "Open it in the program that made it and export it as PDF.",
    ),
    "encrypted": (
        "This PDF is password-protected.",
        "Open it with its password and save an unprotected copy, then add that copy.",
    ),
    "no_text": (
        "This PDF has no text layer: it looks like a scan or a set of images.",
        "Run it through OCR (for example `ocrmypdf in.pdf out.pdf`) and add the result.",
    ),
    "garbled": (
        "The text in this PDF comes out as glyph codes (like /CF /D3), not readable words.",
        "Its fonts lack a character map. Print it to a new PDF, or run OCR on it, and add that.",
    ),
    "corrupt": (
        "This PDF is damaged or truncated and could not be read.",
        "Download or copy it again; if it opens elsewhere, print it to a new PDF.",
    ),
    "too_large": (
        "This PDF is too large for Hearth to read safely.",
        "Split it into smaller files (for example by chapter) and add those.",
    ),
    "parser_limit": (
        "This PDF is built in a way that exceeds the PDF reader's safety limits.",
        "Print it to a new PDF and add that copy.",
    ),
    "timeout": (
        "Reading this PDF took too long, so Hearth stopped.",
        "It may be unusually complex or crafted to stall readers. Print it to a new PDF and try again.",
    ),
}


def document_error(reason: str, detail: str = "", message: str | None = None) -> DocumentError:
    """The DocumentError for `reason`, with the user message and hint that go with it."""
    default_msg, hint = _MESSAGES.get(reason, _MESSAGES["corrupt"])
    if message is None and reason == "too_large" and "limit" in detail:
        message = f"{default_msg[:-1]}: {detail}."  # e.g. "6000 pages (limit 5000)": say the limit
    return DocumentError(message or default_msg, hint, reason=reason, detail=detail)


def _precheck(path: Path, max_bytes: int) -> int:
    """Cheap checks in the parent before any parsing: exists, size, PDF header."""
    from desktop.services.files import NotRegularFile, open_regular

    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(1024)
    except NotRegularFile as exc:
        if exc.kind == "a folder":
            raise document_error("not_found", str(path)) from exc
        raise document_error("not_regular_file", str(exc)) from exc
    except FileNotFoundError as exc:
        raise document_error("not_found", str(path)) from exc
    except PermissionError as exc:
        raise document_error("unreadable_file", str(exc)) from exc
    except OSError as exc:
        raise document_error("unreadable_file", str(exc)) from exc
    if size == 0:
        raise document_error("empty_file")
    if size > max_bytes:
        raise document_error(
            "too_large",
            f"{size} bytes",
            f"This PDF is too large for Hearth to read safely ({size / 2**20:.0f} MB; "
            f"the limit is {max_bytes / 2**20:.0f} MB).",
        )
    if b"%PDF-" not in head:
        raise document_error("not_pdf", repr(head[:16]))
    return size


# ----------------------------------------------------------------------------- worker side


def _worker_open(path: str) -> tuple[Any, dict[str, Any]]:
    import pypdf
    from pypdf.errors import DependencyError

    reader = pypdf.PdfReader(path, strict=False)
    encrypted = bool(reader.is_encrypted)
    if encrypted:
        try:
            ok = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise _WorkerFailure("encrypted", f"unsupported encryption: {exc}") from exc
        if not ok:
            raise _WorkerFailure("encrypted", "needs a password")
    pages = len(reader.pages)
    title = ""
    try:
        meta = reader.metadata
        if meta is not None and meta.title:
            title = clean_text(str(meta.title))[:300]
    except Exception:  # metadata is optional; a broken info dict must not fail the document
        title = ""
    return reader, {"pages": pages, "title": title, "encrypted": encrypted}


class _WorkerFailure(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _classify(exc: BaseException) -> tuple[str, str]:
    from pypdf.errors import EmptyFileError, FileNotDecryptedError, LimitReachedError, WrongPasswordError

    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, _WorkerFailure):
        return exc.reason, exc.detail
    if isinstance(exc, MemoryError):
        return "too_large", "out of memory (worker limit)"
    if isinstance(exc, RecursionError | LimitReachedError):
        return "parser_limit", detail
    if isinstance(exc, FileNotDecryptedError | WrongPasswordError):
        return "encrypted", detail
    if isinstance(exc, EmptyFileError):
        return "empty_file", detail
    return "corrupt", detail


def _probe_contents(page: Any) -> None:
    """Decode an empty-looking page's content again, so damage is told apart from a scan:
    a content array whose items are not streams (one that refers to itself, say) is damage, which
    pypdf only logs before returning no text."""
    from pypdf.generic import ArrayObject, StreamObject

    raw = page.get("/Contents")
    if raw is not None:
        obj = raw.get_object()
        items = list(obj) if isinstance(obj, ArrayObject) else [raw]
        for item in items:
            if not isinstance(item.get_object(), StreamObject):
                raise _WorkerFailure(
                    "corrupt", "a page's content is not a content stream (it may refer to itself)"
                )
    contents = page.get_contents()
    if contents is not None:
        contents.get_data()


def _serve(conn: Connection) -> None:
    """The worker's loop: one request at a time until told to quit or the pipe closes."""
    for msg in child.requests(conn):
        op = msg[0]
        if op == "stall":  # tests: behave like a file that makes the parser hang
            time.sleep(float(msg[1]))
            continue
        if op == "read":
            _serve_read(conn, msg[1], msg[2])
            continue
        reader = None
        try:
            reader, info = _worker_open(msg[1])
            conn.send(("info", info))
            if op == "extract":
                max_pages = int(msg[2])
                if info["pages"] > max_pages:
                    raise _WorkerFailure("too_large", f"{info['pages']} pages (limit {max_pages})")
                for i, page in enumerate(reader.pages, start=1):
                    try:
                        text, err = page.extract_text() or "", ""
                        if not text.strip():
                            # pypdf's extract_text swallows its own decompression limit and
                            # returns "": a compression bomb would pass for a scan. Decoding
                            # the content stream again re-raises it (and costs nothing for real
                            # scans, whose content streams are tiny).
                            _probe_contents(page)
                    except MemoryError:
                        raise
                    except Exception as exc:  # one bad page is recorded; the rest still count
                        reason, detail = _classify(exc)
                        text, err = "", f"{reason}|{detail}"
                    conn.send(("page", i, text, err))
            conn.send(("done",))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            reason, detail = _classify(exc)
            try:
                conn.send(("error", reason, detail))
            except OSError:
                return
        finally:
            del reader


def _serve_read(conn: Connection, path: str, kind: str) -> None:
    """A document of another type (services/readers), read here by its reader's `extract_here`."""
    try:
        from desktop.services import readers

        reader: Any = next(r for r in readers.READERS if r.kind == kind)
        info, pages = reader.extract_here(Path(path))
        conn.send(
            (
                "info",
                {
                    "pages": len(pages),
                    "title": info.title,
                    "encrypted": info.encrypted,
                    "file_size": info.file_size,
                    "truncated": info.truncated,
                    "unit": info.unit,
                    "notices": list(info.notices),
                },
            )
        )
        for page in pages:
            conn.send(("page", page.number, page.text, ""))
        conn.send(("done",))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        if isinstance(exc, DocumentError):
            reply: tuple[Any, ...] = ("error", exc.reason, exc.detail, exc.user_message, exc.hint)
        elif isinstance(exc, MemoryError):
            reply = ("error", "too_large", "out of memory (worker limit)")
        elif isinstance(exc, RecursionError):
            reply = ("error", "parser_limit", f"{type(exc).__name__}: {exc}"[:500])
        else:
            reply = ("error", "corrupt", f"{type(exc).__name__}: {exc}"[:500])
        try:
            conn.send(reply)
        except OSError:
            return


def _worker_main(argv: list[str]) -> None:
    import warnings

    (conn,), (memory_limit,) = child.connections(argv)
    # The parent decides when this process ends; RLIMIT_AS against compression bombs (the parent's
    # timeout guards where it is not available); no core file holding the document's text.
    child.become_child(int(memory_limit))
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    sys.setrecursionlimit(5000)
    import pypdf  # noqa: F401  (import before the first request, so the open timeout covers parsing only)

    conn.send(("ready", os.getpid()))
    _serve(conn)


# ----------------------------------------------------------------------------- parent side


class _Worker:
    """One worker process and its pipe."""

    def __init__(self, memory_limit: int) -> None:
        self.child = child.Child("desktop.services.pdf", (str(memory_limit),), quiet=True)
        self.proc, self.conn = self.child.proc, self.child.conn
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise DocumentError(
                "The PDF reader did not start.", "Try again; if it persists, restart Hearth.", reason="worker"
            )
        try:
            self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise DocumentError(
                "The PDF reader did not start.",
                "Try again; if it persists, reinstall Hearth.",
                reason="worker",
                detail=str(exc),
            ) from exc

    @property
    def alive(self) -> bool:
        return self.child.alive

    def recv(self, timeout: float, cancel: CancelToken | None = None) -> tuple[Any, ...]:
        """The next message, or DocumentError(timeout/parser crash); the worker is killed on either."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                raise document_error("timeout", f"no answer in {timeout:.0f}s")
            if self.conn.poll(left if cancel is None else min(left, 0.2)):
                return self._read()
            if cancel is not None and cancel.cancelled:
                raise Cancelled()

    def _read(self) -> tuple[Any, ...]:
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.child.wait(timeout=10)
            self.kill()
            # A worker that dies mid-file hit its memory limit or crashed in the parser.
            raise document_error("parser_limit", f"PDF worker exited with code {code}") from exc

    def kill(self) -> None:
        self.child.kill()

    def quit(self) -> None:
        self.child.quit()


class _WorkerPool:
    """Idle workers kept for reuse; one per concurrent document."""

    def __init__(self, keep: int = 2) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.keep = keep
        self.started = 0  # how many processes were started (tests and benchmarks read it)

    def acquire(self, memory_limit: int) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                worker.kill()
            self.started += 1
        return _Worker(memory_limit)

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive and len(self._idle) < self.keep:
                self._idle.append(worker)
                return
        worker.quit()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.quit()


_pool = _WorkerPool()
# Idle workers end with the app (they would also notice the closed socket, but a clean exit is
# better than an orphan for a moment and a ResourceWarning).
atexit.register(_pool.close)


def close_workers() -> None:
    """End the idle PDF worker processes (at exit, or to release memory)."""
    _pool.close()


def _request(
    path: Path,
    op: str,
    *,
    max_pages: int,
    memory_limit: int,
    cancel: CancelToken | None,
    on_info: Callable[[dict[str, Any]], None] | None = None,
    on_page: Callable[[int, str, str, int], None] | None = None,
) -> dict[str, Any]:
    worker = _pool.acquire(memory_limit)
    done = False
    try:
        if op == "extract":
            worker.conn.send((op, str(path), max_pages))
        elif op.startswith("read:"):
            worker.conn.send(("read", str(path), op.partition(":")[2]))
        else:
            worker.conn.send((op, str(path)))
        info: dict[str, Any] = {}
        deadline = time.monotonic() + TOTAL_TIMEOUT_S
        timeout = OPEN_TIMEOUT_S
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise document_error("timeout", f"over {TOTAL_TIMEOUT_S:.0f}s in total")
            msg = worker.recv(min(timeout, remaining), cancel)
            kind = msg[0]
            if kind == "info":
                info = msg[1]
                if on_info is not None:
                    on_info(info)
                timeout = PAGE_TIMEOUT_S
            elif kind == "page":
                if on_page is not None:
                    on_page(msg[1], msg[2], msg[3], int(info.get("pages", 0)))
            elif kind == "done":
                done = True
                return info
            elif kind == "error":
                done = True
                if len(msg) > 3:  # a reader's own refusal, in its own words
                    raise DocumentError(msg[3], msg[4], reason=msg[1], detail=msg[2])
                raise document_error(msg[1], msg[2])
    finally:
        if done:
            _pool.release(worker)
        else:  # timed out, cancelled mid-file or crashed: the worker's state is unknown
            worker.kill()


def read_in_worker(
    path: str | Path,
    kind: str,
    cancel: CancelToken | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> tuple[dict[str, Any], list[Page]]:
    """(info, pages) of a document read by the services/readers reader of `kind` (its
    `extract_here`) in a worker process, with the PDF's time and memory limits. Raises the
    reader's DocumentError, or one for a timeout or a worker that died."""
    pages: list[Page] = []

    def on_page(n: int, text: str, error: str, total: int) -> None:
        pages.append(Page(n, text))
        if on_progress is not None:
            on_progress(n, total)

    info = _request(
        Path(path),
        f"read:{kind}",
        max_pages=MAX_PAGES,
        memory_limit=memory_limit,
        cancel=cancel,
        on_page=on_page,
    )
    return info, pages


def inspect_pdf(
    path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, memory_limit: int = MEMORY_LIMIT_BYTES
) -> PdfInfo:
    """Page count, title and encryption of a PDF without extracting text. Raises DocumentError."""
    path = Path(path)
    size = _precheck(path, max_bytes)
    info = _request(path, "inspect", max_pages=MAX_PAGES, memory_limit=memory_limit, cancel=None)
    return PdfInfo(str(path), int(info["pages"]), info["title"], bool(info["encrypted"]), size)


def extract_pages(
    path: str | Path,
    cancel: CancelToken | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_pages: int = MAX_PAGES,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> list[Page]:
    """All pages of a PDF, 1-based, text cleaned. Raises DocumentError (with a reason) or Cancelled.

    Pages without text are kept (empty) so numbering matches the PDF. A document whose text is
    missing altogether is `no_text`; one whose text is mostly glyph codes is `garbled`.
    """
    return extract(
        path, cancel, on_progress, max_bytes=max_bytes, max_pages=max_pages, memory_limit=memory_limit
    )[1]


def extract(
    path: str | Path,
    cancel: CancelToken | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_pages: int = MAX_PAGES,
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> tuple[PdfInfo, list[Page]]:
    """Like `extract_pages`, plus the file's PdfInfo (title, encryption) from the same parse."""
    path = Path(path)
    size = _precheck(path, max_bytes)
    pages: list[Page] = []
    failed: list[str] = []
    cut_pages: list[int] = []
    kept_chars = 0

    def on_page(n: int, text: str, error: str, total: int) -> None:
        nonlocal kept_chars
        text = clean_text(text[: MAX_PAGE_CHARS * 2])
        if len(text) > MAX_PAGE_CHARS:
            cut_pages.append(n)
            text = text[:MAX_PAGE_CHARS]
        room = max(0, MAX_DOCUMENT_CHARS - kept_chars)
        if len(text) > room:
            cut_pages.append(n)
            text = text[:room]
        kept_chars += len(text)
        pages.append(Page(n, text))
        if error:
            failed.append(error)
        if on_progress is not None:
            on_progress(n, total)

    raw = _request(
        path, "extract", max_pages=max_pages, memory_limit=memory_limit, cancel=cancel, on_page=on_page
    )
    truncated = ""
    if cut_pages:
        over = kept_chars >= MAX_DOCUMENT_CHARS
        truncated = (
            f"its text passes Hearth's limit of {MAX_DOCUMENT_CHARS:,} characters per document, "
            f"so only the text up to page {cut_pages[-1]} was kept"
            if over
            else f"page(s) {', '.join(map(str, sorted(set(cut_pages))[:5]))} hold more text than a page can "
            f"(over {MAX_PAGE_CHARS:,} characters), so only their first {MAX_PAGE_CHARS:,} were kept"
        )
        log.warning("%s: text capped: %s", path.name, truncated)
    info = PdfInfo(
        str(path),
        int(raw.get("pages", len(pages))),
        raw.get("title", ""),
        bool(raw.get("encrypted")),
        size,
        truncated,
    )
    reasons = [f.partition("|")[0] for f in failed]
    if "parser_limit" in reasons and sum(len(p.text) for p in pages) < MIN_TEXT_CHARS:
        raise document_error("parser_limit", failed[reasons.index("parser_limit")].partition("|")[2])
    if pages and len(failed) == len(pages):
        raise document_error(
            reasons[0] if reasons[0] in ("parser_limit", "too_large") else "corrupt",
            failed[0].partition("|")[2],
        )
    if failed:
        log.info("%s: %d page(s) could not be read", path.name, len(failed))
    text_chars = sum(len(p.text) for p in pages)
    if text_chars < MIN_TEXT_CHARS:
        raise document_error("no_text", f"{text_chars} characters on {len(pages)} pages")
    if glyph_code_ratio("\n".join(p.text for p in pages)) > GARBLED_RATIO:
        raise document_error("garbled", "text is mostly /XX glyph codes")
    return info, pages


if __name__ == "__main__":
    _worker_main(sys.argv[1:])

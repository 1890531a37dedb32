"""`hearth summarize FILE`: summarize a document (any type services/readers reads) with page references,
streamed, as Markdown or JSON.

Ctrl-C stops the summary. `--out` is written atomically (a temporary file renamed into place), so an
error or a stop never leaves a half-written summary behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

from desktop.cli.common import ProgressLine, open_settings, print_json
from desktop.core.errors import AppError
from desktop.core.events import Event, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.summarize import (
    MODES,
    STYLES,
    format_pages,
)
from desktop.core.types import Summary
from desktop.services.tasks import Pages, PagesJob


def register(sub: Any) -> None:
    p = sub.add_parser(
        "summarize",
        help="summarize a document (PDF, Word, text, Markdown, HTML), with page references",
        description="Summarize a document of any length. Each point says which pages it comes from.",
    )
    p.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help="a PDF, .docx, .txt, .md or .html file, or - for text on standard input",
    )
    p.add_argument(
        "--document",
        metavar="NAME",
        help="summarize a document already in your library (file name, part of its path, or title)",
    )
    p.add_argument("--style", choices=STYLES, help="paragraph, key_points or detailed (default: the setting)")
    p.add_argument("--length", type=int, metavar="WORDS", help="target length in words")
    p.add_argument(
        "--mode",
        choices=MODES,
        help="grounded: the points are the document's own sentences and the model writes only a short, "
        "checked overview; abstractive: the model writes every point; auto: grounded for models "
        "under 1B parameters (default: the summary_mode setting, auto unless changed)",
    )
    p.add_argument("--out", metavar="PATH", help="write the Markdown summary to this file")
    p.add_argument("--json", action="store_true", help="print the summary, its points and stats as JSON")
    p.add_argument("--model", help="model name or GGUF path (default: the setting, else the bundled model)")
    p.set_defaults(func=run)


def library_pages(name: str) -> Pages:
    """Pages of a ready library document matched by file name, path or title, as stored in
    library.sqlite (the file is not read again)."""
    from desktop.services.library import Library

    with Library(check_index=False) as lib:
        row = lib.find_document(name)
        pages = lib.pages(row.sha256)
    return Pages(tuple(pages), row.title or Path(row.path).stem.replace("_", " "), Path(row.path).name)


def reader(args: argparse.Namespace) -> PagesJob:
    """How the document is read: a library document's stored pages, standard input, or the file."""
    from desktop.services import tasks

    if args.document is not None:
        doc = library_pages(args.document)  # before minutes of work: an unknown name fails now
        return tasks.given(doc)
    if args.file == "-":
        return tasks.given(tasks.text_pages(sys.stdin.read(), "standard input"))
    path = Path(args.file).expanduser()
    return lambda cancel: tasks.file_pages(path, cancel)


def to_markdown(summary: Summary, source: str) -> str:
    lines = [f"# Summary: {summary.title}" if summary.title else "# Summary", ""]
    lines.append(summary.text if summary.text else "_The model produced no usable summary._")
    lines += ["", "## Page references", ""]
    for i, point in enumerate(summary.points, 1):
        words = point.text.split()
        short = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
        lines.append(f"{i}. {format_pages(point.pages)} — {short}")
    if summary.stats.get("mode") == "grounded":
        how = "key points quoted from the document, overview written by the model from them"
    else:
        how = "one pass" if summary.levels == 1 else f"map–reduce, {summary.levels} levels"
    lines += [
        "",
        f"_{summary.page_count} pages of {source}, {how}. Page numbers are the document's own "
        "(sections, for notes and web pages), taken from the passages each point was written from._",
        "",
    ]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that the file is either complete or untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_out(path_arg: str | None) -> Path | None:
    if not path_arg:
        return None
    out = Path(path_arg).expanduser().resolve()
    if out.is_dir():
        raise AppError(f"{out} is a folder.", "Give a file name for the summary, e.g. summary.md.")
    if not out.parent.is_dir():
        raise AppError(
            f"The folder {out.parent} does not exist.", "Create it first, or choose another place."
        )
    if not os.access(out.parent, os.W_OK):
        raise AppError(f"Hearth may not write in {out.parent}.", "Choose a folder you can write to.")
    return out


def run(args: argparse.Namespace) -> int:
    from desktop.services import readers, tasks
    from desktop.services.runtime import open_runtime
    from desktop.services.sentences import EmbeddingRanker

    out = _check_out(args.out)  # before minutes of work, not after
    if args.length is not None and not 20 <= args.length <= 2000:
        raise AppError("--length must be between 20 and 2000 words.")
    if (args.file is None) == (args.document is None):
        raise AppError("Give a FILE to summarize, or --document NAME for one in your library.")
    settings = open_settings()
    stream_out = not args.json and out is None
    bar = ProgressLine()
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    doc: Pages | None = None  # what was read: its title heads the streamed summary
    started = False

    def on_event(event: Event) -> None:
        nonlocal started
        if isinstance(event, Token):
            if stream_out:
                if not started:
                    bar.clear()
                    title = doc.title if doc is not None else ""
                    sys.stdout.write(f"# Summary: {title}\n\n" if title else "# Summary\n\n")
                    started = True
                sys.stdout.write(event.text)
                sys.stdout.flush()
        else:
            bar(event)

    read = reader(args)

    def named(cancel: CancelToken) -> Generator[Event, None, Pages]:
        nonlocal doc
        doc = yield from read(cancel)
        return doc

    try:
        # A handle only: the model loads when the pages have been read.
        runtime, choice = open_runtime(settings, args.model)
        with runtime:
            job = tasks.summarize(
                runtime,
                named,
                settings,
                ranker=EmbeddingRanker(),
                style=args.style,
                mode=args.mode,
                length=args.length,
                model_params=choice.model.n_params,
            )
            summary: Summary = run_job(job, on_event, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
        readers.close_workers()  # a one-shot command keeps no PDF worker around
        bar.clear()
    source = doc.source if doc is not None else ""
    if args.json:
        print_json(
            {
                "file": args.file or args.document,
                **summary.to_dict(),
                "markdown": to_markdown(summary, source),
            }
        )
    if out is not None:
        write_atomically(out, to_markdown(summary, source))
        if not args.json:
            print(f"hearth: summary written to {out}", file=sys.stderr)
    elif stream_out:
        markdown = to_markdown(summary, source)
        # The summary itself was streamed; finish with what follows it.
        tail = markdown.split(summary.text, 1)[1] if summary.text and started else markdown
        sys.stdout.write(tail if started else markdown)
        sys.stdout.flush()
    return 0

"""`hearth library add|list|remove`: build and inspect the document library from the terminal."""

from __future__ import annotations

import argparse
from typing import Any

from desktop.cli.common import ProgressLine, print_json
from desktop.core.jobs import run_job
from desktop.core.terminal import inline


def register(sub: Any) -> None:
    p = sub.add_parser("library", help="add, list and remove documents in your library")
    lsub = p.add_subparsers(dest="library_command", metavar="ACTION", required=True)
    add = lsub.add_parser(
        "add",
        help="add documents (PDF, Word .docx, .txt, .md, .html) or folders of them "
        "(incremental; resumes unfinished work)",
    )
    add.add_argument(
        "paths",
        nargs="*",
        help="files or folders (none: just resume); for a name that starts with '-', "
        "put -- before the names: hearth library add -- -rf.pdf",
    )
    add.add_argument("--collection", default="default")
    add.add_argument(
        "--shared",
        action="store_true",
        help="add to the team library (the Chroma server in the library_server_url setting): its "
        "collection team:NAME, searched by everyone who names the same server and prefix",
    )
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=_add)
    ls = lsub.add_parser("list", help="documents and their status, with the reason for each problem")
    ls.add_argument("--collection")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    rm = lsub.add_parser("remove", help="forget files or folders (the files themselves are not touched)")
    rm.add_argument("paths", nargs="*")
    rm.add_argument("--collection", default="default")
    rm.add_argument("--missing", action="store_true", help="forget files that no longer exist")
    rm.set_defaults(func=_remove)


def _open(check_index: bool = True) -> Any:
    from desktop.services.library import Library

    return Library(check_index=check_index)


def _add(args: argparse.Namespace) -> int:
    from desktop.core.errors import AppError
    from desktop.services.embeddings import Embedder
    from desktop.services.library import Library
    from desktop.services.library_remote import is_shared, shared_collection

    progress = ProgressLine()
    # Nothing else runs in this process, so the embedder may use every core.
    import os

    collection = args.collection
    with Library(embedder=Embedder(threads=os.cpu_count() or 1)) as lib:
        if args.shared or is_shared(collection):
            collection = shared_collection(collection)
            if lib.team is None:
                raise AppError(
                    "No team library server is set, so Hearth cannot add to the team library.",
                    "Name it with: hearth settings set library_server_url http://HOST:PORT "
                    "(and library_server_prefix, the same for everyone sharing it).",
                )
        result = run_job(lib.with_notices(lib.add_job(args.paths, collection)), progress)
    progress.clear()
    if args.json:
        print_json(result.to_dict())
    else:
        print(
            f"{result.ready} indexed ({result.pages} pages, {result.chunks} passages), "
            f"{result.unchanged} unchanged, "
            f"{result.replaced} replaced, {result.moved} moved, {len(result.failed)} not readable "
            f"in {result.seconds:.1f}s"
        )
        for path, reason, message in result.failed:
            print(f"  ✗ {inline(str(path))}: {inline(message)} [{reason}]")
    return 1 if result.failed and not result.ready and not result.unchanged else 0


def _list(args: argparse.Namespace) -> int:
    # Listing reads library.sqlite only: no index health check (a child process loading Chroma,
    # seconds) for a command that should answer at once. The next add or ask checks the index.
    with _open(check_index=False) as lib:
        rows = lib.files(args.collection)
    if args.json:
        print_json(
            [
                {"collection": r.collection, "path": r.path, "status": r.status, "title": r.title,
                 "pages": r.page_count, "chunks": r.chunks, "reason": r.reason, "message": r.message,
                 "hint": r.hint}
                for r in rows
            ]
        )  # fmt: skip
        return 0
    if not rows:
        print("The library is empty. Add documents with `hearth library add PATH`.")
    for r in rows:
        detail = f"{r.page_count} pages" if r.status == "ready" else r.status
        if r.status == "error":
            detail = f"{r.message} {r.hint}".strip()
        print(f"[{inline(r.collection)}] {inline(r.path)}: {inline(detail)}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    with _open() as lib:
        n = lib.prune(args.collection) if args.missing else lib.remove(args.paths, args.collection)
    print(f"{n} file(s) removed from the library.")
    return 0

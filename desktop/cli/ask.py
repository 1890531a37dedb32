"""`hearth ask "question"`: answer from your documents, with numbered sources shown first.

The evidence (quotes with their page) is printed as soon as it is chosen; a model sentence, when
one survives the check, follows. `--json` prints the whole Answer: per-sentence sources and
`supported`, which citations were `used`, each citation's exact `quote`, `abstained`, `mode`,
`cut`, the gate's verdict and timings. It calls the same use case as the window's chat
(`services/tasks.answer`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.errors import AppError
from desktop.core.events import Event, Notice, Sources, Token
from desktop.core.jobs import run_job
from desktop.core.rag import ASK_MODES, check_question


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="ask a question of your documents (cited answer)")
    p.add_argument("question")
    p.add_argument("--collection", action="append", help="collection to search (repeatable; default: all)")
    p.add_argument(
        "--document",
        metavar="NAME",
        help="answer from one library document (file name, part of its path, or title); all of it is "
        "read when it fits the model's context",
    )
    p.add_argument(
        "--mode",
        choices=ASK_MODES,
        help="grounded: the answer quotes the evidence, plus at most two model sentences the quotes "
        "support; checked: the model writes the answer and every sentence is checked, unsupported "
        "figures and names marked; auto: grounded for models under 1B parameters (default: the "
        "answer_mode setting, auto unless changed)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--model")
    p.set_defaults(func=run)


def resolve_document(lib: Any, name: str, collections: tuple[str, ...]) -> str:
    """The sha256 of the one ready document in `collections` matched by file name, path or title."""
    return str(lib.find_document(name, collections).sha256)


def check_library(lib: Any, collections: tuple[str, ...]) -> None:
    """Refuse plainly when there is nothing to answer from: no documents, or none readable yet."""
    files = [r for c in collections for r in lib.files(c)]
    if not files:
        raise AppError(
            "There are no documents in your library, so there is nothing to answer from.",
            "Add PDFs first: hearth library add PATH",
        )
    if any(r.status == "ready" for r in files):
        return
    if all(r.status == "error" for r in files):
        raise AppError(
            f"None of the {len(files)} file(s) in your library could be read, so there is nothing to "
            "answer from.",
            "`hearth library list` shows why each one failed; add readable PDFs with hearth library add PATH",
        )
    raise AppError(
        "Your documents are not indexed yet, so there is nothing to answer from.",
        "Finish indexing with: hearth library add PATH (it resumes where it stopped).",
    )


def run(args: argparse.Namespace) -> int:
    from desktop.services import tasks
    from desktop.services.library import Library
    from desktop.services.runtime import open_runtime

    question = check_question(args.question)
    settings = open_settings()
    with Library() as lib:
        known = lib.collections()
        unknown = [c for c in args.collection or () if c not in known]
        if unknown:
            raise AppError(
                f"There is no collection named “{unknown[0]}” in your library.",
                f"Collections: {', '.join(known)}."
                if known
                else "Add documents first: hearth library add PATH",
            )
        collections = tuple(args.collection or known)
        check_library(lib, collections)
        document = resolve_document(lib, args.document, collections) if args.document else None
        # A handle only: the model loads (seconds) when the evidence answers the question.
        runtime, choice = open_runtime(settings, args.model)
        with runtime:
            streamed: list[str] = []

            def on_event(event: Event) -> None:
                if args.json:
                    return
                if isinstance(event, Sources):
                    for c in event.citations:
                        print(f"[{c.n}] {c.title} p.{c.page} — {c.path}", file=sys.stderr)
                    print(file=sys.stderr)
                elif isinstance(event, Token):
                    streamed.append(event.text)
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif isinstance(event, Notice):
                    print(f"hearth: {event.message}", file=sys.stderr)

            # The same use case the window's chat calls (services/tasks.py).
            job = tasks.answer(
                runtime,
                lib,
                question,
                collections,
                settings,
                mode=args.mode,
                document=document,
                n_ctx=choice.plan.n_ctx,
                model_params=choice.model.n_params,
            )
            answer = run_job(lib.with_notices(job), on_event)  # the team library not answering …
    if args.json:
        print_json(answer.to_dict())
    elif not streamed:
        print(answer.text)
    else:
        print()
    return 0

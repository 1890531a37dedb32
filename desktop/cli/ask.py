"""`hearth ask "question"`: answer from your documents, with numbered sources shown first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.chat import GenerationParams
from desktop.core.errors import AppError
from desktop.core.events import Event, Sources, Token
from desktop.core.jobs import run_job
from desktop.core.rag import AskRequest, ask_job


def register(sub: Any) -> None:
    p = sub.add_parser("ask", help="ask a question of your documents (cited answer)")
    p.add_argument("question")
    p.add_argument("--collection", action="append", help="collection to search (repeatable; default: all)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from desktop.services.library import Library
    from desktop.services.runtime import open_runtime

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
        # A handle only: the model loads (seconds) when retrieval found something to answer from.
        runtime, _choice = open_runtime(settings, args.model)
        with runtime:
            request = AskRequest(
                args.question,
                collections,
                params=GenerationParams(max_tokens=int(settings["max_answer_tokens"]), temperature=0.2),
                max_sources=int(settings["sources_per_answer"]),
            )

            def on_event(event: Event) -> None:
                if args.json:
                    return
                if isinstance(event, Sources):
                    for c in event.citations:
                        print(f"[{c.n}] {c.title} p.{c.page} — {c.path}", file=sys.stderr)
                    print(file=sys.stderr)
                elif isinstance(event, Token):
                    sys.stdout.write(event.text)
                    sys.stdout.flush()

            job = ask_job(runtime, lib, request, runtime.count_tokens, start_model=lambda: runtime.n_ctx)
            answer = run_job(job, on_event)
    if args.json:
        print_json(answer.to_dict())
    elif not answer.found:
        print(answer.text)
    else:
        print()
    return 0

"""`hearth compare`: ask two (or more) models the same question, one after the other, and see both
answers with their stats. Kept as one turn of a chat (`hearth chats show` / `export` show both);
`hearth chat --once Q --compare MODEL` does the same from a chat.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.errors import AppError
from desktop.core.events import Event, Notice, Progress, Token
from desktop.core.jobs import run_job
from desktop.core.types import ChatMessage


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="ask two models the same question, one after the other; both answers with their stats",
    )
    p.add_argument("question", help="the question both models answer")
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        required=True,
        help="a model to ask (name, GGUF path or 'base + adapter'; give it twice or more). The chat "
        "continues from the first one's answer",
    )
    p.add_argument("--json", action="store_true", help="print the answers and their stats as JSON")
    p.add_argument("--system", help="system prompt for this chat")
    p.add_argument("--max-tokens", type=int, help="longest answer, in tokens")
    p.add_argument("--seed", type=int, default=-1, help="fixed seed for repeatable answers")
    p.add_argument("--collection", action="append", metavar="NAME", help="answer from these collections")
    p.add_argument("--resume", type=int, metavar="ID", help="ask in a saved conversation")
    p.add_argument("--no-save", action="store_true", help="do not keep this conversation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    models = list(args.model or [])
    if len(models) < 2:
        raise AppError("Give two models to compare.", "For example: hearth compare 'Q' --model A --model B")
    return compare_turn(args, args.question, models)


def run_chat(args: argparse.Namespace) -> int:
    """`hearth chat --once Q --compare MODEL`: the chat's model (--model, the resumed chat's, else the
    setting) answers first, then each --compare model."""
    if args.once is None:
        raise AppError("--compare works with --once.", "For example: hearth chat --once 'Q' --compare MODEL")
    return compare_turn(args, args.once, [args.model or "", *args.compare])


def compare_turn(args: argparse.Namespace, question: str, models: Sequence[str]) -> int:
    from desktop.cli.chat import kept_chat
    from desktop.services.compare import model_answer, planned_opener

    settings = open_settings()
    store, saved = kept_chat(args)
    if saved is not None and not models[0]:
        models = [saved.model, *models[1:]]
    if saved is not None and store is not None:
        history = store.history(saved.id)
    else:
        system = args.system if args.system is not None else str(settings["system_prompt"])
        history = [ChatMessage("system", system)] if system else []
    history.append(ChatMessage("user", question))
    collections = tuple(args.collection or (saved.collections if saved else ()))
    library = _library(collections)
    entries: list[dict[str, Any]] = []
    errors: list[AppError] = []
    try:
        for model in models:
            job = model_answer(
                planned_opener(settings),
                model,
                history,
                collections,
                settings,
                retriever=library,
                max_tokens=args.max_tokens,
                seed=args.seed,
            )
            try:
                entries.append(run_job(job, _Printer(args.json)).to_entry())
                if not args.json:
                    print_stats(entries[-1])
            except AppError as exc:
                errors.append(exc)
                entries.append(_failed(model, exc))
                if not args.json:
                    print(f"\nhearth: {model or 'the default model'}: {exc.user_message}", file=sys.stderr)
    finally:
        if library is not None:
            library.close()
    if len(errors) == len(entries):
        raise errors[0]
    chosen = next(i for i, e in enumerate(entries) if not e.get("error"))
    chat_id = _keep(store, saved, question, history, collections, entries, chosen)
    if args.json:
        print_json({"question": question, "answers": entries, "chosen": chosen, "chat_id": chat_id})
    return 0


class _Printer:
    """Each model's answer under its name as it streams, then its stats (nothing with --json)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, event: Event) -> None:
        if self.as_json:
            return
        if isinstance(event, Progress) and event.label.startswith("Loading "):
            print(f"\n── {event.label.removeprefix('Loading ')} ──", flush=True)
        elif isinstance(event, Token):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Notice):
            print(f"hearth: {event.message}", file=sys.stderr)


def print_stats(entry: dict[str, Any]) -> None:
    from desktop.services.chats import compare_stats_text

    print(f"\n({entry['model']}: {compare_stats_text(entry.get('stats') or {}) or 'no stats'})")


def _failed(model: str, exc: AppError) -> dict[str, Any]:
    return {"model": model or "default", "text": "", "stats": {}, "citations": [], "error": exc.user_message}


def _library(collections: tuple[str, ...]) -> Any:
    if not collections:
        return None
    from desktop.cli.ask import check_library
    from desktop.services.library import Library

    library = Library()
    known = library.collections()
    unknown = [c for c in collections if c not in known]
    if unknown:
        library.close()
        raise AppError(f"There is no collection named “{unknown[0]}” in your library.")
    check_library(library, collections)
    return library


def _keep(
    store: Any,
    saved: Any,
    question: str,
    history: list[ChatMessage],
    collections: tuple[str, ...],
    entries: list[dict[str, Any]],
    chosen: int,
) -> int | None:
    """One turn: the question, then one answer holding every model's (services/chats.py)."""
    if store is None:
        return None
    first = entries[chosen]
    chat = saved
    if chat is None:
        system = history[0].content if history[0].role == "system" else ""
        title = question.strip().splitlines()[0][:60] if question.strip() else "New chat"
        chat = store.create_chat(title, model=first["model"], system_prompt=system, collections=collections)
    store.add_message(chat.id, "user", question)
    meta: dict[str, Any] = {"stats": first["stats"], "model": first["model"]}
    if first["citations"]:
        meta["citations"] = first["citations"]
    message = store.add_message(chat.id, "assistant", first["text"], meta)
    for e in entries:
        if e is not first:
            message = store.add_comparison(message.id, first["model"], e)
    return int(chat.id)

"""`hearth chat`: talk with the model in the terminal, streamed. Ctrl-C stops the answer, not Hearth."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Generator
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.errors import AppError, Cancelled
from desktop.core.events import Event, Notice, Sources, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.types import ChatMessage, Role
from desktop.services.chats import ChatStore, StreamingAnswer, open_store
from desktop.services.tasks import Reply, reply_of


def register(sub: Any) -> None:
    p = sub.add_parser("chat", help="chat with the model in the terminal (streamed)")
    p.add_argument("--once", metavar="MESSAGE", help="ask one question, print the answer, exit")
    p.add_argument("--json", action="store_true", help="with --once: print the answer and stats as JSON")
    p.add_argument("--model", help="model name or GGUF path (default: the setting, else the bundled model)")
    p.add_argument("--system", help="system prompt for this chat")
    p.add_argument("--max-tokens", type=int, help="longest answer, in tokens")
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int, default=-1, help="fixed seed for repeatable answers")
    p.add_argument(
        "--resume", type=int, metavar="ID", help="continue a saved conversation (see `hearth chats`)"
    )
    p.add_argument("--no-save", action="store_true", help="do not keep this conversation")
    p.add_argument(
        "--collection",
        action="append",
        metavar="NAME",
        help="answer from this library collection, with cited sources, as the window's chat does when "
        "collections are ticked (repeatable; a resumed chat keeps its own)",
    )
    p.add_argument(
        "--compare",
        action="append",
        metavar="MODEL",
        help="with --once: then ask MODEL the same question (one model after the other); both answers, "
        "with their stats, are kept as one turn (as `hearth compare`)",
    )
    p.set_defaults(func=run)


class _Turn:
    """One reply, by the window's use cases (services/tasks.py): a cited answer from the chat's
    collections, or the model alone when it asks none."""

    def __init__(self, args: argparse.Namespace, settings: Any, runtime: Any, choice: Any) -> None:
        self.args, self.settings, self.runtime, self.choice = args, settings, runtime, choice
        self.collections: tuple[str, ...] = ()
        self.library: Any = None

    def ask_from(self, collections: tuple[str, ...]) -> None:
        if not collections:
            return
        from desktop.cli.ask import check_library
        from desktop.services.library import Library

        self.library = Library()
        known = self.library.collections()
        unknown = [c for c in collections if c not in known]
        if unknown:
            self.close()
            raise AppError(
                f"There is no collection named “{unknown[0]}” in your library.",
                f"Collections: {', '.join(known)}."
                if known
                else "Add documents first: hearth library add PATH",
            )
        check_library(self.library, collections)
        self.collections = collections

    def job(self, history: list[ChatMessage]) -> Callable[[CancelToken], Generator[Event, None, Any]]:
        from desktop.services import tasks

        if self.library is None:
            a = self.args
            return tasks.chat(
                self.runtime,
                history,
                self.settings,
                max_tokens=a.max_tokens,
                temperature=a.temperature,
                seed=a.seed,
            )
        return tasks.answer(
            self.runtime,
            self.library,
            history[-1].content,
            self.collections,
            self.settings,
            history=history[:-1],
            n_ctx=self.choice.plan.n_ctx,
            model_params=self.choice.model.n_params,
        )

    def close(self) -> None:
        if self.library is not None:
            self.library.close()
            self.library = None


def _show_sources(event: Event) -> None:
    if isinstance(event, Sources):
        for c in event.citations:
            print(f"[{c.n}] {c.title} p.{c.page} — {c.path}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from desktop.services.runtime import open_runtime

    if args.compare:
        from desktop.cli.compare import run_chat

        return run_chat(args)
    settings = open_settings()
    store, saved = kept_chat(args)
    runtime, choice = open_runtime(settings, args.model or (saved.model if saved else None))
    if saved is not None and store is not None:
        history = store.history(saved.id)
    else:
        system = args.system if args.system is not None else str(settings["system_prompt"])
        history = [ChatMessage("system", system)] if system else []
    collections = tuple(args.collection or (saved.collections if saved else ()))
    keeper = _Keeper(store, saved, choice.model.name, history, collections)
    turn = _Turn(args, settings, runtime, choice)
    turn.ask_from(collections)
    try:
        with runtime:
            if args.once is not None:
                history.append(ChatMessage("user", args.once))
                return _once(turn, history, args.json, choice, keeper)
            return _interactive(turn, history, choice, keeper)
    finally:
        turn.close()


def kept_chat(args: argparse.Namespace) -> tuple[ChatStore | None, Any]:
    """The chat store (None with --no-save) and the conversation --resume names (None without)."""
    store = None if args.no_save else open_store()
    if not args.resume:
        return store, None
    try:
        return store, (store or open_store()).chat(args.resume)
    except KeyError:
        raise AppError(
            f"There is no saved conversation {args.resume}.", "`hearth chats list` shows them."
        ) from None


class _Keeper:
    """Saves the conversation as it goes, so a crash or Ctrl-D loses nothing said."""

    def __init__(
        self,
        store: ChatStore | None,
        chat: Any,
        model: str,
        history: list[ChatMessage],
        collections: tuple[str, ...] = (),
    ) -> None:
        self.store, self.chat, self.model, self.collections = store, chat, model, collections
        self.system = history[0].content if history and history[0].role == "system" else ""

    def add(self, role: Role, content: str, meta: dict[str, Any] | None = None) -> None:
        if self.store is None:
            return
        if self.chat is None:
            title = content.strip().splitlines()[0][:60] if content.strip() else "New chat"
            self.chat = self.store.create_chat(
                title, model=self.model, system_prompt=self.system, collections=self.collections
            )
        self.store.add_message(self.chat.id, role, content, meta)

    def new(self) -> None:
        self.chat = None

    def streaming(self) -> StreamingAnswer | None:
        """An answer row that is saved while it streams (None when nothing is being kept)."""
        if self.store is None or self.chat is None:
            return None
        return StreamingAnswer(self.store, self.chat.id)


def _once(turn: _Turn, history: list[ChatMessage], as_json: bool, choice: Any, keeper: _Keeper) -> int:
    notices: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Token) and not as_json:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Notice):
            notices.append(event.message)
            if not as_json:
                print(f"hearth: {event.message}", file=sys.stderr)
        elif not as_json:
            _show_sources(event)

    keeper.add("user", history[-1].content)
    saving = keeper.streaming()

    streamed: list[str] = []

    def on_event_saved(event: Event) -> None:
        if isinstance(event, Token):
            streamed.append(event.text)
            if saving is not None:
                saving.add(event.text)
        on_event(event)

    try:
        result = run_job(turn.job(history), on_event_saved)
    except AppError:
        if saving is not None:
            if saving.text:
                saving.finish(meta={"failed": True})
            else:
                saving.discard()
        raise
    reply = reply_of(result)
    if saving is not None:
        saving.finish(reply.text, _meta(reply))
    if as_json:
        print_json(
            {
                "answer": reply.text,
                "stats": reply.stats,
                "citations": list(reply.citations),
                "model": choice.model.name,
                "plan": {k: v for k, v in choice.plan.to_dict().items() if k != "memory"},
                "notices": notices,
                "chat_id": keeper.chat.id if keeper.chat else None,
            }
        )
    elif not streamed:  # an abstention is said whole, not streamed
        print(reply.text)
    else:
        print()
    return 0


def _meta(reply: Reply) -> dict[str, Any]:
    """What is kept with the answer: as the window keeps it, so either can continue the chat."""
    meta: dict[str, Any] = {"stats": reply.stats}
    if reply.citations:
        meta["citations"] = list(reply.citations)
    return meta


def _interactive(turn: _Turn, history: list[ChatMessage], choice: Any, keeper: _Keeper) -> int:
    print(
        f"Hearth — chatting with {choice.model.name} on {choice.plan.backend.upper()} "
        f"({choice.plan.reason}). Ctrl-C stops an answer; Ctrl-D or /quit leaves.",
        file=sys.stderr,
    )
    if turn.collections:
        print(f"Answers come from your documents in: {', '.join(turn.collections)}.", file=sys.stderr)
    print("Commands: /new starts over, /stats shows the last answer's speed.", file=sys.stderr)
    last_stats = None
    while True:
        try:
            text = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if not text:
            continue
        if text in ("/quit", "/exit"):
            return 0
        if text == "/new":
            history = history[:1] if history and history[0].role == "system" else []
            keeper.new()
            print("(new conversation)", file=sys.stderr)
            continue
        if text == "/stats":
            print(last_stats or "(no answer yet)", file=sys.stderr)
            continue
        history.append(ChatMessage("user", text))
        keeper.add("user", text)
        cancel = CancelToken()
        previous = signal.signal(signal.SIGINT, lambda *_, c=cancel: c.cancel())
        sys.stdout.write("hearth> ")
        parts: list[str] = []
        saving = keeper.streaming()

        def on_event(event: Event, parts: list[str] = parts, saving: Any = saving) -> None:
            if isinstance(event, Token):
                parts.append(event.text)
                if saving is not None:
                    saving.add(event.text)
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, Notice):
                print(f"\n[{event.message}]", file=sys.stderr)
            else:
                _show_sources(event)

        try:
            result = run_job(turn.job(history), on_event, cancel)
            reply = reply_of(result)
            history.append(ChatMessage("assistant", reply.text))
            if saving is not None:
                saving.finish(reply.text, _meta(reply))
            last_stats = reply.stats
            print() if parts else print(reply.text)
        except Cancelled:
            print("\n[stopped]", file=sys.stderr)
            if parts:  # keep what was said, so the next turn has the context the user saw
                history.append(ChatMessage("assistant", "".join(parts)))
                if saving is not None:
                    saving.finish("".join(parts), {"stopped": True})
            else:
                history.pop()
                if saving is not None:
                    saving.discard()
        except AppError as exc:
            print(f"\nhearth: {exc.user_message}" + (f"\n  {exc.hint}" if exc.hint else ""), file=sys.stderr)
            history.pop()
            if saving is not None:
                if parts:
                    saving.finish("".join(parts), {"failed": True})
                else:
                    saving.discard()
        finally:
            signal.signal(signal.SIGINT, previous)

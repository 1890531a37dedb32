"""`hearth chat`: talk with the model in the terminal, streamed. Ctrl-C stops the answer, not Hearth."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.chat import ChatRequest, GenerationParams, chat_job
from desktop.core.errors import AppError, Cancelled
from desktop.core.events import Event, Notice, Token
from desktop.core.jobs import CancelToken, run_job
from desktop.core.types import ChatMessage, Completion, Role
from desktop.services.chats import ChatStore, StreamingAnswer, open_store


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
    p.set_defaults(func=run)


def _params(args: argparse.Namespace, settings: Any) -> GenerationParams:
    return GenerationParams(
        max_tokens=args.max_tokens or int(settings["max_answer_tokens"]),
        temperature=settings["temperature"] if args.temperature is None else args.temperature,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    from desktop.services.runtime import open_runtime

    settings = open_settings()
    store = None if args.no_save else open_store()
    saved = None
    if args.resume:
        try:
            saved = (store or open_store()).chat(args.resume)
        except KeyError:
            raise AppError(
                f"There is no saved conversation {args.resume}.", "`hearth chats list` shows them."
            ) from None
    runtime, choice = open_runtime(settings, args.model or (saved.model if saved else None))
    if saved is not None and store is not None:
        history = store.history(saved.id)
    else:
        system = args.system if args.system is not None else str(settings["system_prompt"])
        history = [ChatMessage("system", system)] if system else []
    params = _params(args, settings)
    keeper = _Keeper(store, saved, choice.model.name, history)
    with runtime:
        if args.once is not None:
            history.append(ChatMessage("user", args.once))
            return _once(runtime, history, params, args.json, choice, keeper)
        return _interactive(runtime, history, params, choice, keeper)


class _Keeper:
    """Saves the conversation as it goes, so a crash or Ctrl-D loses nothing said."""

    def __init__(self, store: ChatStore | None, chat: Any, model: str, history: list[ChatMessage]) -> None:
        self.store, self.chat, self.model = store, chat, model
        self.system = history[0].content if history and history[0].role == "system" else ""

    def add(self, role: Role, content: str, meta: dict[str, Any] | None = None) -> None:
        if self.store is None:
            return
        if self.chat is None:
            title = content.strip().splitlines()[0][:60] if content.strip() else "New chat"
            self.chat = self.store.create_chat(title, model=self.model, system_prompt=self.system)
        self.store.add_message(self.chat.id, role, content, meta)

    def new(self) -> None:
        self.chat = None

    def streaming(self) -> StreamingAnswer | None:
        """An answer row that is saved while it streams (None when nothing is being kept)."""
        if self.store is None or self.chat is None:
            return None
        return StreamingAnswer(self.store, self.chat.id)


def _once(
    runtime: Any,
    history: list[ChatMessage],
    params: GenerationParams,
    as_json: bool,
    choice: Any,
    keeper: _Keeper,
) -> int:
    notices: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Token) and not as_json:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Notice):
            notices.append(event.message)
            if not as_json:
                print(f"hearth: {event.message}", file=sys.stderr)

    keeper.add("user", history[-1].content)
    saving = keeper.streaming()

    def on_event_saved(event: Event) -> None:
        if saving is not None and isinstance(event, Token):
            saving.add(event.text)
        on_event(event)

    try:
        result: Completion = run_job(chat_job(runtime, ChatRequest(tuple(history), params)), on_event_saved)
    except AppError:
        if saving is not None:
            if saving.text:
                saving.finish(meta={"failed": True})
            else:
                saving.discard()
        raise
    if saving is not None:
        saving.finish(result.text, {"stats": result.stats.to_dict()})
    if as_json:
        print_json(
            {
                "answer": result.text,
                "stats": result.stats.to_dict(),
                "model": choice.model.name,
                "plan": {k: v for k, v in choice.plan.to_dict().items() if k != "memory"},
                "notices": notices,
                "chat_id": keeper.chat.id if keeper.chat else None,
            }
        )
    else:
        print()
    return 0


def _interactive(
    runtime: Any, history: list[ChatMessage], params: GenerationParams, choice: Any, keeper: _Keeper
) -> int:
    print(
        f"Hearth — chatting with {choice.model.name} on {choice.plan.backend.upper()} "
        f"({choice.plan.reason}). Ctrl-C stops an answer; Ctrl-D or /quit leaves.",
        file=sys.stderr,
    )
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
            print(last_stats.to_dict() if last_stats else "(no answer yet)", file=sys.stderr)
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

        try:
            result = run_job(chat_job(runtime, ChatRequest(tuple(history), params)), on_event, cancel)
            history.append(ChatMessage("assistant", result.text))
            if saving is not None:
                saving.finish(result.text, {"stats": result.stats.to_dict()})
            last_stats = result.stats
            print()
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

"""`hearth chats`: the saved conversations — list, search, show, export, delete."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from desktop.cli.common import print_json
from desktop.core.errors import AppError
from desktop.services.chats import ChatStore, open_store


def register(sub: Any) -> None:
    p = sub.add_parser("chats", help="saved conversations: list, show, export, delete")
    s = p.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list conversations, newest first")
    ls.add_argument("--search", default="", help="only those whose title or messages contain this")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    show = s.add_parser("show", help="print a conversation")
    show.add_argument("id", type=int)
    show.set_defaults(func=_show)
    ex = s.add_parser("export", help="export a conversation as Markdown (or JSON)")
    ex.add_argument("id", type=int)
    ex.add_argument("--json", action="store_true")
    ex.add_argument("--out", type=Path, help="write to this file instead of the terminal")
    ex.set_defaults(func=_export)
    rm = s.add_parser("delete", help="delete a conversation")
    rm.add_argument("id", type=int)
    rm.set_defaults(func=_delete)


def _get(store: ChatStore, chat_id: int) -> Any:
    try:
        return store.chat(chat_id)
    except KeyError:
        raise AppError(f"There is no conversation {chat_id}.", "`hearth chats list` shows them.") from None


def _list(args: argparse.Namespace) -> int:
    store = open_store()
    chats = store.chats(args.search)
    if args.json:
        print_json([{"id": c.id, "title": c.title, "model": c.model, "updated": c.updated} for c in chats])
        return 0
    if not chats:
        print("No conversations yet." if not args.search else "No conversation matches.")
    for c in chats:
        when = dt.datetime.fromtimestamp(c.updated).strftime("%Y-%m-%d %H:%M")
        print(f"{c.id:>5}  {when}  {c.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    store = open_store()
    _get(store, args.id)
    sys.stdout.write(store.export_markdown(args.id))
    return 0


def _export(args: argparse.Namespace) -> int:
    store = open_store()
    _get(store, args.id)
    text = (
        json.dumps(store.export_json(args.id), indent=2, ensure_ascii=False, default=str)
        if args.json
        else store.export_markdown(args.id)
    )
    if args.out:
        tmp = args.out.with_name(args.out.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out)
        print(f"saved {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _delete(args: argparse.Namespace) -> int:
    store = open_store()
    chat = _get(store, args.id)
    store.delete_chat(args.id)
    print(f"deleted {chat.title!r}", file=sys.stderr)
    return 0

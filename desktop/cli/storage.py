"""`hearth storage`: how chats and document text are kept on disk — status, unlock, plain or encrypted.

Chats and the library's text are encrypted by default (the key in the OS keyring, or derived
from a passphrase when there is no keyring). Storing without encryption is an explicit choice
made here (or in the window), never a fallback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from desktop.cli.common import ProgressLine, print_json


def register(sub: Any) -> None:
    p = sub.add_parser("storage", help="encryption at rest: status, unlock, store plain or encrypted")
    s = p.add_subparsers(dest="storage_command", metavar="ACTION")
    p.set_defaults(func=_status, json=False)
    st = s.add_parser("status", help="how chats and documents are kept on disk (the default action)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)
    un = s.add_parser(
        "unlock", help="check the key (keyring or passphrase) and finish encrypting any plain store now"
    )
    un.set_defaults(func=_unlock)
    plain = s.add_parser(
        "plain",
        help="store WITHOUT encryption: decrypts chats and library in place and removes the key",
    )
    plain.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    plain.set_defaults(func=_plain)
    enc = s.add_parser("encrypt", help="undo `plain`: a new key (keyring or passphrase), stores encrypted")
    enc.set_defaults(func=_encrypt)
    rec = s.add_parser(
        "recovery-passphrase",
        help="a passphrase that opens the data if the keyring ever loses its key",
    )
    rec.set_defaults(func=_recovery)


def _status(args: argparse.Namespace) -> int:
    from desktop.services import database

    status = database.at_rest_status()
    if getattr(args, "json", False):
        print_json(status)
        return 0
    print(status["summary"])
    if status["key_location"]:
        print(f"  key: {status['key_location']}" + (f", {status['kdf']}" if status["kdf"] else ""))
    if status["recovery_passphrase"]:
        print("  a recovery passphrase is set")
    for name, form in status["stores"].items():
        print(f"  {name}: {form}")
    print(f"  {status['vectors']['note']}")
    return 0


def _progress() -> Any:
    line = ProgressLine()

    def show(event: Any) -> None:
        line(event)
        if event.done >= event.total:
            line.clear()
            print(f"hearth: {event.label}: done", file=sys.stderr)

    return show


def _unlock(args: argparse.Namespace) -> int:
    from desktop.services import database

    database.prepare(progress=_progress())
    print(database.at_rest_status()["summary"])
    return 0


def _plain(args: argparse.Namespace) -> int:
    from desktop.services import database

    if not args.yes:
        if not sys.stdin.isatty():
            print("hearth: add --yes to store without encryption (nothing was changed)", file=sys.stderr)
            return 2
        print(
            "Storing without encryption: anyone who gets this computer's disk, a backup of it or a "
            "synced copy of the data folder can read every chat and every document's text.",
            file=sys.stderr,
        )
        if input("Type 'plain' to decrypt your data and go on: ").strip() != "plain":
            print("hearth: nothing was changed", file=sys.stderr)
            return 1
    database.choose_plain(progress=_progress())
    print(database.at_rest_status()["summary"])
    return 0


def _encrypt(args: argparse.Namespace) -> int:
    from desktop.services import database

    database.choose_encrypted(progress=_progress())
    print(database.at_rest_status()["summary"])
    return 0


def _recovery(args: argparse.Namespace) -> int:
    from desktop.services import database

    if database.at_rest_status()["method"] != database.KEYRING:
        print("hearth: a recovery passphrase is for data whose key is in the keyring", file=sys.stderr)
        return 2
    import os

    passphrase = os.environ.get(database.PASSPHRASE_ENV) or ""
    if not passphrase:
        if not sys.stdin.isatty():
            print(f"hearth: type it in a terminal, or set {database.PASSPHRASE_ENV}", file=sys.stderr)
            return 2
        passphrase = getpass.getpass("Recovery passphrase: ")
        if getpass.getpass("Type it again: ") != passphrase:
            print("hearth: the two did not match; nothing was changed", file=sys.stderr)
            return 1
    database.set_recovery_passphrase(None, passphrase)
    print("Recovery passphrase set: if the keyring loses the key, Hearth asks for it.")
    return 0

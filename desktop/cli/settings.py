"""`hearth settings`: read and change the declared settings, and keep the model server's token in
the OS keyring. A setting the administrator's policy pins is shown as locked and cannot be set."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from desktop.cli.common import open_settings, print_json
from desktop.core.errors import AppError
from desktop.core.policy import SERVER_SETTINGS, check_server
from desktop.core.settings import BY_KEY, SETTINGS, SettingLocked


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="show or change settings (and the model server's token)")
    p.set_defaults(func=_list, json=False)
    inner = p.add_subparsers(dest="settings_command", metavar="ACTION")
    show = inner.add_parser("list", help="every setting, its value, and whether a policy locks it")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_list)
    get = inner.add_parser("get", help="one setting's value")
    get.add_argument("key", choices=sorted(BY_KEY), metavar="KEY")
    get.set_defaults(func=_get)
    put = inner.add_parser("set", help="change one setting")
    put.add_argument("key", choices=sorted(BY_KEY), metavar="KEY")
    put.add_argument("value", help='the new value ("" clears a text setting)')
    put.set_defaults(func=_set)
    token = inner.add_parser(
        "token", help="save the model server's token in the OS keyring (read from the terminal or stdin)"
    )
    token.add_argument("--clear", action="store_true", help="remove the saved token")
    token.set_defaults(func=_token)


def _opened() -> Any:
    from desktop.services import policy

    settings = open_settings()
    policy.apply(settings)
    return settings


def _list(args: argparse.Namespace) -> int:
    settings = _opened()
    if args.json:
        print_json(
            {s.key: {"value": settings[s.key], "locked_by": settings.locked_by(s.key)} for s in SETTINGS}
        )
        return 0
    for s in SETTINGS:
        lock = settings.locked_by(s.key)
        print(f"{s.key} = {settings[s.key]!r}" + (f"   (locked by {lock})" if lock else ""))
    return 0


def _get(args: argparse.Namespace) -> int:
    print(_opened()[args.key])
    return 0


def _set(args: argparse.Namespace) -> int:
    from desktop.services import policy

    settings = _opened()
    lock = settings.locked_by(args.key)
    try:
        value = BY_KEY[args.key].validate(args.value)
    except ValueError as exc:
        raise AppError(f"Not changed: {exc}.") from None
    if lock and value != settings[args.key]:
        raise AppError(
            f"{args.key} is locked by {lock}: your administrator's policy sets it to {settings[args.key]!r}.",
            "Ask your administrator to change the policy.",
        )
    if args.key in SERVER_SETTINGS and value:
        _, warning = check_server(
            args.key, value, policy=policy.load_policy(), allow_plain_http=bool(settings["allow_plain_http"])
        )
        if warning:
            print(f"hearth: warning: {warning}", file=sys.stderr)
    try:
        settings.set(args.key, value)
    except SettingLocked as exc:  # locked between the check and now
        raise AppError(f"{exc}.", "Ask your administrator to change the policy.") from None
    print(f"{args.key} = {settings[args.key]!r}")
    if args.key in SERVER_SETTINGS:
        title, sends = SERVER_SETTINGS[args.key]
        if value:
            print(f"{title}: Hearth will send it {sends}.", file=sys.stderr)
    return 0


def _token(args: argparse.Namespace) -> int:
    from desktop.services import secrets
    from desktop.services.remote_llm import TOKEN_SECRET

    if args.clear:
        removed = secrets.delete_secret(TOKEN_SECRET)
        print("Token removed." if removed else "No token was saved.")
        return 0
    secrets.require("a model server that needs a token cannot be used")
    if sys.stdin.isatty():
        value = getpass.getpass("Model server token (not shown): ")
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise AppError("No token given; nothing saved.")
    secrets.set_secret(TOKEN_SECRET, value)
    print(f"Token saved in the system keyring ({secrets.backend_name()}).")
    return 0

"""Headless front end: the same jobs as the window, driven from a terminal.

Each module in this package that defines `register(subparsers)` adds its own subcommand(s);
the handler it sets (`func`) takes the parsed args and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from desktop import __version__
from desktop.core.errors import AppError


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every subcommand, or, when `command` names a module of this package, only for
    that one (its module alone is imported: `hearth models list` stays quick)."""
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: a private assistant that runs entirely on this computer.",
    )
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    if command in names and command != "common" and not command.startswith("_"):
        names = [command]
    for name in names:
        if name.startswith("_") or name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from desktop.cli.common import safe_streams

    with safe_streams():  # before anything prints or logs: no file can drive the terminal
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first)
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from desktop.cli.common import use_terminal_for_unlock

    use_terminal_for_unlock()  # encrypted stores ask for their passphrase here, when they need one
    try:
        return int(args.func(args) or 0)
    except AppError as exc:
        print(f"hearth: {exc.user_message}", file=sys.stderr)  # made safe by the stream
        if exc.hint:
            print(f"  {exc.hint}", file=sys.stderr)
        if exc.detail and args.verbose:
            print(f"  ({exc.detail})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130

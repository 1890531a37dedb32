"""Composition root: the privacy guard first, then the window, or the command line."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from desktop.services import privacy


def main(argv: list[str] | None = None) -> int:
    # No cyclic garbage collection while starting: the start allocates tens of thousands of objects
    # that all live on (modules, classes, Qt's types), and the collector would walk them again and
    # again (5 ms of the window's first frame here). The window turns it back on after its first
    # frame (run_gui), the command line at once.
    gc.disable()
    privacy.install()  # before anything that could import a networking library
    args = list(sys.argv[1:] if argv is None else argv)
    pdfs = _pdf_arguments(args)  # "Open with Hearth": `hearth report.pdf …` from a file manager
    if (not args or pdfs) and _gui_possible():
        try:
            from desktop.ui import single_instance  # noqa: F401 (does Qt load?)
        except ImportError:
            pass  # Qt or a library it needs is missing: fall back to the terminal
        else:
            return _window(pdfs)
    gc.enable()
    from desktop.cli import main as cli_main

    if pdfs:  # no display: summarize in the terminal, and say how to keep them in the library
        if len(pdfs) > 1:
            names = " ".join(f'"{p}"' for p in pdfs)
            hint = f"hearth: to ask questions of all {len(pdfs)} files: hearth library add {names}"
            print(hint, file=sys.stderr)
        return cli_main(["summarize", str(pdfs[0])])
    return cli_main(args or ["chat"])


def _window(pdfs: list[Path]) -> int:
    """The window, unless one already runs on this data folder: then it is handed the files, comes
    to the front, and this launch ends (0)."""
    from desktop.core.errors import AppError
    from desktop.services.paths import data_dir
    from desktop.ui import single_instance

    try:
        instance = single_instance.claim_or_hand_over(data_dir(), pdfs)
    except AppError as exc:  # a window runs but did not answer; or no data folder
        single_instance.tell(exc)
        return 1
    if instance is None:
        return 0
    from desktop.ui.main_window import run_gui
    from desktop.ui.unlock_dialog import unlock_at_start

    # The data's key first (keyring, or the passphrase dialog), and plain stores from before
    # encryption converted with progress shown, before any store is opened.
    if not unlock_at_start():
        return 1
    return run_gui(open_paths=pdfs or None, instance=instance)


def _pdf_arguments(args: list[str]) -> list[Path]:
    """The arguments, if every one names an existing document Hearth reads (PDF, Word, text,
    Markdown, HTML; not a subcommand or an option)."""
    if not args or any(a.startswith("-") for a in args):
        return []
    paths = [Path(a).expanduser() for a in args]
    if not all(p.is_file() for p in paths):
        return []  # a subcommand (`hearth models list`): the readers are not loaded for nothing
    from desktop.services.readers import is_supported

    if all(is_supported(p) for p in paths):
        return [p.resolve() for p in paths]
    return []


def _gui_possible() -> bool:
    if os.environ.get("HEARTH_NO_GUI"):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    )


if __name__ == "__main__":
    raise SystemExit(main())

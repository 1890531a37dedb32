"""Composition root: the privacy guard first, then the window, or the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from desktop.services import privacy


def main(argv: list[str] | None = None) -> int:
    privacy.install()  # before anything that could import a networking library
    args = list(sys.argv[1:] if argv is None else argv)
    pdfs = _pdf_arguments(args)  # "Open with Hearth": `hearth report.pdf …` from a file manager
    if (not args or pdfs) and _gui_possible():
        try:
            from desktop.ui.main_window import run_gui
            from desktop.ui.unlock_dialog import unlock_at_start
        except ImportError:
            pass  # the window is not built yet, or Qt is missing: fall back to the terminal
        else:
            # The data's key first (keyring, or the passphrase dialog), and plain stores from
            # before encryption converted with progress shown, before any store is opened.
            if not unlock_at_start():
                return 1
            return run_gui(open_paths=pdfs or None)
    from desktop.cli import main as cli_main

    if pdfs:  # no display: summarize in the terminal, and say how to keep them in the library
        if len(pdfs) > 1:
            names = " ".join(f'"{p}"' for p in pdfs)
            hint = f"hearth: to ask questions of all {len(pdfs)} files: hearth library add {names}"
            print(hint, file=sys.stderr)
        return cli_main(["summarize", str(pdfs[0])])
    return cli_main(args or ["chat"])


def _pdf_arguments(args: list[str]) -> list[Path]:
    """The arguments, if every one names an existing document Hearth reads (PDF, Word, text,
    Markdown, HTML; not a subcommand or an option)."""
    if not args or any(a.startswith("-") for a in args):
        return []
    from desktop.services.readers import is_supported

    paths = [Path(a).expanduser() for a in args]
    if all(is_supported(p) and p.is_file() for p in paths):
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

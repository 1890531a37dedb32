"""Entry point of the packaged (PyInstaller) Hearth: `hearth …` as the console script, plus `-m`.

Hearth runs its model, PDF parser, chat-template check and vector-index probe as child
processes started as `sys.executable -m desktop.services.<module> …` (a fresh interpreter, not a
multiprocessing spawn). In the packaged app `sys.executable` is this program, not a Python, so
it answers `-m MODULE ARGS…` the way the interpreter would: it runs MODULE as `__main__` with
the rest as its arguments. Anything else is the `hearth` console script (desktop.app:main).
"""

from __future__ import annotations

import multiprocessing
import runpy
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a library's own multiprocessing children re-enter here
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [module, *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from desktop.app import main as hearth_main

    return hearth_main()


if __name__ == "__main__":
    sys.exit(main())

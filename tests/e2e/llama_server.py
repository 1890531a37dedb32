"""Run `python -m llama_cpp.server` with two changes: the CPU kernels are loaded the way Hearth
loads them (services/engine.py), and llama.cpp's extra buffer types (AMX, repacked
weights) off, because their kernels die with SIGILL on some CPUs (a virtualized Xeon with AMX here)
and `llama_cpp.server` has no option for it. Arguments are the server's own:

    python tests/e2e/llama_server.py --model M.gguf --host 127.0.0.1 --port 8012
"""

from __future__ import annotations

import runpy
from typing import Any

from desktop.services.engine import load_cpu_backends

# An engine built with runtime CPU dispatch (as Hearth's is) loads its kernels explicitly, before
# llama_cpp is imported.
load_cpu_backends()

from llama_cpp import llama_cpp as low  # noqa: E402

_default_params = low.llama_model_default_params


def _without_extra_bufts() -> Any:
    params = _default_params()
    params.use_extra_bufts = False
    return params


low.llama_model_default_params = _without_extra_bufts

if __name__ == "__main__":
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)

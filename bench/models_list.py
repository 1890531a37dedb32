"""`hearth models list` with 10 GGUFs, warm: the goal is under 0.2 s (issue 12).

Ten tiny GGUFs of the seed families (tests/ggufs.py, gguf writer) lie in a folder named by
HEARTH_MODEL_DIRS, in a throwaway home and data dir. One run reads their headers and fills the
metadata cache (discovered.json, keyed by path, size and mtime); then `models list` is timed warm,
best of N: in this process (the command itself), and as `python -m desktop models list` (what a
user waits for, Python's own start-up included). Python start-up alone (`python -c pass`) is timed
too, to say what dominates. Ratio: in-process warm seconds ÷ 0.2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 0.2
N_MODELS = 10


def _best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@contextlib.contextmanager
def _setting(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def measure(reps: int = 5) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.ggufs import FAMILIES, write_family_gguf

    with tempfile.TemporaryDirectory(prefix="hearth-bench-models-") as tmp:
        root = Path(tmp)
        folder = root / "models"
        folder.mkdir()
        for n in range(N_MODELS):
            family = FAMILIES[n % len(FAMILIES)]
            write_family_gguf(family, folder / f"tiny-{family.name}-{n}.gguf", seed=n)
        (root / "home").mkdir()
        env = {
            "HOME": str(root / "home"),  # no peer-app folders of this machine's user in the figure
            "HEARTH_DATA_DIR": str(root / "data"),
            "HEARTH_MODEL_DIRS": str(folder),
            "HEARTH_PASSPHRASE": os.environ.get("HEARTH_PASSPHRASE") or "bench: not a secret",
        }
        with _setting(env):
            from desktop.cli import main

            def list_in_process() -> None:
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    assert main(["models", "list"]) == 0
                assert out.getvalue().count("tiny-") == N_MODELS, out.getvalue()

            t0 = time.perf_counter()
            list_in_process()  # cold: every header read, the cache written
            cold = time.perf_counter() - t0
            warm = _best(list_in_process, reps)
            sub_env = {**os.environ, **env}

            def list_subprocess() -> None:
                cmd = [sys.executable, "-m", "desktop", "models", "list"]
                subprocess.run(cmd, env=sub_env, cwd=REPO, check=True, capture_output=True)

            warm_sub = _best(list_subprocess, reps)
            python = _best(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), reps)
    return {"cold_s": cold, "warm_s": warm, "warm_subprocess_s": warm_sub, "python_startup_s": python}


def run(quick: bool = False) -> list[dict[str, Any]]:
    m = measure(3 if quick else 5)
    detail = (
        f"warm {m['warm_s'] * 1000:.0f} ms in-process, {m['warm_subprocess_s'] * 1000:.0f} ms as a "
        f"subprocess (Python start-up alone {m['python_startup_s'] * 1000:.0f} ms); cold "
        f"{m['cold_s'] * 1000:.0f} ms; {N_MODELS} GGUFs"
    )
    return [
        {
            "name": "models list warm ÷ 0.2 s",
            "ratio": m["warm_s"] / GOAL_S,
            "goal": "< 1",
            "ok": m["warm_s"] < GOAL_S,
            "detail": detail,
        },
        {
            "name": "models list warm, subprocess ÷ 0.2 s",
            "ratio": m["warm_subprocess_s"] / GOAL_S,
            "goal": "(report)",
            "ok": True,
            "detail": detail,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models_list", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    m = measure(args.reps)
    print(
        f"hearth models list, {N_MODELS} GGUFs, warm, best of {args.reps}: "
        f"{m['warm_s'] * 1000:.0f} ms in-process, {m['warm_subprocess_s'] * 1000:.0f} ms as a subprocess "
        f"(python -c pass: {m['python_startup_s'] * 1000:.0f} ms); cold {m['cold_s'] * 1000:.0f} ms"
    )
    print(json.dumps(m, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

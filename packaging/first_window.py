"""Time to first window: the packaged app ÷ the venv app, in one run (issue 11; docs/packaging.md).

    python packaging/first_window.py --packaged ROOT/opt/hearth/hearth [--venv .venv/bin/hearth] [--runs 7]

Each launch is the real `hearth` program (no test hooks: the packaged one cannot take any), timed
from launch to the moment its single-instance socket appears. The window starts listening on that
socket in its `first_shown` handler, one event-loop turn after its first paint
(desktop/ui/main_window.py), so this is time to first paint plus a few milliseconds, the same for
both. The window is then killed (its model child follows it). Launches alternate venv, packaged,
venv, … after one warm-up each (the OS file cache, the venv's byte-code cache, the data folder's
first start), each app with its own data folder and socket folder. Runs under $DISPLAY when set,
else Qt's offscreen platform. Prints one JSON line: medians, every time, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(base: Path) -> dict[str, str]:
    (base / "data").mkdir(parents=True, exist_ok=True)
    runtime = base / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        "HOME": str(base / "home"),
        "PATH": "/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "XDG_RUNTIME_DIR": str(runtime),
        "HEARTH_DATA_DIR": str(base / "data"),
        "HEARTH_PASSPHRASE": "first-window timing: not a secret",
        "PYTHONPYCACHEPREFIX": str(base / "pycache"),  # the venv's byte-code cached, as a wheel's is
    }
    if os.environ.get("DISPLAY"):
        env["DISPLAY"] = os.environ["DISPLAY"]
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def launch(program: str, env: dict[str, str], timeout: float = 120.0) -> float:
    runtime = Path(env["XDG_RUNTIME_DIR"])
    for stale in runtime.glob("hearth-*"):  # left by the last killed window
        stale.unlink()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [program], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        while not any(runtime.glob("hearth-*.sock")):
            if proc.poll() is not None:
                raise RuntimeError(f"{program} exited with {proc.returncode} before its window showed")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{program} showed no window within {timeout} s")
            time.sleep(0.002)
        return time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packaged", required=True, help="the packaged hearth program")
    parser.add_argument("--venv", default=str(REPO / ".venv" / "bin" / "hearth"))
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hearth-first-window-") as tmp:
        apps = {"venv": args.venv, "packaged": args.packaged}
        envs = {name: _env(Path(tmp) / name) for name in apps}
        for name, program in apps.items():
            launch(program, envs[name], timeout=600)  # warm-up: first start of the data folder
        times: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(args.runs):
            for name, program in apps.items():
                times[name].append(launch(program, envs[name]))
    venv, packaged = statistics.median(times["venv"]), statistics.median(times["packaged"])
    print(
        json.dumps(
            {
                "name": "time to first window: packaged ÷ venv",
                "ratio": round(packaged / venv, 3),
                "goal": "<= 1.2",
                "ok": packaged / venv <= 1.2,
                "packaged_s": round(packaged, 3),
                "venv_s": round(venv, 3),
                "runs": args.runs,
                "display": "Xvfb " + os.environ["DISPLAY"] if os.environ.get("DISPLAY") else "offscreen",
                "times": {k: [round(t, 3) for t in v] for k, v in times.items()},
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m bench [--quick] [NAME …]`: run the benchmarks, print a table and JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path

import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=bench.__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, about a minute each")
    parser.add_argument("--json-out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    available = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    names = args.names or available
    rows: list[dict[str, object]] = []
    for name in names:
        if name not in available:
            print(f"unknown benchmark {name!r}; available: {', '.join(available)}", file=sys.stderr)
            return 2
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        t0 = time.perf_counter()
        print(f"== {name} …", file=sys.stderr, flush=True)
        try:
            for row in module.run(quick=args.quick):
                rows.append({"bench": name, **row})
        except Exception:  # one broken benchmark must not hide the others
            rows.append(
                {
                    "bench": name,
                    "name": "(failed)",
                    "ratio": None,
                    "goal": "",
                    "ok": False,
                    "detail": traceback.format_exc(limit=3),
                }
            )
        print(f"   {name} took {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    print("| bench | measure | ratio | goal | ok | detail |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(
            f"| {r['bench']} | {r['name']} | {ratio} | {r['goal']} | {'yes' if r['ok'] else 'NO'} "
            f"| {str(r['detail']).splitlines()[0] if r['detail'] else ''} |"
        )
    text = json.dumps(rows, indent=2, default=str)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

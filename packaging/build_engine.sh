#!/usr/bin/env bash
# Build Hearth's model engine once: a portable llama-cpp-python wheel. Prints the wheel's path.
#
#   packaging/build_engine.sh              (PYTHON=… picks the interpreter whose pip builds; default python3)
#
# Portable: llama.cpp's runtime CPU dispatch (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS, GGML_NATIVE
# off). The CPU kernels are built once per x86-64 level (x64, sse42, sandybridge, ivybridge,
# piledriver, haswell, skylakex, cannonlake, cascadelake, icelake, cooperlake, zen4, alderlake,
# sapphirerapids) into llama_cpp/lib/libggml-cpu-<variant>.so, and the best one for the CPU it
# runs on is loaded at run time (desktop/services/engine.py: load_cpu_backends). So the wheel
# does not depend on the CPU that compiled it, and it can go into the air-gapped bundle.
# (A default build uses -march=native: it may use instructions the user's CPU lacks, and on a
# Sapphire Rapids Xeon it includes AMX kernels that crash, llama.cpp #20824.)
#
# The wheel is cached outside the repository, keyed by version, architecture and flags:
#   ${HEARTH_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/engine}/<key>/
# A second run (or another checkout) reuses it. pip's own wheel cache cannot be used: it is keyed
# by the sdist, not by CMAKE_ARGS, so a native wheel built earlier would be taken for this one.
# HEARTH_ENGINE_CMAKE_ARGS replaces the flags (e.g. add -DGGML_CUDA=on); the key follows them.
# Needs a C/C++ compiler and cmake >= 3.21 (Debian: build-essential cmake); the first build takes
# several times a native build's time (about 30-40 CPU-minutes), later runs take a second.
set -euo pipefail
VERSION=0.3.36   # keep within pyproject.toml's llama-cpp-python range
PY=${PYTHON:-python3}
# $ORIGIN is literal: the variant modules find libggml-base.so next to themselves.
# shellcheck disable=SC2016
FLAGS=${HEARTH_ENGINE_CMAKE_ARGS:-'-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DCMAKE_INSTALL_RPATH=$ORIGIN'}
KEY="$VERSION-$(uname -m)-$(printf '%s' "$FLAGS" | sha256sum | cut -c1-12)"
CACHE=${HEARTH_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/engine}
DIR="$CACHE/$KEY"

found() { compgen -G "$DIR/llama_cpp_python-$VERSION-*.whl" | head -n1; }
if wheel=$(found) && [ -n "$wheel" ]; then
    echo "$wheel"
    exit 0
fi

mkdir -p "$CACHE"
TMP=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "building the portable llama-cpp-python $VERSION (once; cached in $DIR)" >&2
echo "  CMAKE_ARGS=$FLAGS" >&2
start=$SECONDS
CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$PY" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$TMP" "llama-cpp-python==$VERSION" >&2
wheel=$(compgen -G "$TMP/llama_cpp_python-$VERSION-*.whl" | head -n1) || true
[ -n "$wheel" ] || { echo "build_engine.sh: pip produced no wheel" >&2; exit 1; }
if [[ "$FLAGS" == *GGML_CPU_ALL_VARIANTS=ON* ]]; then
    # The variants must sit in llama_cpp/lib, where load_cpu_backends looks for them.
    "$PY" - "$wheel" <<'CHECK' >&2
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
variants = sorted(n for n in names if n.startswith("llama_cpp/lib/libggml-cpu-") and n.endswith(".so"))
if not variants:
    sys.exit("build_engine.sh: the wheel has no llama_cpp/lib/libggml-cpu-*.so variant modules")
print(f"  {len(variants)} CPU variants: " + " ".join(v.split("libggml-cpu-")[1][:-3] for v in variants))
CHECK
fi
mkdir -p "$DIR"
mv "$wheel" "$DIR/"
echo "  built in $((SECONDS - start)) s" >&2
found

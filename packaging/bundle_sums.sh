#!/usr/bin/env bash
# Write OUT/SHA256SUMS for the offline bundle OUT: the SHA-256 of every file in it (sha256sum's
# format, names relative to OUT, sorted), which OUT/install.sh checks before it installs anything.
#
#   packaging/bundle_sums.sh OUT        (packaging/offline_bundle.sh runs it last)
set -euo pipefail
OUT=${1:?usage: bundle_sums.sh OUT}
cd "$OUT"
if command -v sha256sum >/dev/null 2>&1; then
  sums=(sha256sum)
else
  sums=(shasum -a 256)
fi
rm -f SHA256SUMS
if find . ! -type d ! -type f | grep -q .; then
  echo "bundle_sums.sh: only plain files belong in a bundle: $(find . ! -type d ! -type f)" >&2
  exit 1
fi
# Computed in full before the file exists, so it never lists itself.
listing=$(find . -type f | sed -e 's|^\./||' | LC_ALL=C sort | tr '\n' '\0' | xargs -0 "${sums[@]}" --)
printf '%s\n' "$listing" > SHA256SUMS
echo "SHA256SUMS: $(grep -c . SHA256SUMS) files"

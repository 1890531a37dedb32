#!/usr/bin/env bash
# System packages Hearth's tests and screenshots use (Debian/Ubuntu): Qt's runtime libraries,
# strace (the privacy proof), Xvfb (screenshots), GNOME Keyring (a real Secret Service for the
# secrets test), desktop-file-utils (desktop-file-validate checks resources/hearth.desktop),
# appstream (appstreamcli validates the package's metainfo, tests/test_package_files.py).
# Installs only what is missing; needs root.
set -euo pipefail
want=(strace xvfb xauth libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
      libxcb-render-util0 libxcb-image0 libnss3 libasound2 fonts-dejavu-core
      gnome-keyring dbus desktop-file-utils appstream)
command -v dpkg-query >/dev/null || { echo "not a Debian system: install the equivalents of: ${want[*]}"; exit 0; }
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Please install: sudo apt-get install -y ${missing[*]}"; exit 0
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

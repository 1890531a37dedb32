"""The files the Linux package installs around the app (packaging/build_deb.sh): the .desktop entry
and AppStream metainfo pass their validators, the icons are rendered at every hicolor size, and a
.deb built around a stand-in app installs where it should and is removed leaving only user data.

Cheap (a few seconds): the real PyInstaller app is built by `make package` and proved by
packaging/prove_package.sh, both developer scripts, not CI."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources"
METAINFO = RESOURCES / "hearth.metainfo.xml"
APP_ID = "io.github.hearth_assistant.Hearth"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)

needs_appstream = pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
needs_desktop_utils = pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed"
)
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="not a Debian system")


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _validate_metainfo(path: Path) -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--explain", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Warnings and infos count too (only the pedantic id-style remark is tolerated).
    assert not [ln for ln in result.stdout.splitlines() if ln[:2] in ("E:", "W:", "I:")], result.stdout


def _validate_desktop(path: Path) -> None:
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs_appstream
def test_appstreamcli_accepts_the_metainfo() -> None:
    _validate_metainfo(METAINFO)


def test_the_metainfo_names_the_desktop_entry_and_its_document_types() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == "hearth.desktop"  # the name Qt is told (setDesktopFileName)
    assert root.findtext("provides/binary") == "hearth"
    entry = _desktop_entry(RESOURCES / "hearth.desktop")
    mime = entry["MimeType"].split(";")[:-1]
    assert [m.text for m in root.findall("provides/mediatype")] == mime
    version = root.find("releases/release")
    assert version is not None
    from desktop import __version__

    assert version.get("version") == __version__, "add a <release> for the new version"


def test_the_icon_is_rendered_at_every_hicolor_size(tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    # packaging/ is a folder of scripts, not a package (and `packaging` is a PyPI library's name).
    spec = importlib.util.spec_from_file_location("render_icons", REPO / "packaging" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    render_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_icons)
    written = render_icons.render(tmp_path)
    for n in SIZES:
        image = QImage(str(tmp_path / f"{n}x{n}" / "apps" / "hearth.png"))
        assert (image.width(), image.height()) == (n, n)
        assert image.hasAlphaChannel()
        centre = image.pixelColor(n // 2, n // 2)
        corner = image.pixelColor(0, 0)
        assert centre.alpha() == 255 and corner.alpha() == 0, "drawn, with transparent rounded corners"
    scalable = tmp_path / "scalable" / "apps" / "hearth.svg"
    assert scalable.read_bytes() == (RESOURCES / "hearth.svg").read_bytes()
    assert len(written) == len(SIZES) + 1


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build_deb.sh around a stand-in app folder (a shell script instead of the 1.5 GB bundle)."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("not a Debian system")
    work = tmp_path_factory.mktemp("deb")
    app = work / "app"
    (app / "_internal").mkdir(parents=True)
    (app / "hearth").write_text('#!/bin/sh\necho "stand-in hearth $*"\n')
    (app / "hearth").chmod(0o755)
    (app / "_internal" / "payload.txt").write_text("the bundle\n")
    env = {**os.environ, "HEARTH_DEB_COMPRESS": "gzip"}
    out = subprocess.run(
        [REPO / "packaging" / "build_deb.sh", app, work / "out"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=True,
    )  # fmt: skip
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.is_file(), out.stderr
    return path


@needs_dpkg
def test_the_deb_installs_app_launcher_entry_icons_and_metainfo(deb: Path, tmp_path: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    names = {line.split()[5].lstrip(".") for line in listing.splitlines()}
    assert "/opt/hearth/hearth" in names
    assert "/opt/hearth/_internal/payload.txt" in names
    assert "/usr/bin/hearth -> /opt/hearth/hearth" in listing.replace("./usr/bin/hearth", "/usr/bin/hearth")
    assert "/usr/share/applications/hearth.desktop" in names
    assert f"/usr/share/metainfo/{APP_ID}.metainfo.xml" in names
    for n in SIZES:
        assert f"/usr/share/icons/hicolor/{n}x{n}/apps/hearth.png" in names
    assert "/usr/share/icons/hicolor/scalable/apps/hearth.svg" in names
    assert not [n for n in names if n.startswith(("/home", "/root", "/etc"))]
    for line in listing.splitlines():
        assert line.split()[1] == "root/root", line

    control = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, check=True).stdout
    assert "Package: hearth\n" in control and "Installed-Size:" in control

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    if shutil.which("desktop-file-validate"):
        _validate_desktop(root / "usr/share/applications/hearth.desktop")
    if shutil.which("appstreamcli"):
        _validate_metainfo(root / f"usr/share/metainfo/{APP_ID}.metainfo.xml")
    entry = _desktop_entry(root / "usr/share/applications/hearth.desktop")
    assert entry["Exec"] == "hearth %F" and entry["MimeType"].startswith("application/pdf;")
    launcher = root / "usr/bin/hearth"
    assert launcher.is_symlink() and os.readlink(launcher) == "/opt/hearth/hearth"


@needs_dpkg
def test_the_maintainer_scripts_touch_only_caches(deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-e", deb, tmp_path / "DEBIAN"], check=True)
    maintainer = ("preinst", "prerm", "postinst", "postrm")
    scripts = sorted(p.name for p in (tmp_path / "DEBIAN").iterdir() if p.name in maintainer)
    assert scripts == ["postinst", "postrm"]
    for name in scripts:
        text = (tmp_path / "DEBIAN" / name).read_text()
        assert "rm " not in text and "HOME" not in text and "/home" not in text and ".local" not in text
        assert "update-desktop-database" in text and "gtk-update-icon-cache" in text


@needs_dpkg
@pytest.mark.skipif(shutil.which("dpkg") is None, reason="no dpkg")
def test_removal_leaves_only_the_users_data(deb: Path, tmp_path: Path) -> None:
    """dpkg into a fresh root (its own database; scripts run without chroot, as DPKG_ROOT says),
    a user's data made, then `dpkg -r` and `--purge`: the app is gone, the data is kept."""
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--force-script-chrootless", "--force-depends"]
    subprocess.run([*dpkg, "-i", deb], check=True, capture_output=True, timeout=120)
    assert (root / "opt/hearth/hearth").is_file()
    data = root / "home/user/.local/share/Hearth"
    data.mkdir(parents=True)
    (data / "chats.sqlite").write_bytes(b"the user's chats")
    subprocess.run([*dpkg, "--purge", "hearth"], check=True, capture_output=True, timeout=120)
    left = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "var/lib/dpkg" not in str(p)
    )
    assert left == ["home/user/.local/share/Hearth/chats.sqlite"]
    assert (data / "chats.sqlite").read_bytes() == b"the user's chats"
    assert not (root / "opt/hearth").exists() and not (root / "usr/bin/hearth").exists()

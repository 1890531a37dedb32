"""Render resources/hearth.svg into the hicolor icon theme's PNG sizes (Qt's SVG renderer).

    python packaging/render_icons.py DEST
    # writes DEST/<n>x<n>/apps/hearth.png and DEST/scalable/apps/hearth.svg

Used by packaging/build_deb.sh; DEST is usually <root>/usr/share/icons/hicolor.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
SVG = Path(__file__).resolve().parents[1] / "resources" / "hearth.svg"


def render(dest: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (must live while painting)
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not an SVG Qt can render")
    written = []
    for n in sizes:
        image = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        out = dest / f"{n}x{n}" / "apps" / "hearth.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"could not write {out}")
        written.append(out)
    scalable = dest / "scalable" / "apps" / "hearth.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SVG, scalable)
    written.append(scalable)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in render(Path(sys.argv[1])):
        print(path)

"""A factory of real PDF files for tests: normal, encrypted, scanned, garbled, damaged, hostile.

Every function writes one file and returns its path. Import it from any test:

    from tests import pdfs
    path = pdfs.normal(tmp_path / "a.pdf", pages=["first page text", "second page text"])
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path

LOREM = (
    "Hearth keeps every document on this computer. The quick brown fox jumps over the lazy dog. "
    "Sentences give the chunker natural places to cut. Numbers like 42 and 3.14 survive extraction."
)


def _canvas(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    return canvas.Canvas(str(path), pagesize=A4, **kwargs)


def _write_lines(c, text: str, y0: float = 800, size: int = 11) -> None:  # type: ignore[no-untyped-def]
    """Wrap `text` onto the page with real line breaks (reportlab does not wrap by itself)."""
    c.setFont("Helvetica", size)
    y = y0
    for para in text.split("\n"):
        words = para.split()
        line = ""
        for word in words:
            if len(line) + len(word) + 1 > 90:
                c.drawString(40, y, line)
                y -= size * 1.4
                line = word
            else:
                line = f"{line} {word}".strip()
        if line:
            c.drawString(40, y, line)
            y -= size * 1.4
        y -= size * 0.6
        if y < 40:
            break


def normal(
    path: Path,
    pages: Sequence[str] | None = None,
    n_pages: int = 3,
    title: str = "A normal test document",
) -> Path:
    """A plain multi-page PDF with a text layer. `pages` gives each page's text."""
    path = Path(path)
    texts = list(pages) if pages is not None else [f"Page {i + 1}. {LOREM}" for i in range(n_pages)]
    c = _canvas(path)
    c.setTitle(title)
    for text in texts:
        _write_lines(c, text)
        c.showPage()
    c.save()
    return path


def encrypted(
    path: Path,
    password: str = "secret",
    algorithm: str = "AES-256",
    pages: Sequence[str] | None = None,
) -> Path:
    """A password-protected copy of a normal PDF. algorithm: RC4-40, RC4-128, AES-128, AES-256.

    With password="" the file is encrypted but opens without asking (like many bank statements).
    """
    from pypdf import PdfReader, PdfWriter

    path = Path(path)
    buf = io.BytesIO()
    plain = path.with_suffix(".plain.pdf")
    normal(plain, pages)
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(password, "owner-" + (password or "x"), algorithm=algorithm)
    writer.write(buf)
    plain.unlink()
    path.write_bytes(buf.getvalue())
    return path


def empty_password(path: Path, pages: Sequence[str] | None = None) -> Path:
    return encrypted(path, password="", algorithm="RC4-128", pages=pages)


def scanned(path: Path, n_pages: int = 2) -> Path:
    """Image-only pages, like a scan without OCR: no text layer at all."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    path = Path(path)
    c = _canvas(path)
    for i in range(n_pages):
        img = Image.new("L", (400, 560), 255)
        draw = ImageDraw.Draw(img)
        for y in range(40, 520, 18):
            draw.rectangle((30, y, 30 + (y * 7 + i * 13) % 330, y + 8), fill=30)
        c.drawImage(ImageReader(img), 40, 60, width=500, height=700)
        c.showPage()
    c.save()
    return path


def garbled(path: Path, n_pages: int = 2) -> Path:
    """Text that extracts as glyph codes (`/CF /D3 …`), as from a font without a character map."""
    code = "/CF /D3/D6/CS /CA/CT/B9/D3/D6/CS/CT/D6/CX/D2/CV /CP/D2/CS /BW/C8/B9/CQ/CP/D7/CT/CS " * 3
    return normal(path, [code] * n_pages, title="garbled")


def hidden_text(path: Path, visible: str, hidden: str) -> Path:
    """A page with ordinary text and a 1-point white line (invisible to readers, not to pypdf)."""
    path = Path(path)
    c = _canvas(path)
    _write_lines(c, visible)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica", 1)
    c.drawString(40, 100, hidden)
    c.showPage()
    c.save()
    return path


def truncated(path: Path, keep: float = 0.5) -> Path:
    """The first part of a real PDF, as after a broken download."""
    path = Path(path)
    full = path.with_suffix(".full.pdf")
    normal(full, n_pages=4)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def header_only(path: Path) -> Path:
    """Starts like a PDF and then holds nothing usable."""
    path = Path(path)
    path.write_bytes(b"%PDF-1.7\n" + b"\x00garbage " * 200)
    return path


def zero_bytes(path: Path) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def not_pdf(path: Path) -> Path:
    """A text file named .pdf."""
    path = Path(path)
    path.write_text("This is not a PDF, whatever its name says.\n" * 20)
    return path


def compression_bomb(path: Path, inflated_mb: int = 400) -> Path:
    """One page whose content stream inflates from ~KBs to `inflated_mb` MB of spaces."""
    path = Path(path)
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    body = b"".join(comp.compress(chunk) for _ in range(inflated_mb)) + comp.flush()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    path.write_bytes(out.getvalue())
    return path


def corpus(folder: Path, topics: dict[str, Sequence[str]]) -> list[Path]:
    """Several normal PDFs at once: {file stem: [page texts]}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [normal(folder / f"{stem}.pdf", pages, title=stem) for stem, pages in topics.items()]

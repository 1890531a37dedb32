"""Clean extracted text and cut documents into overlapping, sentence-aware chunks that keep page spans."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from desktop.core.types import Chunk, Page

# all-MiniLM-L6-v2 reads at most 256 word pieces; English prose averages ~4.2 characters per
# piece and numbers/tables far fewer, so ~900 characters keeps nearly every chunk whole inside
# the window while giving the LLM passages long enough to answer from.
CHUNK_CHARS = 900
OVERLAP_CHARS = 150
MIN_CHUNK_CHARS = 80

_KEEP_CONTROLS = {"\n", "\t"}
_SPACES = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_GLYPH_CODE = re.compile(r"/[A-Z0-9]{1,3}(?=[/\s]|$)")


def clean_text(text: str) -> str:
    """Strip invisible and direction-control characters, NFKC-normalise, tidy whitespace.

    Why: PDFs hide instructions in zero-width, tag and bidi characters (a prompt-injection path),
    and ligatures or odd spaces make the same word look different to the keyword index.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf" or (cat == "Cc" and ch not in _KEEP_CONTROLS) or cat in ("Cs", "Co", "Cn"):
            if ch == "\r":
                out.append("\n")
            continue
        if cat in ("Zl", "Zp"):
            out.append("\n")
        elif cat == "Zs" or ch == "\t":
            out.append(" ")
        else:
            out.append(ch)
    text = "".join(out)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def glyph_code_ratio(text: str) -> float:
    """Share of non-space characters that are raw glyph codes like `/CF /D3` (a font without a map)."""
    visible = sum(1 for ch in text if not ch.isspace())
    if visible == 0:
        return 0.0
    coded = sum(len(m.group(0)) for m in _GLYPH_CODE.finditer(text))
    return coded / visible


# ----------------------------------------------------------------------------- chunking

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\n+|\n(?=[-•*\d])")


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    page: int


def _sentences(pages: Sequence[Page]) -> list[_Piece]:
    """Split each page into sentence-ish pieces; very long ones are cut at word boundaries."""
    pieces: list[_Piece] = []
    for page in pages:
        text = page.text.strip()
        if not text:
            continue
        for part in _SENTENCE_END.split(text):
            part = " ".join(part.split())
            if not part:
                continue
            while len(part) > CHUNK_CHARS:
                cut = part.rfind(" ", CHUNK_CHARS // 2, CHUNK_CHARS)
                if cut <= 0:
                    cut = CHUNK_CHARS
                pieces.append(_Piece(part[:cut].strip(), page.number))
                part = part[cut:].strip()
            if part:
                pieces.append(_Piece(part, page.number))
    return pieces


def chunk_pages(
    doc_id: str,
    pages: Iterable[Page],
    size: int = CHUNK_CHARS,
    overlap: int = OVERLAP_CHARS,
) -> list[Chunk]:
    """Cut pages into chunks of about `size` characters, ending on sentence boundaries.

    Each chunk begins with the last sentences (up to `overlap` characters) of the previous one,
    so a fact split across a boundary is still found whole; page_start/page_end say where the
    chunk's text lies. A tiny tail is merged into the chunk before it.
    """
    pieces = _sentences(list(pages))
    chunks: list[tuple[str, int, int]] = []
    current: list[_Piece] = []
    n_carried = 0  # how many of `current` repeat the end of the previous chunk
    length = 0

    def flush() -> None:
        if current:
            text = " ".join(p.text for p in current)
            chunks.append((text, current[0].page, current[-1].page))

    for piece in pieces:
        added = len(piece.text) + (1 if current else 0)
        if current and length + added > size:
            flush()
            # Carry the tail sentences forward as overlap.
            carry: list[_Piece] = []
            carried = 0
            for prev in reversed(current):
                if carried + len(prev.text) > overlap:
                    break
                carry.insert(0, prev)
                carried += len(prev.text) + 1
            current = carry
            n_carried = len(carry)
            length = max(0, carried - 1)
            added = len(piece.text) + (1 if current else 0)
        current.append(piece)
        length += added
    if current:
        if chunks and length < MIN_CHUNK_CHARS and len(chunks[-1][0]) + length <= size + MIN_CHUNK_CHARS:
            text, start, _ = chunks.pop()
            tail = " ".join(p.text for p in current[n_carried:])
            chunks.append(((text + " " + tail).strip(), start, current[-1].page))
        else:
            flush()
    return [Chunk(doc_id, i, text, start, end) for i, (text, start, end) in enumerate(chunks)]

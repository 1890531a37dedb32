"""Answer text → Markdown with clickable citations (`[n]` → cite:n) and page references (p. 4 → page:4)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"(```.*?(?:```|$))", re.S)
_CITE = re.compile(r"(?<![\\\]])\[(\d{1,3})\](?!\()")
_PAGES = re.compile(r"\b(pp?\.|pages?)\s?(\d{1,5})(?:\s?[-–]\s?(\d{1,5}))?", re.I)


def linkify(text: str, *, citations: bool = True, pages: bool = False) -> str:
    """Make `[n]` and page references links, leaving code blocks untouched."""
    parts = _FENCE.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code fences
        part = parts[i]
        if citations:
            part = _CITE.sub(lambda m: f"[\\[{m[1]}\\]](cite:{m[1]})", part)
        if pages:
            part = _PAGES.sub(lambda m: f"[{m[0]}](page:{m[2]})", part)
        parts[i] = part
    return "".join(parts)


def close_open_fence(text: str) -> str:
    """While streaming, an unclosed ``` would swallow the rest of the view: close it for display."""
    return text + "\n```" if text.count("```") % 2 else text

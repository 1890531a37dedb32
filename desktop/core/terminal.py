"""Text from files on its way to a terminal or a log: control characters shown, never obeyed.

A GGUF's metadata, a PDF's name or title, a model's answer: any of them can carry escape
sequences (`ESC[2J` clears the screen, `ESC]0;…BEL` retitles the window, `ESC[?1049h` switches
screens) or a newline that splits a table row. `visible()` turns every control character into a
visible escape (`\\x1b`), keeping newlines and tabs; `inline()` also turns those into escapes,
for one-line cells such as a file name in a list.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, C1 controls, and the bidi overrides/isolates that can make a
# file name read backwards (Trojan Source).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_INLINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control character shown as an escape; newlines and tabs kept."""
    return _UNSAFE.sub(_escape, text)


def inline(text: str) -> str:
    """`text` on one line: newlines, tabs and every control character shown as escapes."""
    return _UNSAFE_INLINE.sub(_escape, text)


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_safe(text: str) -> str:
    """JSON text with the characters JSON leaves raw but terminals obey written as \\uXXXX."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)

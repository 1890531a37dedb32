"""The summary prompts: short and concrete, for a small model."""

from __future__ import annotations

import re

from desktop.core.types import ChatMessage

SYSTEM = "You write short, factual summaries. Use only the given text."


def _title_line(title: str) -> str:
    # A file name such as "C02-1025" or "scan_0001" tells the model nothing and it may echo it.
    informative = len(re.findall(r"[A-Za-z]{3,}", title)) >= 2
    return f"Document: {title}\n\n" if informative else ""


def _map_messages(body: str, title: str, n_points: int) -> list[ChatMessage]:
    head = _title_line(title)
    ask = (
        f"List the {n_points} most important facts in the text above, one per line, each starting with '- '."
    )
    return [ChatMessage("system", SYSTEM), ChatMessage("user", f"{head}Text:\n{body}\n\n{ask}")]


def _final_messages(
    body: str, title: str, style: str, words: int, n_points: int, notes: bool
) -> list[ChatMessage]:
    head = _title_line(title)
    label = "Notes" if notes else "Text"
    if style == "paragraph":
        ask = f"Summarize the {label.lower()} above in one paragraph of about {words} words."
    else:
        ask = (
            f"Write the {n_points} most important points of the {label.lower()} above, "
            "one per line, each starting with '- '."
        )
    return [ChatMessage("system", SYSTEM), ChatMessage("user", f"{head}{label}:\n{body}\n\n{ask}")]


def _overview_messages(body: str, title: str, style: str) -> list[ChatMessage]:
    head = _title_line(title)
    ask = "In two sentences, say what the document is about, using only the sentences above."
    return [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", f"{head}Sentences from the document:\n{body}\n\n{ask}"),
    ]

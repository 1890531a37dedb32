from __future__ import annotations

from desktop.services.llm import StopMatcher


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for p in pieces:
        text, hit = matcher.feed(p)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


def test_text_without_stops_passes_through_unchanged() -> None:
    assert feed_all(StopMatcher([]), ["a", "b"]) == ("ab", False)
    assert feed_all(StopMatcher(["<|im_end|>"]), ["hello ", "world"]) == ("hello world", False)


def test_a_stop_split_across_pieces_is_caught_and_not_emitted() -> None:
    assert feed_all(StopMatcher(["<|im_end|>"]), ["Done.<|im", "_end|> extra"]) == ("Done.", True)


def test_a_partial_stop_prefix_that_does_not_complete_is_emitted() -> None:
    text, hit = feed_all(StopMatcher(["<|im_end|>"]), ["a <|im", "possible"])
    assert (text, hit) == ("a <|impossible", False)

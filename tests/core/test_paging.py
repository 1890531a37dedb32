"""Pages for documents without pages: paragraph boundaries, hard breaks, headings as sections."""

from __future__ import annotations

from desktop.core.paging import PAGE_CHARS, Block, paginate


def test_pages_end_on_paragraph_boundaries_near_the_target_size() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(20)]  # ~770 characters each
    pages = paginate([Block(p) for p in paragraphs], sections=False)
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(len(p.text) <= PAGE_CHARS for p in pages)
    assert len(pages) == 7  # three paragraphs a page (four would pass 3,000)
    # No paragraph is cut: each page starts at one.
    assert all(p.text.startswith("Paragraph ") for p in pages)
    assert "\n\n".join(p.text for p in pages) == "\n\n".join(s.strip() for s in paragraphs)


def test_a_long_paragraph_is_cut_after_sentences() -> None:
    text = " ".join(f"Sentence number {i} says something short." for i in range(200))
    pages = paginate([Block(text)], sections=False)
    assert len(pages) >= 3 and all(len(p.text) <= PAGE_CHARS for p in pages)
    assert all(p.text.endswith(".") for p in pages)


def test_hard_breaks_always_end_a_page_and_empty_pages_are_dropped() -> None:
    blocks = [Block("one"), Block("", "break"), Block("", "break"), Block("two"), Block("   ")]
    assert [(p.number, p.text) for p in paginate(blocks, sections=False)] == [(1, "one"), (2, "two")]


def test_headings_start_sections_but_a_title_keeps_its_first_subheading() -> None:
    blocks = [
        Block("# Notes", "heading"),
        Block("## Intro", "heading"),
        Block("Hello."),
        Block("## Budget", "heading"),
        Block("Money."),
    ]
    pages = paginate(blocks, sections=True)
    assert [p.text for p in pages] == ["# Notes\n\n## Intro\n\nHello.", "## Budget\n\nMoney."]
    # Without sections, headings are text like any other.
    assert len(paginate(blocks, sections=False)) == 1

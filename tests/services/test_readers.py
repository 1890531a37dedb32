"""The readers: every type Hearth reads gives honest pages or sections, a real Library indexes them and
cites the right document and page, and every bad input is refused with its reason (no crash)."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop.core.errors import DocumentError
from desktop.core.jobs import run_job
from desktop.core.rag import cited_pages, retrieve
from desktop.services import readers
from desktop.services.library import Library
from desktop.services.readers import text as text_reader
from desktop.services.readers import word
from tests import documents, pdfs
from tests.embedder import shared_embedder


@pytest.fixture(scope="module", autouse=True)
def _close_pdf_workers():  # type: ignore[no-untyped-def]
    yield
    readers.close_workers()


# ----------------------------------------------------------------------------- the registry


def test_the_registry_picks_a_reader_by_suffix_then_by_content(tmp_path: Path) -> None:
    assert readers.reader_for(tmp_path / "A.PDF").kind == "pdf"
    assert readers.reader_for(tmp_path / "n.markdown").kind == "markdown"
    assert readers.reader_for(tmp_path / "p.htm").kind == "html"
    assert readers.is_supported("x.docx") and not readers.is_supported("x.xlsx")
    # No known suffix: the content decides.
    pdf = pdfs.normal(tmp_path / "scan.pdf", ["Some words on a page."]).rename(tmp_path / "scan")
    docx = documents.contract_docx(tmp_path / "c.docx").rename(tmp_path / "contract")
    html = documents.lisbon_html(tmp_path / "l.html").rename(tmp_path / "index")
    note = tmp_path / "README"
    note.write_text("Plain words, and no suffix at all.")
    assert [readers.reader_for(p).kind for p in (pdf, docx, html, note)] == ["pdf", "docx", "html", "text"]
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    with pytest.raises(DocumentError) as err:
        readers.reader_for(photo)
    assert err.value.reason == "unsupported_type" and "“.jpg” files" in err.value.user_message
    assert "Word (.docx)" in err.value.hint


# ----------------------------------------------------------------------------- pages per type


def test_word_pages_follow_the_documents_page_breaks(tmp_path: Path) -> None:
    info, pages = readers.extract(documents.contract_docx(tmp_path / "contract.docx"))
    assert (info.kind, info.unit, info.title) == ("docx", "page", "Master Services Agreement")
    assert [p.number for p in pages] == [1, 2, 3]
    assert "Northwind Traders" in pages[0].text
    assert "ninety (90) days' written notice" in pages[1].text and "Northwind" not in pages[1].text
    assert "Data platform | EUR 12,400" in pages[2].text  # a table row is one line


def test_word_uses_the_page_breaks_of_its_last_layout_when_it_has_them(tmp_path: Path) -> None:
    """A file Word saved marks where its pages began (w:lastRenderedPageBreak): page n is Word's page n,
    and an explicit break is not counted twice."""
    import docx
    from docx.oxml import OxmlElement

    d = docx.Document()
    first = d.add_paragraph("First page opens the memo about the annual budget review.")
    first.add_run().add_break(docx.enum.text.WD_BREAK.PAGE)
    second = d.add_paragraph()
    run = second.add_run()
    run._r.append(OxmlElement("w:lastRenderedPageBreak"))
    run.add_text("Second page: the budget grows by four percent. ")
    tail = second.add_run("It continues here and")
    tail._r.append(OxmlElement("w:lastRenderedPageBreak"))
    tail.add_text(" flows onto the third page.")
    d.save(str(tmp_path / "memo.docx"))
    info, pages = readers.extract(tmp_path / "memo.docx")
    assert info.unit == "page"
    assert [p.text for p in pages] == [
        "First page opens the memo about the annual budget review.",
        "Second page: the budget grows by four percent. It continues here and",
        "flows onto the third page.",
    ]


def test_word_without_page_breaks_is_cut_into_sections_at_headings(tmp_path: Path) -> None:
    info, pages = readers.extract(documents.contract_docx(tmp_path / "flow.docx", page_breaks=False))
    assert info.unit == "section"
    assert [p.text.split("\n")[0] for p in pages] == [
        "Master Services Agreement",
        "Termination",
        "Fees and payment",
    ]


def test_markdown_sections_start_at_headings_outside_code(tmp_path: Path) -> None:
    info, pages = readers.extract(documents.garden_md(tmp_path / "garden.md"))
    assert (info.kind, info.unit, info.title) == ("markdown", "section", "Garden notes")
    assert [p.text.split("\n")[0] for p in pages] == [
        "# Garden notes",
        "## Tomatoes",
        "## Compost",
        "## Beehive",
    ]
    assert "# not a heading" in pages[1].text  # a comment in a code block stays in its section


def test_markdown_paragraph_lines_are_joined_as_markdown_renders_them() -> None:
    note = (
        "A paragraph wrapped\nat eighty columns.  \nAfter a hard break.\n- a list item\n- another\n\n"
        "```\nx = 1\n  y\n```\n"
    )
    assert [b.text for b in text_reader.markdown_blocks(note)] == [
        "A paragraph wrapped at eighty columns.\nAfter a hard break.\n- a list item\n- another",
        "```\nx = 1\n  y\n```",
    ]


def test_html_gives_only_visible_text_in_sections(tmp_path: Path) -> None:
    info, pages = readers.extract(documents.lisbon_html(tmp_path / "lisbon.html"))
    assert (info.kind, info.unit, info.title) == ("html", "section", "Lisbon travel guide & tips")
    everything = "\n".join(p.text for p in pages)
    for leak in ("SCRIPTLEAK", "STYLELEAK", "HIDDENLEAK", "NOSCRIPTLEAK", "font-family", "tracker", "Home"):
        assert leak not in everything
    assert [p.text.split("\n")[0] for p in pages] == ["Lisbon in three days", "Getting around", "Food"]
    assert "Bacalhau | 14 euros" in pages[2].text and "pastel de nata" in pages[2].text


def test_html_tables_and_lists_keep_their_rows_and_items_whole() -> None:
    from desktop.services.readers.html import page_text

    blocks, _ = page_text(
        "<ul><li><p>First point</p></li><li>Second</li></ul>"
        "<table><tr><td><p>Cell A</p><p>more</p></td><td>B</td><tr><td>C<td>D</table><p>After</p>"
    )
    assert [b.text for b in blocks] == ["• First point", "• Second", "Cell A more | B", "C | D", "After"]
    blocks, _ = page_text("<pre><code>fn main() {\n    let x = 5;\n}</code></pre><p>After   text</p>")
    assert [b.text for b in blocks] == ["fn main() {\nlet x = 5;\n}", "After text"]  # code keeps its lines


def test_plain_text_pages_are_about_3000_characters_cut_between_paragraphs(tmp_path: Path) -> None:
    path = documents.logbook_txt(tmp_path / "logbook.txt")
    info, pages = readers.extract(path)
    assert (info.kind, info.unit) == ("text", "page")
    assert len(pages) == 3 and all(2500 < len(p.text) <= 3000 for p in pages)
    assert all(p.text.startswith("Day ") for p in pages)  # no paragraph is split
    assert [p.number for p in pages if "storm struck" in p.text] == [2]


def test_text_that_is_not_utf8_is_read_as_windows_1252_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "menu.txt"
    path.write_bytes("Crème brûlée — 7 € at the café, every day of the week.".encode("cp1252"))
    info, pages = readers.extract(path)
    assert pages[0].text == "Crème brûlée — 7 € at the café, every day of the week."
    assert info.notices and "Windows-1252" in info.notices[0]
    # A web page that declares its encoding is read in it, without a notice.
    page = tmp_path / "old.html"
    page.write_bytes(
        b'<html><head><meta charset="windows-1252"></head><body><p>'
        + "Ça coûte 12 € pour un déjeuner complet.".encode("cp1252")
        + b"</p></body></html>"
    )
    info, pages = readers.extract(page)
    assert pages[0].text == "Ça coûte 12 € pour un déjeuner complet." and not info.notices


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("one_line.md", "word " * 1_200_000),  # 6 MB, no line break at all
        ("no_blank_line.md", "a line of words here and there\n" * 200_000),  # 200,000 lines, one paragraph
        ("one_line.txt", "word " * 1_200_000),
    ],
)
def test_huge_texts_without_breaks_are_read_in_linear_time(tmp_path: Path, name: str, content: str) -> None:
    """Once, a 9 MB note with no blank line took 188 s (its lines were joined by re-copying)."""
    import time

    path = tmp_path / name
    path.write_text(content)
    start = time.perf_counter()
    _, pages = readers.extract(path)
    assert time.perf_counter() - start < 30  # ~1 s here; the quadratic versions took minutes
    assert sum(len(p.text) for p in pages) > 5_000_000 and all(len(p.text) <= 3000 for p in pages)


@pytest.mark.parametrize(
    "trap",
    [
        "<div hidden>" + "<b>" * 150_000 + "</i>" * 150_000 + "</div>",  # end tags that close nothing
        "<div>" * 200_000 + "Deep inside." + "</div>" * 200_000,  # nesting far past any real page
    ],
    ids=["unmatched-end-tags-in-hidden-text", "deep-nesting"],
)
def test_hostile_html_is_read_in_linear_time(tmp_path: Path, trap: str) -> None:
    """Unmatched end tags inside hidden text once took 517 s (each was looked for in a list)."""
    import time

    path = tmp_path / "trap.html"
    path.write_text(f"<html><body>{trap}<p>After the trap, visible words.</p></body></html>")
    start = time.perf_counter()
    _, pages = readers.extract(path)
    assert time.perf_counter() - start < 30  # ~1 s here
    assert pages[-1].text.endswith("After the trap, visible words.")


def test_text_past_the_document_cap_is_left_out_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_text(("A line of a very long log file, one of many thousands.\n\n") * 170_000)  # 9.4 MB
    info, pages = readers.extract(path)
    assert sum(len(p.text) for p in pages) == readers.base.MAX_DOCUMENT_CHARS
    assert "8,000,000 characters per document" in info.truncated


def test_a_word_page_holding_more_than_paper_can_gives_sections_and_loses_nothing(tmp_path: Path) -> None:
    """One page break behind a cover page, then 70,000 characters: Word spreads them over pages
    nobody recorded, so "page 2" would be a lie and the page cap would cut most of it."""
    import docx

    d = docx.Document()
    d.add_paragraph("Cover page of the annual report.")
    d.add_page_break()
    for n in range(40):
        d.add_heading(f"Chapter {n + 1}", 1)
        d.add_paragraph(f"Chapter {n + 1} opens here. " + "The committee reviewed the figures again. " * 40)
    d.save(str(tmp_path / "report.docx"))
    info, pages = readers.extract(tmp_path / "report.docx")
    assert info.unit == "section" and not info.truncated
    assert pages[0].text == "Cover page of the annual report."  # the page break still cuts
    assert pages[1].text.startswith("Chapter 1\n") and pages[-1].text.startswith("Chapter 40")
    assert all(len(p.text) <= 3000 for p in pages)


# ----------------------------------------------------------------------------- bad input


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _not_zip(path: Path) -> Path:
    path.write_text("This is a letter someone renamed to .docx; it is not a zip at all.")
    return path


def _ole(path: Path) -> Path:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4000)
    return path


def _blank(path: Path) -> Path:
    path.write_text(" \n\n\t \n" * 50)
    return path


def _huge(path: Path) -> Path:
    with open(path, "wb") as fh:  # sparse: refused by its size before a byte is read
        fh.truncate(text_reader.MAX_TEXT_BYTES + 1)
    return path


BAD = [
    ("empty.txt", _empty, "empty_file", "empty (0 bytes)"),
    ("empty.md", _empty, "empty_file", "empty (0 bytes)"),
    ("empty.docx", _empty, "empty_file", "empty (0 bytes)"),
    ("empty.html", _empty, "empty_file", "empty (0 bytes)"),
    ("letter.docx", _not_zip, "not_docx", "not a Word document"),
    ("sheet.docx", documents.zip_without_body, "not_docx", "not a Word document"),
    ("old.docx", _ole, "not_docx", "old-style Word file (.doc) or a password-protected one"),
    ("bomb.docx", documents.docx_bomb, "compression_bomb", "compression bomb"),
    ("packed.docx", documents.docx_ratio_bomb, "compression_bomb", "compression bomb"),
    ("junk.txt", documents.binary_junk, "not_text", "not text"),
    ("junk.md", documents.binary_junk, "not_text", "not text"),
    ("blank.txt", _blank, "no_text_document", "holds no text"),
    ("huge.txt", _huge, "too_large", "the limit is 32 MB"),
]


@pytest.mark.parametrize(("name", "make", "reason", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_its_reason(
    tmp_path: Path, name: str, make: Callable[[Path], Path], reason: str, words: str
) -> None:
    path = make(tmp_path / name)
    for step in (readers.inspect, readers.extract):
        with pytest.raises(DocumentError) as err:
            step(path)
        assert err.value.reason == reason, (step, err.value.detail)
        assert words in err.value.user_message
        assert err.value.hint


def test_the_zip_is_checked_before_anything_is_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bomb is refused from the archive's table of sizes, in Hearth's own process: no worker is
    asked to unpack it, and python-docx never sees it."""
    from desktop.services import pdf

    asked: list[object] = []
    monkeypatch.setattr(pdf, "read_in_worker", lambda *a, **k: asked.append(a))
    with pytest.raises(DocumentError) as err:
        readers.extract(documents.docx_bomb(tmp_path / "bomb.docx"))
    assert err.value.reason == "compression_bomb" and "limits" in err.value.detail and not asked


def test_word_files_are_parsed_in_the_worker_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python-docx hands the XML to lxml (native code): it runs in the PDF reader's worker, with its
    limits, and never in Hearth's own process."""
    import docx

    contract = documents.contract_docx(tmp_path / "contract.docx")
    monkeypatch.setattr(docx, "Document", lambda *a, **k: pytest.fail("parsed in Hearth's process"))
    info, pages = readers.extract(contract)
    assert (info.title, len(pages), info.unit) == ("Master Services Agreement", 3, "page")


def test_a_member_whose_size_lies_fails_its_check_instead_of_filling_memory(tmp_path: Path) -> None:
    """The central directory says 100 bytes; the member really inflates to 30 MB."""
    good = documents.contract_docx(tmp_path / "real.docx")
    liar = tmp_path / "liar.docx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == word.BODY:
                data = data.replace(b"</w:body>", b"<w:p/>" * 5_000_000 + b"</w:body>")
            dst.writestr(item, data)
    raw = bytearray(liar.read_bytes())
    # Patch the body's uncompressed size in the central directory and its local header.
    with zipfile.ZipFile(liar) as z:
        info = z.getinfo(word.BODY)
    declared = info.file_size.to_bytes(4, "little")
    assert raw.count(declared) >= 2
    raw = raw.replace(declared, (100).to_bytes(4, "little"))
    liar.write_bytes(bytes(raw))
    with pytest.raises(DocumentError) as err:
        readers.extract(liar)
    assert err.value.reason in ("damaged", "not_docx")


# ----------------------------------------------------------------------------- in a real library


def _corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    return {
        "contract": documents.contract_docx(folder / "services_agreement.docx"),
        "garden": documents.garden_md(folder / "garden.md"),
        "lisbon": documents.lisbon_html(folder / "lisbon.html"),
        "logbook": documents.logbook_txt(folder / "logbook.txt"),
        "pdf": pdfs.normal(folder / "volcanoes.pdf", ["Volcanoes erupt when magma rises through the crust."]),
    }


QUESTIONS = [
    ("How many days of written notice are needed to terminate the agreement?", "services_agreement.docx", 2),
    ("How often should the compost heap be turned?", "garden.md", 3),
    ("Which tram climbs through the Alfama district?", "lisbon.html", 2),
    ("Where did the crew run after the mizzen mast cracked in the storm?", "logbook.txt", 2),
    ("What is the monthly fee for the data platform?", "services_agreement.docx", 3),
]


@pytest.mark.slow
def test_a_library_indexes_every_type_and_cites_the_right_document_and_page(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    files = _corpus(folder)
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a document")  # not looked at in a folder
    with Library(data_dir, shared_embedder()) as lib:
        result = run_job(lib.add_job([folder]))
        assert (result.added, result.ready, result.failed) == (5, 5, [])
        assert result.pages == 3 + 4 + 3 + 3 + 1  # real page and section counts, not the estimates
        titles = {Path(r.path).name: r.title for r in lib.files()}
        assert titles["services_agreement.docx"] == "Master Services Agreement"
        assert titles["lisbon.html"] == "Lisbon travel guide & tips"
        assert titles["logbook.txt"] == "logbook"  # no title of its own: the file's name
        for question, name, page in QUESTIONS:
            got = retrieve(lib, question, ["default"], k=1)
            assert got.found and Path(got.records[0].path).name == name, question
            assert cited_pages(lib, question, got.records)[0] == page, question
        assert not lib.keyword_search("SCRIPTLEAK", ["default"], 5)
        # A summary of a library document reads its stored pages, not the file.
        stored = lib.stored_pages(files["garden"])
        assert stored is not None and [p.number for p in stored] == [1, 2, 3, 4]
        files["garden"].write_text("# Changed\n\nThe note was rewritten since it was indexed.")
        assert lib.stored_pages(files["garden"]) is None  # changed on disk: read it again


@pytest.mark.slow
def test_a_section_ending_without_a_full_stop_does_not_move_the_citation(
    data_dir: Path, tmp_path: Path
) -> None:
    note = documents.GARDEN_NOTES.replace(
        "of cordon varieties.\n", "of cordon varieties.\n\nThe Gardener's Delight plants did best.\n"
    ).replace("\nThe Gardener's Delight plants gave the sweetest fruit this year.\n", "")
    path = documents.garden_md(tmp_path / "garden.md", note)
    with Library(data_dir, shared_embedder()) as lib:
        run_job(lib.add_job([path]))
        question = "How often should the compost heap be turned?"
        got = retrieve(lib, question, ["default"], k=1)
        assert cited_pages(lib, question, got.records)[0] == 3


@pytest.mark.slow
def test_every_bad_input_gets_a_row_with_its_reason_and_the_batch_goes_on(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = documents.garden_md(folder / "garden.md")
    for name, make, _, _ in BAD:
        make(folder / name)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with Library(data_dir, shared_embedder()) as lib:
        result = run_job(lib.add_job([folder, photo, fifo]))
        assert result.ready == 1
        rows = {Path(r.path).name: r for r in lib.files()}
        assert rows[good.name].status == "ready"
        expected = {name: reason for name, _, reason, _ in BAD}
        expected |= {"photo.jpg": "unsupported_type", "pipe.md": "not_regular_file"}
        assert {n: (r.status, r.reason) for n, r in rows.items() if n != good.name} == {
            n: ("error", reason) for n, reason in expected.items()
        }
        assert "32 MB" in rows["huge.txt"].message and rows["bomb.docx"].hint
    shutil.rmtree(folder)

"""`hearth summarize`: clear errors, nothing half-written, and a real run on the bundled model."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop.cli import main
from desktop.cli.summarize import to_markdown, write_atomically
from desktop.core.jobs import run_job
from desktop.core.types import Summary, SummaryPoint
from desktop.services.tasks import Pages
from tests import pdfs


def read_pages(path: str, on_event: Callable[[Any], Any]) -> Pages:
    """The pages `hearth summarize PATH` reads (desktop/services/tasks.file_pages), events passed on."""
    from desktop.cli.summarize import reader

    return run_job(reader(argparse.Namespace(document=None, file=path)), on_event)

TOPICS = [
    "The lighthouse on the northern cape was built in 1871 from granite blocks cut in a local quarry. "
    "Its lamp burned whale oil at first and was converted to kerosene in 1890. Keepers climbed "
    "the tower twice a night to wind the clockwork that turned the lens.",
    "Honeybees communicate the direction of flowers through a waggle dance performed inside the hive. "
    "The angle of the dance relative to vertical encodes the angle between the sun and the food. "
    "The duration of the waggle run tells the other workers how far away the flowers are.",
    "Volcanic soils are unusually fertile because ash weathers quickly into clay rich in minerals. "
    "Farmers on the slopes of active volcanoes grow coffee, grapes and vegetables in that soil. "
    "The risk of eruptions is accepted because the harvests are so much larger than elsewhere.",
    "Copper wires carry telephone signals as small changes in electrical current. Long lines need "
    "repeaters that amplify the signal every few kilometres. Optical fibre replaced copper on long "
    "routes because light loses far less strength over distance.",
    "Sourdough bread rises because wild yeasts and lactic bacteria ferment the flour. The bacteria "
    "produce acids that give the bread its sour taste and help it keep longer. Bakers feed the "
    "starter with fresh flour and water every day to keep the culture alive.",
    "Glaciers move slowly downhill under their own weight, carving valleys into a U shape. They "
    "carry boulders far from their origin and drop them when the ice melts. Meltwater from glaciers "
    "feeds many rivers during the dry summer months.",
]


def long_pdf(path: Path) -> Path:
    """Six pages, one topic each, each topic's text repeated so the document needs map-reduce."""
    return pdfs.normal(path, pages=[" ".join([t] * 3) for t in TOPICS], title="Six topics")


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.md"
    assert main(["summarize", str(tmp_path / "nope.pdf"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "There is no file" in err
    assert not out.exists()


def test_out_in_a_missing_folder_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = pdfs.normal(tmp_path / "a.pdf")
    assert main(["summarize", str(pdf), "--out", str(tmp_path / "no" / "s.md")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_bad_length_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = pdfs.normal(tmp_path / "a.pdf")
    assert main(["summarize", str(pdf), "--length", "3"]) == 1
    assert "--length" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: pdfs.encrypted(p), "password"),
        (lambda p: pdfs.not_pdf(p), "PDF"),
        (lambda p: pdfs.truncated(p, keep=0.3), ""),
    ],
    ids=["encrypted", "not_pdf", "truncated"],
)
def test_unreadable_pdfs_fail_clearly_and_leave_no_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make,
    words: str,  # type: ignore[no-untyped-def]
) -> None:
    pdf = make(tmp_path / "bad.pdf")
    out = tmp_path / "s.md"
    out.write_text("previous summary")  # an earlier summary must survive a failed run
    code = main(["summarize", str(pdf), "--out", str(out)])
    err = capsys.readouterr().err
    if code == 0:  # a truncated file may still yield its first page: then it must be a real summary
        assert out.read_text().startswith("# Summary")
        return
    assert code == 1
    assert err.startswith("hearth: ")
    assert words.lower() in err.lower()
    assert out.read_text() == "previous summary"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_markdown_lists_summary_and_page_references() -> None:
    s = Summary(
        "Report",
        "- Alpha (p. 2).\n- Beta (pp. 3–4).",
        (SummaryPoint("Alpha.", (2,)), SummaryPoint("Beta.", (3, 4))),
        page_count=4,
        levels=2,
    )
    md = to_markdown(s, "r.pdf")
    assert md.startswith("# Summary: Report")
    assert "- Beta (pp. 3–4)." in md
    assert "1. p. 2 — Alpha." in md and "2. pp. 3–4 — Beta." in md
    assert "4 pages of r.pdf" in md


def test_write_atomically_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "s.md"
    target.write_text("old")
    write_atomically(target, "new")
    assert target.read_text() == "new"

    with pytest.raises(TypeError):
        write_atomically(target, 123)  # type: ignore[arg-type]
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["s.md"]


@pytest.mark.slow
def test_real_model_summarizes_a_long_pdf_with_map_reduce(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A small context forces map-reduce on six short pages, and keeps the test fast.
    (data_dir / "settings.json").write_text(json.dumps({"context_size": 1024}))
    pdf = long_pdf(tmp_path / "six.pdf")
    out = tmp_path / "summary.md"
    args = ["summarize", str(pdf), "--out", str(out), "--json", "--length", "80", "--mode", "abstractive"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stats"]["mode"] == "abstractive"
    assert result["levels"] >= 2
    assert result["stats"]["sections"] >= 2
    assert result["page_count"] == 6
    assert result["points"]
    for point in result["points"]:
        assert point["pages"] and set(point["pages"]) <= set(range(1, 7))
    md = out.read_text()
    assert md.startswith("# Summary: six")
    assert re.search(r"\(pp?\. \d", md)
    assert "## Page references" in md


@pytest.mark.slow
def test_real_model_streams_the_summary_to_stdout(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "settings.json").write_text(json.dumps({"context_size": 2048}))
    pdf = pdfs.normal(tmp_path / "two.pdf", pages=TOPICS[:2])
    assert main(["summarize", str(pdf), "--style", "paragraph", "--length", "50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Summary: two")
    assert "## Page references" in out
    # The bundled 135M model gets the grounded mode: its points are quoted from the PDF, with their page.
    assert "quoted from the document" in out
    body = out.split("## Page references")[0]
    quoted = 0
    for page, topic in enumerate(TOPICS[:2], 1):
        for sentence in re.split(r"(?<=\.) ", topic):
            if sentence.rstrip(".") in body:
                assert f"{sentence.rstrip('.')} (p. {page})" in body
                quoted += 1
    assert quoted >= 2


def test_text_files_and_pasted_text_become_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from desktop.cli.summarize import reader

    txt = tmp_path / "notes.txt"
    txt.write_text("First page.\fSecond page.\f")
    doc = read_pages(str(txt), lambda e: None)
    assert [(p.number, p.text) for p in doc.pages] == [(1, "First page."), (2, "Second page.")]
    assert (doc.title, doc.source) == ("notes", "notes.txt")
    monkeypatch.setattr("sys.stdin", io.StringIO("Pasted words here."))
    doc = run_job(reader(argparse.Namespace(document=None, file="-")))
    assert [p.text for p in doc.pages] == ["Pasted words here."] and doc.title == "Pasted text"


def test_a_folder_is_not_a_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_library_document_is_summarized_from_its_stored_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = long_pdf(tmp_path / "six_topics.pdf")
    assert main(["library", "add", str(pdf)]) == 0
    capsys.readouterr()
    pdf.unlink()  # the library keeps the text: the PDF is not read again
    assert main(["summarize", "--document", "six_topics.pdf", "--json", "--length", "60"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"], out
    assert all(1 <= p <= 6 for point in out["points"] for p in point["pages"])
    assert main(["summarize", "--document", "no-such-report"]) == 1
    assert "No ready document" in capsys.readouterr().err
    assert main(["summarize"]) == 1


def test_any_document_type_is_read_by_its_reader_and_others_are_refused(tmp_path: Path) -> None:
    from desktop.core.errors import DocumentError
    from desktop.core.events import Notice, Progress
    from tests import documents

    events: list[object] = []
    doc = read_pages(str(documents.contract_docx(tmp_path / "msa.docx")), events.append)
    assert [p.number for p in doc.pages] == [1, 2, 3] and doc.title == "msa"
    # Progress arrives as the job's own events, per page, in order.
    done = [e.done for e in events if isinstance(e, Progress)]
    assert done and done == sorted(done) and done[-1] == 3
    doc = read_pages(str(documents.garden_md(tmp_path / "garden.md")), events.append)
    assert len(doc.pages) == 4 and doc.title == "garden"
    old = tmp_path / "menu.txt"
    old.write_bytes("Crème brûlée at the café costs seven euros every day.".encode("cp1252"))
    read_pages(str(old), events.append)
    assert any(isinstance(e, Notice) and "Windows-1252" in e.message for e in events)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    with pytest.raises(DocumentError) as err:
        read_pages(str(photo), events.append)
    assert err.value.reason == "unsupported_type"

"""`hearth library add|list|remove` and `hearth ask` end to end: real PDFs, real stores, the real model.

Every kind of bad file the issue names goes through `library add` in one batch with good ones;
the batch goes on and `library list` gives each bad file its reason, message and hint.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from io import StringIO
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.services import embeddings, library, pdf
from tests import pdfs
from tests.conftest import EVAL, REPO
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow

TOPICS: dict[str, Sequence[str]] = {
    "volcanoes": ["Volcanoes erupt when magma rises through the crust. Lava flows can reach 1200 degrees."],
    "baking": ["Sourdough bread needs a starter culture, flour, water and salt. Bake it at 230 degrees."],
}
# Long pages, so passages stay within one page and the page of each fact is unambiguous.
_FILLER = (
    "Gulls circle over the nets while the ferry waits for the tide. Tourists buy smoked mackerel at the "
    "stalls along the sea wall, and the church bell marks every hour. "
) * 5
LIGHTHOUSE = [
    "Harbour history. The old quay was rebuilt twice after winter storms flooded the fish market. " + _FILLER,
    _FILLER + "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor. Its lamp burned whale "
    "oil until 1911, when an electric lantern replaced it. " + _FILLER,
    "Visiting hours. The tower is open on weekends from April to October. " + _FILLER,
]
# file name -> the reason `library list` must give (None: indexed normally).
EXPECTED = {
    "volcanoes.pdf": None,
    "baking.pdf": None,
    "empty-password-rc4.pdf": None,
    "empty-password-aes.pdf": None,
    "locked-aes256.pdf": "encrypted",
    "locked-rc4.pdf": "encrypted",
    "scan.pdf": "no_text",
    "glyph-codes.pdf": "garbled",
    "truncated.pdf": "corrupt",
    "header-only.pdf": "corrupt",
    "zero.pdf": "empty_file",
    "fake.pdf": "not_pdf",
    "cyclic-pages.pdf": "corrupt",
    "huge.pdf": "too_large",
}


def _raw_pdf(path: Path, objects: list[bytes]) -> Path:
    """A hand-built PDF (for structures no PDF writer would make)."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def cyclic_pages(path: Path) -> Path:
    """A page tree that contains itself: pypdf raises while walking it."""
    return _raw_pdf(
        path,
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ],
    )


def huge(path: Path) -> Path:
    """A 600 MB file (sparse: no disk used) that starts like a PDF."""
    with open(path, "wb") as fh:
        fh.write(b"%PDF-1.7\n")
        fh.truncate(600 * 1024 * 1024)
    return path


@pytest.fixture(scope="module", autouse=True)
def _shared_embedder() -> object:
    """The CLI makes its own Embedder; in tests every command shares one real, already loaded model."""
    mp = pytest.MonkeyPatch()
    mp.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    mp.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    yield
    mp.undo()
    pdf.close_workers()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mixed")
    pdfs.corpus(folder, TOPICS)
    pdfs.empty_password(folder / "empty-password-rc4.pdf", ["A bank statement that opens without asking."])
    pdfs.encrypted(folder / "empty-password-aes.pdf", "", "AES-128", ["An AES file with an empty password."])
    pdfs.encrypted(folder / "locked-aes256.pdf", "hunter2", "AES-256")
    pdfs.encrypted(folder / "locked-rc4.pdf", "hunter2", "RC4-128")
    pdfs.scanned(folder / "scan.pdf")
    pdfs.garbled(folder / "glyph-codes.pdf")
    pdfs.truncated(folder / "truncated.pdf")
    pdfs.header_only(folder / "header-only.pdf")
    pdfs.zero_bytes(folder / "zero.pdf")
    pdfs.not_pdf(folder / "fake.pdf")
    cyclic_pages(folder / "cyclic-pages.pdf")
    huge(folder / "huge.pdf")
    return folder


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _listing(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, dict[str, object]]:
    code, out, _ = _run(capsys, "library", "list", "--json", *extra)
    assert code == 0
    return {Path(str(row["path"])).name: row for row in json.loads(out)}


def test_add_mixed_folder_batch_goes_on_and_list_gives_each_reason(
    capsys: pytest.CaptureFixture[str], mixed: Path
) -> None:
    code, out, _ = _run(capsys, "library", "add", str(mixed))
    assert code == 0, out  # something was indexed: the bad files do not fail the batch
    assert out.startswith("4 indexed")
    bad = {name for name, reason in EXPECTED.items() if reason}
    assert f"{len(bad)} not readable" in out
    for name in bad:
        assert f"{name}: " in out

    rows = _listing(capsys)
    assert set(rows) == set(EXPECTED)
    for name, reason in EXPECTED.items():
        row = rows[name]
        if reason is None:
            assert row["status"] == "ready" and row["reason"] == "", row
            assert int(row["pages"]) >= 1 and int(row["chunks"]) >= 1  # type: ignore[call-overload]
        else:
            assert (row["status"], row["reason"]) == ("error", reason), row
            assert row["message"] and row["hint"], row
    assert "password" in str(rows["locked-aes256.pdf"]["message"])
    assert "OCR" in str(rows["scan.pdf"]["hint"]) and "scan" in str(rows["scan.pdf"]["message"])
    assert "glyph codes" in str(rows["glyph-codes.pdf"]["message"])
    assert "600 MB" in str(rows["huge.pdf"]["message"])
    assert "not a PDF" in str(rows["fake.pdf"]["message"])

    # The plain listing says it in words, one line per file.
    code, text, _ = _run(capsys, "library", "list")
    assert code == 0
    line = next(x for x in text.splitlines() if x.endswith("") and "scan.pdf" in x)
    assert "no text layer" in line and "OCR" in line
    assert any("baking.pdf: 1 pages" in x for x in text.splitlines())

    # Adding the same folder again costs nothing: no file is read, nothing is embedded.
    code, out, _ = _run(capsys, "library", "add", str(mixed), "--json")
    again = json.loads(out)
    assert code == 0
    assert (again["added"], again["ready"], again["pages"], again["chunks"]) == (0, 0, 0, 0)
    assert again["unchanged"] == len(EXPECTED) and again["failed"] == []
    assert _listing(capsys) == rows


def test_all_bad_files_exit_with_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pdfs.zero_bytes(tmp_path / "zero.pdf")
    pdfs.not_pdf(tmp_path / "notes.pdf")
    code, out, _ = _run(capsys, "library", "add", str(tmp_path / "zero.pdf"), str(tmp_path / "notes.pdf"))
    assert code == 1
    assert "zero.pdf: This file is empty" in out and "[not_pdf]" in out
    code, out, _ = _run(capsys, "library", "add", str(tmp_path / "missing.pdf"))
    assert code == 1 and "[not_found]" in out


def test_other_document_types_are_added_and_bad_ones_say_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests import documents

    documents.garden_md(tmp_path / "garden.md")
    documents.binary_junk(tmp_path / "junk.txt")
    (tmp_path / "letter.docx").write_text("a letter renamed to .docx")
    code, out, _ = _run(capsys, "library", "add", str(tmp_path))
    assert code == 0  # one file was read; the others say why
    assert "junk.txt: This file is not text" in out and "[not_text]" in out
    assert "letter.docx: This file is not a Word document" in out and "[not_docx]" in out


@pytest.mark.skipif(not (EVAL / "scisumm").is_dir(), reason="shared eval set absent")
def test_real_problem_pdfs_from_the_eval_set(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """docinfo.json names real PDFs whose text comes out as glyph codes: the library says so."""
    info = json.loads((EVAL / "scisumm" / "docinfo.json").read_text())
    garbled = sorted(name for name, d in info.items() if d["text_quality"] == "garbled_glyph_codes")
    assert garbled
    for name in garbled:
        shutil.copy(EVAL / "scisumm" / "pdfs" / name, tmp_path / name)
    code, out, _ = _run(capsys, "library", "add", str(tmp_path))
    assert code == 1, out
    rows = _listing(capsys)
    assert {name: row["reason"] for name, row in rows.items()} == dict.fromkeys(garbled, "garbled")


def test_compression_bomb_is_reported_as_a_reader_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pdfs.compression_bomb(tmp_path / "bomb.pdf", 100)
    code, _, _ = _run(capsys, "library", "add", str(tmp_path))
    assert code == 1
    assert _listing(capsys)["bomb.pdf"]["reason"] in {"parser_limit", "too_large"}


def test_collections_list_and_remove(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {**TOPICS, "chess": ["The Sicilian Defence begins with c5 after e4."]})
    code, out, _ = _run(
        capsys, "library", "add", str(docs / "volcanoes.pdf"), "--collection", "Geology notes"
    )
    assert code == 0 and out.startswith("1 indexed")
    code, out, _ = _run(capsys, "library", "add", str(docs))
    assert code == 0 and out.startswith("3 indexed")  # the default collection has its own copy

    geology = _listing(capsys, "--collection", "Geology notes")
    assert set(geology) == {"volcanoes.pdf"} and geology["volcanoes.pdf"]["collection"] == "Geology notes"
    assert set(_listing(capsys, "--collection", "default")) == {"volcanoes.pdf", "baking.pdf", "chess.pdf"}

    code, out, _ = _run(
        capsys, "library", "remove", str(docs / "volcanoes.pdf"), "--collection", "Geology notes"
    )
    assert code == 0 and "1 file(s) removed" in out
    assert _listing(capsys, "--collection", "Geology notes") == {}
    assert "volcanoes.pdf" in _listing(capsys, "--collection", "default")  # other collection untouched

    (docs / "chess.pdf").unlink()
    code, out, _ = _run(capsys, "library", "remove", "--missing")
    assert code == 0 and "1 file(s) removed" in out
    code, out, _ = _run(capsys, "library", "remove", str(docs))
    assert code == 0 and "2 file(s) removed" in out
    code, out, _ = _run(capsys, "library", "list")
    assert "The library is empty" in out


def test_a_second_process_is_refused_with_a_clear_message(data_dir: Path) -> None:
    env = {**os.environ, "HEARTH_DATA_DIR": str(data_dir), "HEARTH_NO_GUI": "1"}
    with library.Library(data_dir, shared_embedder(), check_index=False):
        proc = subprocess.run(
            [sys.executable, "-m", "desktop", "library", "list"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1, proc.stderr
    assert "Another Hearth is already using this document library" in proc.stderr
    assert "HEARTH_DATA_DIR" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- ask, real model


@pytest.fixture
def lighthouse(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    # A short answer keeps the real model quick; one thread leaves the other core to the rest.
    (data_dir / "settings.json").write_text(json.dumps({"max_answer_tokens": 40, "threads": 1}))
    path = pdfs.normal(tmp_path / "zanthor.pdf", LIGHTHOUSE, title="Zanthor harbour guide")
    code, out, _ = _run(capsys, "library", "add", str(path))
    assert code == 0 and out.startswith("1 indexed")
    return path


def test_ask_json_cites_document_and_page(capsys: pytest.CaptureFixture[str], lighthouse: Path) -> None:
    code, out, err = _run(capsys, "ask", "Who built the Zanthor lighthouse?", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["found"] is True and answer["text"]
    cites = answer["citations"]
    assert cites and all(c["title"] == "Zanthor harbour guide" for c in cites)
    assert all(c["path"] == str(lighthouse) and c["page"] >= 1 for c in cites)
    okafor = [c for c in cites if "Okafor" in c["snippet"]]
    assert okafor and okafor[0]["page"] == 2
    assert sorted(c["n"] for c in cites) == list(range(1, len(cites) + 1))


def test_ask_about_something_absent_says_so_plainly(
    capsys: pytest.CaptureFixture[str], lighthouse: Path
) -> None:
    code, out, _ = _run(capsys, "ask", "How many moons does Jupiter have?", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["found"] is False and answer["abstained"] is True and answer["stats"] is None
    assert answer["text"].startswith("I could not find “Jupiter” in your documents.")
    assert "closest, not an answer" in answer["text"]
    assert answer["citations"] and not any(c["used"] for c in answer["citations"])
    code, out, _ = _run(capsys, "ask", "How many moons does Jupiter have?")
    assert "I could not find “Jupiter” in your documents." in out


def test_nothing_found_answers_without_starting_the_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lighthouse: Path
) -> None:
    from desktop.services.llm import LlamaRuntime

    started: list[object] = []

    def refuse(self: LlamaRuntime) -> None:
        started.append(self)
        raise AssertionError("the model was started for a question with nothing to answer from")

    monkeypatch.setattr(LlamaRuntime, "start", refuse)
    code, out, err = _run(capsys, "ask", "How many moons does Jupiter have?", "--json")
    assert (code, json.loads(out)["found"], started) == (0, False, []), err
    code, out, err = _run(capsys, "ask", "Who built the Zanthor lighthouse?", "--collection", "Recipes")
    assert code != 0 and "no collection named “Recipes”" in err and "default" in err and started == []
    # The same guard proves the found path does start it (so the test can fail).
    with pytest.raises(AssertionError, match="was started"):
        main(["ask", "Who built the Zanthor lighthouse?", "--json"])
    assert len(started) == 1


def test_ask_shows_sources_before_the_answer(
    monkeypatch: pytest.MonkeyPatch, lighthouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = StringIO()  # stdout and stderr in one stream, to see what came first
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    assert main(["ask", "When was the Zanthor lighthouse built?"]) == 0
    text = both.getvalue()
    first = text.index("[1] Zanthor harbour guide p.")
    assert str(lighthouse) in text[first:].splitlines()[0]
    answer = text[text.index("\n\n", first) :].strip()
    assert answer, text  # the model's answer follows the sources


def test_a_hostile_file_name_stays_on_its_row_and_cannot_drive_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    pdfs.header_only(docs / "bad\nrow\x1b[2J\x1b]0;PWNED\x07.pdf")
    main(["library", "add", str(docs)])
    added = capsys.readouterr()
    assert "\x1b" not in added.out + added.err and "\\x1b[2J" in added.out
    assert main(["library", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 1, rows
    assert rows[0].startswith("[default] ") and "bad\\nrow\\x1b[2J" in rows[0]


def _hearth(args: list[str], data: Path, timeout: float = 120) -> tuple[int, str, str]:
    from tests.procs import communicate_within

    env = {**os.environ, "HEARTH_DATA_DIR": str(data), "HEARTH_NO_GUI": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=REPO,
    )
    out, err = communicate_within(proc, timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def test_pipes_and_devices_named_pdf_get_a_reason_row_and_never_block(tmp_path: Path) -> None:
    """A FIFO blocks open(); a symlink to /dev/zero reads forever. Given directly or in a folder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    os.mkfifo(docs / "pipe.pdf")
    (docs / "zeros.pdf").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "direct-pipe.pdf")
    (tmp_path / "direct-zeros.pdf").symlink_to("/dev/zero")
    data = tmp_path / "data"
    code, out, _err = _hearth(
        ["library", "add", str(docs), str(tmp_path / "direct-pipe.pdf"), str(tmp_path / "direct-zeros.pdf")],
        data,
        timeout=90,
    )
    assert code == 1, out  # nothing readable at all
    assert out.count("not a regular file") == 4, out
    code, out, _err = _hearth(["library", "list", "--json"], data, timeout=60)
    rows = {Path(r["path"]).name: r for r in json.loads(out)}
    assert set(rows) == {"pipe.pdf", "zeros.pdf", "direct-pipe.pdf", "direct-zeros.pdf"}
    assert {r["reason"] for r in rows.values()} == {"not_regular_file"}
    assert "named pipe" in rows["pipe.pdf"]["message"] and "device" in rows["zeros.pdf"]["message"]


def test_a_file_hearth_may_not_read_is_listed_with_its_reason_and_recovers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    pdfs.normal(docs / "locked-down.pdf", ["A page about tide tables and harbour opening hours."])
    real = library.file_sha256

    def denied(path: Path) -> str:  # root reads everything, so the permission error is simulated
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(library, "file_sha256", denied)
    assert main(["library", "add", str(docs)]) == 1
    capsys.readouterr()
    assert main(["library", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "error" and row["reason"] == "unreadable_file"
    assert "Permission denied" in row["message"] and row["hint"]

    monkeypatch.setattr(library, "file_sha256", real)  # permission fixed: the next add reads it
    assert main(["library", "add", str(docs)]) == 0
    capsys.readouterr()
    assert main(["library", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "ready", row


def test_a_file_named_like_an_option_is_added_after_double_dash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pdfs.normal(tmp_path / "-rf.pdf", ["A page about lighthouse keepers and their logbooks."])
    assert main(["library", "add", "--", "-rf.pdf"]) == 0
    capsys.readouterr()
    assert main(["library", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "ready" and row["path"].endswith("/-rf.pdf")

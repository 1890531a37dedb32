"""`hearth ask` end to end on real 10-Q filings: the failures of issue 14, pinned through the real pipeline.

Two real filings (Apple's quarters ended April 1 and July 1, 2023) are indexed once for the module
with the real embedder; the real bundled model answers where a model is needed. Questions the
documents cannot answer must be refused without starting the model at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.core.jobs import run_job
from desktop.core.rag import CLOSEST_LEAD, GROUNDED_LEAD, NOT_IN_DOCUMENTS
from desktop.services import embeddings, library, pdf
from tests import pdfs
from tests.conftest import EVAL
from tests.embedder import shared_embedder

FILINGS = EVAL / "docugami_sec10q" / "pdfs"
JULY = "What was Apple's total net sales in the quarter ended July 1, 2023?"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------- bad inputs (fast)


def test_an_empty_question_is_refused_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "ask", "   ")
    assert code != 0 and out == "" and "The question is empty." in err and "Traceback" not in err


def test_a_200_kb_question_is_refused_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "ask", "What is in the report? " * 9000)
    assert code != 0 and out == "" and "The question is too long (206,999 characters" in err
    assert "Traceback" not in err


def test_an_empty_library_says_there_are_no_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "ask", "What were total net sales?")
    assert code != 0 and "There are no documents in your library" in err and "hearth library add" in err


@pytest.mark.slow
def test_a_library_of_only_failed_files_says_so(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    bad = [pdfs.not_pdf(tmp_path / "fake.pdf"), pdfs.scanned(tmp_path / "scan.pdf")]
    with library.Library(data_dir, shared_embedder(), check_index=False) as lib:
        result = run_job(lib.add_job(bad))
    assert len(result.failed) == 2 and not result.ready
    code, _, err = _run(capsys, "ask", "What were total net sales?")
    assert code != 0 and "None of the 2 file(s) in your library could be read" in err
    assert "hearth library list" in err


# ----------------------------------------------------------------------------- real filings, real model


@pytest.fixture(scope="module")
def filings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir holding the two Apple filings, indexed once; every command shares one embedder."""
    if not (FILINGS / "2023 Q3 AAPL.pdf").is_file():
        pytest.skip("the docugami filings are not here")
    root = tmp_path_factory.mktemp("filings")
    mp = pytest.MonkeyPatch()
    mp.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    mp.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    # One thread (the other core stays free), short answers: the model part stays quick.
    (root / "settings.json").write_text(json.dumps({"max_answer_tokens": 60, "threads": 1}))
    with library.Library(root, shared_embedder(), check_index=False) as lib:
        result = run_job(lib.add_job([FILINGS / "2023 Q3 AAPL.pdf", FILINGS / "2023 Q2 AAPL.pdf"]))
    assert result.ready == 2, result.failed
    yield root
    mp.undo()
    pdf.close_workers()


@pytest.fixture
def in_filings(filings: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_DATA_DIR", str(filings))
    return filings


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fails the test if anything starts the model."""
    from desktop.services.llm import LlamaRuntime

    started: list[object] = []

    def refuse(self: LlamaRuntime) -> None:
        started.append(self)
        raise AssertionError("the model was started for a question the documents do not answer")

    monkeypatch.setattr(LlamaRuntime, "start", refuse)
    return started


@pytest.mark.slow
def test_the_quarter_asked_is_answered_not_the_quarter_before(
    capsys: pytest.CaptureFixture[str], in_filings: Path
) -> None:
    code, out, err = _run(capsys, "ask", JULY, "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["found"] and not answer["abstained"] and answer["mode"] == "grounded"
    assert answer["text"].startswith(GROUNDED_LEAD)
    first = answer["citations"][0]
    assert first["title"] == "2023 Q3 AAPL" and first["used"]
    assert first["quote"].startswith("Total net sales $ 81,797 $ 82,959")
    assert "81,797" in answer["text"] and "94,836" not in answer["text"]
    assert all(c["title"] == "2023 Q3 AAPL" for c in answer["citations"])
    # The quote is the page's own text: the viewer can find it there to highlight it.
    with library.Library(in_filings, shared_embedder(), check_index=False) as lib:
        page = lib.pages(first["doc_id"], first["page"], first["page"])[0]
    assert first["quote"] in " ".join(page.text.split())
    for s in answer["sentences"]:
        assert s["supported"] and s["sources"], s
    assert answer["timings"]["evidence_s"] < 5


@pytest.mark.slow
def test_the_lease_question_abstains_without_the_model(
    capsys: pytest.CaptureFixture[str], in_filings: Path, no_model: list[object]
) -> None:
    code, out, err = _run(capsys, "ask", "What is the notice period in my apartment lease?", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["abstained"] and not answer["found"] and no_model == []
    assert answer["text"].startswith(NOT_IN_DOCUMENTS) and CLOSEST_LEAD in answer["text"]
    assert answer["citations"] and not any(c["used"] for c in answer["citations"])
    assert "month" not in answer["text"].split(CLOSEST_LEAD)[0]


@pytest.mark.slow
def test_a_company_not_in_the_library_is_named_and_not_answered(
    capsys: pytest.CaptureFixture[str], in_filings: Path, no_model: list[object]
) -> None:
    code, out, err = _run(
        capsys, "ask", "What were Tesla's total net sales in the quarter ended July 1, 2023?"
    )
    assert code == 0, err
    assert out.startswith("I could not find “Tesla” in your documents.") and no_model == []


@pytest.mark.slow
def test_one_named_document_is_asked_alone(
    capsys: pytest.CaptureFixture[str], in_filings: Path, no_model: list[object]
) -> None:
    # The April filing does not cover the quarter ended July 1: refused, not answered from it.
    code, out, err = _run(capsys, "ask", JULY, "--document", "2023 Q2 AAPL", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["abstained"] and answer["text"].startswith("I could not find “July 1, 2023”")
    assert {c["title"] for c in answer["citations"]} <= {"2023 Q2 AAPL"}
    code, _, err = _run(capsys, "ask", JULY, "--document", "AAPL")
    assert code != 0 and "matches several documents" in err


# ----------------------------------------------------------------------------- one short document

LEASE = [
    "Tenancy agreement for the flat at 14 Harbour Row. The tenancy starts on 1 March 2026 and runs "
    "for twelve months. The monthly rent is 1,150 euros, due on the first day of each month.",
    "Notice. Either party may end the tenancy after the first six months by giving two months' "
    "notice in writing. The deposit of 2,300 euros is returned within 30 days of the end of the "
    "tenancy, less the cost of any damage beyond normal wear.",
    "Pets are allowed with the landlord's written consent. The tenant keeps the garden tidy and "
    "reports any repair needed within seven days.",
]


@pytest.mark.slow
def test_a_short_lease_answers_everyday_questions_in_its_own_words(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease says "two months' notice", not "notice period": asked of it alone, the question is
    answered from page 2 (the document regime of the gate), not refused as the library's constants
    did; a question about something no document names is still refused."""
    from tests.ui.conftest import write_pdf

    monkeypatch.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    monkeypatch.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    (data_dir / "settings.json").write_text(json.dumps({"max_answer_tokens": 60, "threads": 1}))
    lease = write_pdf(tmp_path / "lease.pdf", LEASE)
    with library.Library(data_dir, shared_embedder(), check_index=False) as lib:
        assert run_job(lib.add_job([lease], "lease")).ready == 1
    code, out, err = _run(capsys, "ask", "What is the notice period?", "--collection", "lease",
                          "--mode", "grounded", "--json")  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    assert not answer["abstained"] and answer["gate"]["regime"] == "document", answer
    assert "two months' notice" in answer["text"] and answer["citations"][0]["page"] == 2
    code, out, err = _run(capsys, "ask", "What is the capital of France?", "--collection", "lease", "--json")
    assert code == 0, err
    assert json.loads(out)["abstained"]


@pytest.mark.slow
def test_chat_over_a_collection_answers_like_ask_and_keeps_its_sources(
    capsys: pytest.CaptureFixture[str], in_filings: Path
) -> None:
    """Issue 9: chat over collections existed only in the window. `hearth chat --collection` asks
    the same use case as `hearth ask` (and the window), and the kept chat remembers its collections
    and each answer's sources, as the window keeps them."""
    with library.Library(in_filings, shared_embedder(), check_index=False) as lib:
        (collection,) = lib.collections()
    code, out, err = _run(capsys, "chat", "--collection", collection, "--once", JULY, "--json")
    assert code == 0, err
    chat = json.loads(out)
    code, out, err = _run(capsys, "ask", JULY, "--json")
    asked = json.loads(out)

    def evidence(text: str, citations: list[dict[str, object]]) -> tuple[list[str], list[tuple[object, ...]]]:
        """The quoted lines and the sources: the same evidence whatever the model then writes (its
        sentence is sampled, so it may differ between two runs, or be cut at the length limit)."""
        quotes = [line for line in text.splitlines() if line.startswith("[")]
        return quotes, [(c["n"], c["doc_id"], c["page"], c["quote"]) for c in citations]

    assert evidence(chat["answer"], chat["citations"]) == evidence(asked["text"], asked["citations"])
    assert "81,797" in chat["answer"]
    code, out, err = _run(capsys, "chats", "export", str(chat["chat_id"]), "--json")
    exported = json.loads(out)
    assert exported["collections"] == [collection]
    kept = exported["messages"][-1]
    assert kept["role"] == "assistant" and kept["citations"] == chat["citations"]
    code, _, err = _run(capsys, "chat", "--collection", "no-such", "--once", JULY)
    assert code != 0 and "There is no collection named “no-such”" in err

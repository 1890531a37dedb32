"""`hearth eval retrieval`: hit rules and metrics by hand; a real run on generated PDFs with known pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.cli.eval import Ranked, judge, load_set, summarize_ranks
from tests import pdfs
from tests.embedder import shared_embedder

# ----------------------------------------------------------------------------- scoring by hand


def test_document_hit_is_the_first_passage_from_any_gold_document() -> None:
    ranked = [Ranked("x", 1, 1), Ranked("y", 2, 2), Ranked("b", 4, 5), Ranked("a", 1, 1), Ranked("b", 1, 1)]
    doc_rank, page_rank, cov = judge(ranked, {"a", "b"}, set(), max_k=5)
    assert doc_rank == 3  # "b" at rank 3 comes before "a"
    assert page_rank is None  # no page gold: page level is not scored
    assert cov[1] == 0.0 and cov[3] == 0.5 and cov[4] == 1.0


def test_page_hit_needs_the_gold_page_inside_the_passage_span_of_that_document() -> None:
    ranked = [Ranked("a", 2, 3), Ranked("b", 5, 5), Ranked("a", 4, 6)]
    # Page 5 of "a" is gold; "b" page 5 is the wrong document, "a" 2-3 the wrong pages.
    assert judge(ranked, {"a"}, {("a", 5)}, max_k=3)[:2] == (1, 3)
    assert judge(ranked, {"a"}, {("a", 5)}, max_k=2)[:2] == (1, 0)  # beyond max k: a miss


def test_recall_and_mrr_from_first_hit_ranks() -> None:
    got = summarize_ranks([1, 3, 0, 7], [1, 5, 10])
    assert got["recall@1"] == 0.25
    assert got["recall@5"] == 0.5
    assert got["recall@10"] == 0.75
    assert got["mrr"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 7) / 4)


# ----------------------------------------------------------------------------- a real run

FILLER = {
    "orchard": "Orchard work follows the seasons and the weather. Growers keep careful notes every year. ",
    "lighthouse": "The keeper's log records every ship that passes the cape. Weather decides the routine. ",
    "volcano": "Geologists measure gas and ground movement on the mountain. Villages keep evacuation plans. ",
}
PAGES = {
    "orchard": [
        "Pruning of the apple trees happens in late winter with long-handled loppers.",
        "Frost protection for the blossoms relies on tall wind machines that mix warmer air downward.",
        "Harvested pears are packed into wooden crates lined with tissue paper.",
    ],
    "lighthouse": [
        "The Fresnel lens of the lighthouse was ground in Paris from 1,000 glass prisms.",
        "During fog the keeper sounds a diaphragm foghorn driven by compressed air.",
    ],
    "volcano": [
        "Basaltic lava flows advance slowly and rarely threaten lives.",
        "Pyroclastic density currents rush down the slopes at hundreds of kilometres an hour.",
        "Sulfur dioxide emissions are tracked with ultraviolet spectrometers from the crater rim.",
    ],
}


def _page(key_sentence: str, topic: str) -> str:
    # ~800 characters: one page per passage, the key sentence first so it is never only overlap.
    return key_sentence + " " + FILLER[topic] * 8


@pytest.fixture(scope="module")
def qa_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evalset") / "tiny"
    (folder / "pdfs").mkdir(parents=True)
    for topic, pages in PAGES.items():
        pdfs.normal(folder / "pdfs" / f"{topic}.pdf", pages=[_page(p, topic) for p in pages], title=topic)
    pdfs.scanned(folder / "pdfs" / "scan.pdf")

    def q(qid: str, question: str, docs: list[str], pages: list[tuple[str, int]], **extra: object) -> str:
        return json.dumps(
            {
                "id": qid,
                "question": question,
                "docs": [f"tiny/pdfs/{d}.pdf" for d in docs],
                "gold_pages": [{"doc": f"tiny/pdfs/{d}.pdf", "page": p} for d, p in pages],
                **extra,
            }
        )

    lines = [
        # 0-based pages, as in ../shared/eval.
        q(
            "frost",
            "How are apple blossoms protected from frost with wind machines?",
            ["orchard"],
            [("orchard", 1)],
        ),
        q(
            "fog",
            "What sounds the foghorn during fog at the lighthouse?",
            ["lighthouse"],
            [("lighthouse", 1)],
        ),
        q(
            "multi",
            "How fast do pyroclastic density currents rush down the slopes?",
            ["orchard", "volcano"],
            [("volcano", 1)],
        ),
        # Must miss: asks about the lens, but the gold says the volcano's sulfur page (no shared word).
        q(
            "miss",
            "In which city were the glass prisms of the lighthouse lens made?",
            ["volcano"],
            [("volcano", 2)],
        ),
        # Skipped: unanswerable, and only a left-out (scanned) PDF.
        q("unans", "What is the orchard's phone number?", ["orchard"], [], answerable=False),
        q("scan", "What does the scan say?", ["scan"], []),
    ]
    (folder / "qa.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "docinfo.json").write_text(json.dumps({"scan.pdf": {"text_quality": "no_text_layer"}}))
    return folder


def test_load_set_resolves_paths_and_leaves_out_bad_files_and_unanswerable(qa_folder: Path) -> None:
    s = load_set(qa_folder)
    assert [it.id for it in s.items] == ["frost", "fog", "multi", "miss"]
    assert s.skipped_questions == 2 and s.excluded == {"scan.pdf": "no_text_layer"}
    assert s.items[0].pages == ((qa_folder / "pdfs" / "orchard.pdf", 2),)  # 1-based like Hearth pages
    assert {p.name for p in s.pdfs} == {"orchard.pdf", "lighthouse.pdf", "volcano.pdf"}


@pytest.mark.slow
def test_eval_cli_scores_a_real_index_and_keeps_the_user_library_clean(
    qa_folder: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import desktop.services.embeddings as embeddings

    monkeypatch.setattr(embeddings, "Embedder", lambda **kw: shared_embedder())
    kept = tmp_path / "eval-index"
    argv = ["eval", "retrieval", str(qa_folder), "--k", "1,3", "--json", "--details", "--data-dir", str(kept)]
    assert main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["questions"] == 4 and rep["questions_with_page_gold"] == 4
    assert rep["pdfs_ready"] == 3 and rep["pages"] == 8
    ranks = {row["id"]: row for row in rep["per_question"]}
    for method in ("hybrid", "keyword"):
        assert ranks["frost"][method] == {"doc_rank": 1, "page_rank": 1}, method
        assert ranks["fog"][method] == {"doc_rank": 1, "page_rank": 1}, method
        assert ranks["multi"][method]["doc_rank"] == 1, method  # volcano counts for a two-document gold
        assert ranks["miss"][method]["doc_rank"] != 1, method
    # BM25 never sees the volcano for the lens question: a miss at every k.
    assert ranks["miss"]["keyword"] == {"doc_rank": 0, "page_rank": 0}
    keyword = rep["methods"]["keyword"]
    assert keyword["page"]["recall@3"] == 0.75 and keyword["document"]["recall@3"] == 0.75
    assert keyword["document"]["mrr"] == 0.75
    # Three of four questions hit at rank 1 (document and page), the fourth does not.
    hybrid = rep["methods"]["hybrid"]
    assert hybrid["document"]["recall@1"] == 0.75 and hybrid["page"]["recall@1"] == 0.75
    assert hybrid["document"]["coverage@1"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    # The user's own library was not touched; the kept index is reused without re-indexing.
    assert not (data_dir / "library.sqlite").exists()
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["index"]["unchanged"] == 3 and again["index"]["ready"] == 0
    for m in ("hybrid", "keyword", "vector"):
        assert again["methods"][m]["document"] == rep["methods"][m]["document"], m


def test_eval_cli_explains_a_folder_without_questions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "retrieval", str(tmp_path)]) == 1
    assert "No qa.jsonl" in capsys.readouterr().err
    assert main(["eval", "retrieval", str(tmp_path), "--k", "0,x"]) == 1
    assert "--k" in capsys.readouterr().err


def test_default_eval_index_lives_in_a_temporary_dir_that_is_removed(data_dir: Path) -> None:
    from desktop.cli.eval import _eval_root

    with _eval_root(None) as root:
        assert root.is_dir() and not root.is_relative_to(data_dir)
        (root / "library.sqlite").write_text("x")
    assert not root.exists()


# ============================================================================= eval answers

ANSWER_PAGES = {
    "orchard": [
        "The orchard harvested 12,400 kilograms of pears in the autumn season.",
        "Frost protection for the blossoms relies on tall wind machines that mix warmer air downward.",
    ],
    "lighthouse": [
        "The Fresnel lens of the lighthouse was ground in Paris from 1,000 glass prisms.",
        "During fog the keeper sounds a diaphragm foghorn driven by compressed air.",
    ],
}


@pytest.fixture(scope="module")
def answers_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("answerset") / "tiny"
    (folder / "pdfs").mkdir(parents=True)
    for topic, pages in ANSWER_PAGES.items():
        pdfs.normal(folder / "pdfs" / f"{topic}.pdf", pages=[_page(p, topic) for p in pages], title=topic)

    def q(qid: str, question: str, answer: str, docs: list[str]) -> str:
        return json.dumps(
            {"id": qid, "question": question, "answer": answer, "docs": [f"tiny/pdfs/{d}.pdf" for d in docs]}
        )

    lines = [
        q("pears", "How many kilograms of pears did the orchard harvest?", "12,400 kilograms.", ["orchard"]),
        q(
            "both",
            "What do the orchard and the lighthouse use against the weather?",
            "Wind machines; a foghorn.",
            ["orchard", "lighthouse"],
        ),
        q("prisms", "How many glass prisms make up the lighthouse lens?", "1,000 prisms.", ["lighthouse"]),
    ]
    (folder / "qa.jsonl").write_text("\n".join(lines) + "\n")
    unanswerable = [
        ("u-lease", "What is the notice period in my apartment lease?"),
        ("u-tesla", "How many cars did Tesla deliver in 2023?"),
    ]
    (folder / "unanswerable.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "question": t, "answerable": False, "docs": []}) + "\n"
            for i, t in unanswerable
        )
    )
    return folder


def test_answer_set_filters_questions_but_indexes_every_pdf(answers_folder: Path) -> None:
    from desktop.cli.eval import load_answer_set

    extra = answers_folder / "unanswerable.jsonl"
    single = load_answer_set(answers_folder, "single")
    assert [it.id for it in single.items] == ["pears", "prisms"]
    assert {p.name for p in single.pdfs} == {"orchard.pdf", "lighthouse.pdf"}
    assert single.items[0].gold == "12,400 kilograms." and single.items[0].answerable
    assert [it.id for it in load_answer_set(answers_folder, "multi").items] == ["both"]
    assert [it.id for it in load_answer_set(answers_folder, "prisms,pears").items] == ["pears", "prisms"]
    only_extra = load_answer_set(answers_folder, "none", extra=[extra])
    assert [(it.id, it.answerable, it.docs) for it in only_extra.items] == [
        ("u-lease", False, ()),
        ("u-tesla", False, ()),
    ]
    limited = load_answer_set(answers_folder, "all", limit=1, extra=[extra])
    assert [it.id for it in limited.items] == ["pears", "u-lease"]  # --limit applies to each set
    assert len(limited.pdfs) == 2  # the index is the whole folder's, whatever is asked


def test_answers_cli_explains_bad_arguments(
    answers_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli.eval import answer_path_features

    assert main(["eval", "answers", str(tmp_path)]) == 1
    assert "No qa.jsonl" in capsys.readouterr().err
    assert main(["eval", "answers", str(answers_folder), "--questions", "nope"]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["eval", "answers", str(answers_folder), "--extra", str(tmp_path / "missing.jsonl")]) == 1
    assert "missing.jsonl" in capsys.readouterr().err
    assert main(["eval", "answers", str(answers_folder), "--limit", "0"]) == 1
    assert "--limit" in capsys.readouterr().err
    if not answer_path_features()["mode"]:  # an answer path without modes cannot be measured in one
        assert main(["eval", "answers", str(answers_folder), "--mode", "grounded"]) == 1
        assert "no modes" in capsys.readouterr().err


def test_used_sources_come_from_the_answer_or_its_markers() -> None:
    from types import SimpleNamespace as NS

    from desktop.cli.eval import _source_texts, _used_numbers

    cites = (NS(n=1, title="A", snippet="x 5"), NS(n=2, title="B", snippet="y"))
    assert _used_numbers(NS(text="as [2] says, and [7]", citations=cites)) == {2}
    flagged = (NS(n=1, used=True, title="A", snippet=""), NS(n=2, used=False, title="B", snippet=""))
    assert _used_numbers(NS(text="no markers", citations=flagged)) == {1}
    assert _used_numbers(NS(text="x", citations=cites, used=(1,))) == {1}
    assert _source_texts(NS(citations=cites, evidence=[NS(text="quoted 7")])) == [
        "A",
        "x 5",
        "B",
        "y",
        "quoted 7",
    ]


@pytest.mark.slow
def test_answers_cli_runs_the_real_answer_path_with_one_model_start(
    answers_folder: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import desktop.services.embeddings as embeddings
    from desktop.services.llm import LlamaRuntime

    monkeypatch.setattr(embeddings, "Embedder", lambda **kw: shared_embedder())
    starts: list[int] = []
    real_start = LlamaRuntime.start

    def counting_start(self: LlamaRuntime):  # type: ignore[no-untyped-def]
        if not (self.alive and self.info is not None):
            starts.append(1)
        return real_start(self)

    monkeypatch.setattr(LlamaRuntime, "start", counting_start)
    out = tmp_path / "report.json"
    argv = [
        "eval", "answers", str(answers_folder), "--questions", "single", "--limit", "1",
        "--extra", str(answers_folder / "unanswerable.jsonl"), "--json", str(out),
        "--keep", str(tmp_path / "index"),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "gold figure contained" in printed.out and "abstention on unanswerable" in printed.out
    assert "[1/2] pears:" in printed.err and "[2/2] u-lease:" in printed.err
    rep = json.loads(out.read_text())
    assert "partial" not in rep and rep["mode"] == "auto" and rep["model"].startswith("SmolLM2")
    assert rep["pdfs_ready"] == 2 and starts == [1]  # one model start for the whole run
    assert [a["id"] for a in rep["answers"]] == ["pears", "u-lease"]  # --limit: of each set
    pears = rep["answers"][0]
    assert pears["answerable"] and pears["gold_numbers"] == 1 and pears["contains_gold"] in (True, False)
    assert pears["seconds"] > 0 and isinstance(pears["answer"], str) and pears["sources"]
    assert all(not a["answerable"] and a["contains_gold"] is None for a in rep["answers"][1:])
    summary = rep["summary"]
    assert summary["answerable"] == 1 and summary["unanswerable"] == 1 and summary["n_answers"] == 2
    assert 0.0 <= summary["abstention_rate_unanswerable"] <= 1.0
    assert not (data_dir / "library.sqlite").exists()  # the user's library is untouched
    # The report carries what scoring reads: scoring it again gives the same figures.
    assert main(["eval", "rescore", str(out), "--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["summary"] == summary and again["answers"] == rep["answers"]


def test_rescore_scores_a_report_again_without_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "id": "q1",
        "set": "qa.jsonl",
        "question": "What were Apple's net sales?",
        "answerable": True,
        "gold": "Net sales were $81,797 million.",
        "gold_docs": ["2023 Q3 AAPL.pdf"],
        "gold_doc_ids": ["aapl"],
        "gold_page_ids": [],
        "answer": "Net sales were $81.8 billion [1], up 80%.",
        "answer_abstained": False,
        "answer_seconds": 2.5,
        "sources": [
            {"n": 1, "doc": "aapl", "title": "2023 Q3 AAPL", "page": 10, "page_end": 10, "used": True}
        ],
        "source_texts": ["2023 Q3 AAPL", "Total net sales $ 81,797 $ 82,959"],
        "stats": None,
        "contains_gold": False,  # an older scoring's verdict: replaced
    }
    report = {
        "set": "docugami_sec10q", "questions_filter": "single", "extra": [], "model": "m.gguf", "n_ctx": 2048,
        "threads": 1, "model_load_seconds": 1.0, "mode": "auto", "answer_path": {"mode": False},
        "pdfs": 1, "pdfs_ready": 1, "pages": 28, "passages": 90, "index": {"ready": 0},
        "index_seconds": 0.0, "data_dir": "x", "excluded_pdfs": {}, "answers": [record],
    }  # fmt: skip
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert main(["eval", "rescore", str(path), "--json", str(tmp_path / "out.json")]) == 0
    assert "gold figure contained" in capsys.readouterr().out
    out = json.loads((tmp_path / "out.json").read_text())
    row = out["answers"][0]
    assert row["contains_gold"] is True and row["cites_gold_doc"] is True and row["unsupported"] == ["80"]
    assert out["summary"]["gold_contained_rate"] == 1.0 and out["summary"]["median_seconds"] == 2.5
    for bad in ("{}", "not json", json.dumps({"answers": [{"id": "x"}]})):
        path.write_text(bad)
        assert main(["eval", "rescore", str(path)]) == 1
        assert "not a report" in capsys.readouterr().err

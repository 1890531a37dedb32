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

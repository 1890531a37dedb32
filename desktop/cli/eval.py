"""`hearth eval retrieval DIR`: recall@k and MRR of Hearth's retrieval on a qa.jsonl set, with baselines.

The folder follows ../shared/eval (see its README): `qa.jsonl` (one question a line: `question`,
`docs` = PDF paths relative to the folder's parent or to the folder, `gold_pages` = `{doc, page}`
with a 0-based pypdf page index) and the PDFs; an optional `docinfo.json` whose `text_quality`
marks files that are not `ok` (scans, glyph codes): those are left out of the figures, and so
is every question whose gold documents are all left out.

Where it indexes: a fresh temporary data dir, deleted afterwards, so an eval never touches the
user's library (nor waits for its lock). `--data-dir DIR` keeps the index there instead and
reuses it on the next run (re-adding unchanged PDFs costs nothing; a change to the chunker,
detected by a fingerprint, rebuilds it). Collection name: `eval`.

Three retrievers answer every question in the same run, on the same index:
- `hybrid`: Hearth's real retrieval, `desktop.core.rag.retrieve` (what `hearth ask` uses);
- `keyword`: BM25 over the FTS5 passage index alone (`Library.keyword_search`);
- `vector`: the embedding index alone (`Library.vector_search`).
Each returns a ranked list of passages (chunks); the query is embedded once and shared.

What counts as a hit, for a question with gold documents D and gold pages P:
- document level: a passage at rank r is a hit when its document is one of D (matched by
  content hash, so names and paths do not matter). recall@k = share of questions with at least
  one hit in the top k (a question citing four documents needs only one of them: "finds a cited
  document"). coverage@k = mean share of D that appears in the top k (how much of a multi-document
  question the passages cover).
- page level: a passage is a hit when it comes from one of P's documents and its page span
  [page_start, page_end] contains one of P's pages of that document. Only questions with page
  gold count (n is shown); a set without page gold reports page figures as n/a.
- MRR = mean over questions of 1/r for the first hit at rank r <= max k (0 when none in the
  top max k), i.e. MRR@max(k).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.cli.common import ProgressLine, print_json
from desktop.core.errors import AppError
from desktop.core.jobs import run_job

log = logging.getLogger("desktop.eval")

COLLECTION = "eval"
METHODS = ("hybrid", "keyword", "vector")
FINGERPRINT_FILE = "hearth-eval.json"


def register(sub: Any) -> None:
    p = sub.add_parser("eval", help="measure quality on an evaluation set")
    esub = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    r = esub.add_parser(
        "retrieval",
        help="document- and page-level recall@k and MRR on a qa.jsonl folder (hybrid vs keyword vs vector)",
    )
    r.add_argument("folder", type=Path, help="folder with qa.jsonl and its PDFs")
    r.add_argument("--k", default="1,5,10", help="cut-offs, comma-separated (default 1,5,10)")
    r.add_argument(
        "--data-dir",
        type=Path,
        help="keep the eval index here and reuse it next time (default: a temporary dir, deleted)",
    )
    r.add_argument(
        "--gold",
        choices=("docs", "cited"),
        default="docs",
        help="document gold: the question's `docs` (default) or the files its answer cites "
        "(meta.answer_cited_docs)",
    )
    r.add_argument("--limit", type=int, help="only the first N questions")
    r.add_argument("--details", action="store_true", help="with --json: per-question first-hit ranks")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_retrieval)


# ----------------------------------------------------------------------------- the set


@dataclass(frozen=True, slots=True)
class QaItem:
    id: str
    question: str
    docs: tuple[Path, ...]
    pages: tuple[tuple[Path, int], ...]  # (pdf, 1-based page) like Hearth's Page.number


@dataclass
class EvalSet:
    name: str
    items: list[QaItem]
    pdfs: list[Path]
    excluded: dict[str, str] = field(default_factory=dict)  # file name -> why it is left out
    skipped_questions: int = 0


def _resolve(folder: Path, rel: str) -> Path:
    for base in (folder.parent, folder, folder / "pdfs"):
        p = base / rel
        if p.is_file():
            return p.resolve()
    hits = sorted(folder.rglob(Path(rel).name))
    if hits:
        return hits[0].resolve()
    raise AppError(
        f"The evaluation set names a PDF that is not there: {rel}",
        "Check that the folder is complete (qa.jsonl paths are relative to the folder or its parent).",
    )


def load_set(folder: Path, gold: str = "docs", limit: int | None = None) -> EvalSet:
    """Questions and PDFs of a qa.jsonl folder; files docinfo.json marks as not `ok` are left out."""
    folder = folder.expanduser().resolve()
    qa = folder / "qa.jsonl"
    if not qa.is_file():
        raise AppError(
            f"No qa.jsonl in {folder}.",
            "Point at a folder in the ../shared/eval format (qa.jsonl next to the PDFs).",
        )
    excluded: dict[str, str] = {}
    info_path = folder / "docinfo.json"
    if info_path.is_file():
        for name, info in json.loads(info_path.read_text(encoding="utf-8")).items():
            quality = info.get("text_quality", "ok") if isinstance(info, dict) else "ok"
            if quality != "ok":
                excluded[Path(name).name] = quality
    items: list[QaItem] = []
    skipped = 0
    for n, line in enumerate(qa.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            docs = [_resolve(folder, d) for d in row["docs"]]
            if gold == "cited" and row.get("meta", {}).get("answer_cited_docs"):
                cited = {Path(c).name for c in row["meta"]["answer_cited_docs"]}
                docs = [d for d in docs if d.name in cited] or docs
            pages = [(_resolve(folder, g["doc"]), int(g["page"]) + 1) for g in row.get("gold_pages") or []]
            question = str(row["question"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AppError(
                f"Line {n} of {qa.name} is not a valid question record.",
                "Each line needs `question` and `docs` (see ../shared/eval/README.md).",
                detail=str(exc),
            ) from exc
        docs = [d for d in docs if d.name not in excluded]
        pages = [(d, p) for d, p in pages if d.name not in excluded]
        if not docs or row.get("answerable") is False:
            skipped += 1
            continue
        items.append(QaItem(str(row.get("id", n)), question, tuple(docs), tuple(pages)))
        if limit is not None and len(items) >= limit:
            break
    pdfs = sorted({d for it in items for d in it.docs} | {d for it in items for d, _ in it.pages})
    return EvalSet(folder.name, items, pdfs, excluded, skipped)


# ----------------------------------------------------------------------------- scoring


def _first_hit(hits: Sequence[bool]) -> int:
    """1-based rank of the first True, 0 when none."""
    for rank, hit in enumerate(hits, start=1):
        if hit:
            return rank
    return 0


def summarize_ranks(ranks: Sequence[int], ks: Sequence[int]) -> dict[str, float]:
    """recall@k and MRR from first-hit ranks (0 = no hit in the top max k)."""
    n = len(ranks)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = sum(1 for r in ranks if 0 < r <= k) / n if n else 0.0
    out["mrr"] = sum(1.0 / r for r in ranks if r > 0) / n if n else 0.0
    return out


@dataclass(frozen=True, slots=True)
class Ranked:
    """One retrieved passage, reduced to what scoring needs."""

    sha256: str
    page_start: int
    page_end: int


def judge(
    ranked: Sequence[Ranked], gold_docs: set[str], gold_pages: set[tuple[str, int]], max_k: int
) -> tuple[int, int | None, dict[int, float]]:
    """(first document hit rank, first page hit rank or None without page gold, coverage@k by k)."""
    top = list(ranked[:max_k])
    doc_rank = _first_hit([r.sha256 in gold_docs for r in top])
    page_rank: int | None = None
    if gold_pages:
        page_rank = _first_hit(
            [any((r.sha256, p) in gold_pages for p in range(r.page_start, r.page_end + 1)) for r in top]
        )
    coverage = {k: len({r.sha256 for r in top[:k]} & gold_docs) / len(gold_docs) for k in range(1, max_k + 1)}
    return doc_rank, page_rank, coverage


# ----------------------------------------------------------------------------- running


class _SharedQueryVectors:
    """The library as a retriever whose query embedding is computed once per question."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self._cache: dict[str, list[float]] = {}
        self.embed_s = 0.0

    def query_vector(self, query: str) -> list[float]:
        if query not in self._cache:
            t0 = time.perf_counter()
            self._cache[query] = self.lib.embedder.encode_query(query)
            self.embed_s += time.perf_counter() - t0
        return self._cache[query]

    def vector_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.lib.vector_search_by(self.query_vector(query), collections, k)

    def keyword_search(self, query: str, collections: Sequence[str], k: int) -> list[tuple[str, float]]:
        return self.lib.keyword_search(query, collections, k)

    def chunks(self, ids: Sequence[str]) -> list[Any]:
        return self.lib.chunks(ids)


def _rankers(retriever: _SharedQueryVectors, max_k: int) -> dict[str, Callable[[str], list[Ranked]]]:
    from desktop.core.rag import retrieve

    cols = [COLLECTION]

    def as_ranked(ids: Sequence[str]) -> list[Ranked]:
        recs = {r.id: r for r in retriever.chunks(ids)}
        return [Ranked(recs[i].sha256, recs[i].page_start, recs[i].page_end) for i in ids if i in recs]

    def hybrid(q: str) -> list[Ranked]:
        got = retrieve(retriever, q, cols, k=max_k)
        return [Ranked(r.sha256, r.page_start, r.page_end) for r in got.records]

    def keyword(q: str) -> list[Ranked]:
        return as_ranked([i for i, _ in retriever.keyword_search(q, cols, max_k)])

    def vector(q: str) -> list[Ranked]:
        return as_ranked([i for i, _ in retriever.vector_search(q, cols, max_k)])

    return {"hybrid": hybrid, "keyword": keyword, "vector": vector}


def evaluate(lib: Any, items: Sequence[QaItem], ks: Sequence[int], details: bool = False) -> dict[str, Any]:
    """Every question through each retriever; metrics per method (see the module docstring)."""
    from desktop.services.library import file_sha256

    max_k = max(ks)
    sha_of: dict[Path, str] = {}
    for it in items:
        for d in (*it.docs, *(p for p, _ in it.pages)):
            if d not in sha_of:
                sha_of[d] = file_sha256(d)
    retriever = _SharedQueryVectors(lib)
    rankers = _rankers(retriever, max_k)
    doc_ranks: dict[str, list[int]] = {m: [] for m in rankers}
    page_ranks: dict[str, list[int]] = {m: [] for m in rankers}
    coverage: dict[str, dict[int, float]] = {m: dict.fromkeys(ks, 0.0) for m in rankers}
    seconds: dict[str, float] = dict.fromkeys(rankers, 0.0)
    per_question: list[dict[str, Any]] = []
    for it in items:
        gold_docs = {sha_of[d] for d in it.docs}
        gold_pages = {(sha_of[d], p) for d, p in it.pages}
        row: dict[str, Any] = {"id": it.id}
        retriever.query_vector(it.question)  # embedded once, outside the per-method timings
        for method, rank in rankers.items():
            t0 = time.perf_counter()
            ranked = rank(it.question)
            seconds[method] += time.perf_counter() - t0
            doc_rank, page_rank, cov = judge(ranked, gold_docs, gold_pages, max_k)
            doc_ranks[method].append(doc_rank)
            if page_rank is not None:
                page_ranks[method].append(page_rank)
            for k in ks:
                coverage[method][k] += cov[k]
            row[method] = {"doc_rank": doc_rank, "page_rank": page_rank}
        per_question.append(row)
    n = len(items)
    methods: dict[str, Any] = {}
    for m in rankers:
        doc = summarize_ranks(doc_ranks[m], ks)
        doc.update({f"coverage@{k}": coverage[m][k] / n if n else 0.0 for k in ks})
        methods[m] = {
            "document": doc,
            "page": summarize_ranks(page_ranks[m], ks) if page_ranks[m] else None,
            "ms_per_query": round(1000 * seconds[m] / n, 2) if n else 0.0,
        }
    out: dict[str, Any] = {
        "questions": n,
        "questions_with_page_gold": len(page_ranks["hybrid"]),
        "k": list(ks),
        "methods": methods,
        "query_embedding_ms": round(1000 * retriever.embed_s / n, 2) if n else 0.0,
    }
    if details:
        out["per_question"] = per_question
    return out


def _fingerprint() -> str:
    """Changes whenever the chunker does, so a kept eval index is rebuilt with the new passages."""
    import desktop.core.chunking as chunking

    return hashlib.sha256(Path(chunking.__file__).read_bytes()).hexdigest()[:16]


@contextmanager
def _eval_root(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep = keep.expanduser().resolve()
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    tmp = Path(tempfile.mkdtemp(prefix="hearth-eval-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_index(lib: Any, root: Path, pdfs: Sequence[Path], on_event: Any = None) -> dict[str, Any]:
    """Add the PDFs to the eval collection (incremental); rebuild when the chunker changed."""
    stamp = root / FINGERPRINT_FILE
    want = {"chunker": _fingerprint()}
    if stamp.is_file() and json.loads(stamp.read_text()) != want and COLLECTION in lib.collections():
        log.info("chunker changed since the kept eval index was built: rebuilding it")
        lib.remove_collection(COLLECTION)
    result = run_job(lib.add_job(list(pdfs), COLLECTION), on_event)
    stamp.write_text(json.dumps(want))
    return result.to_dict()


def run_retrieval_eval(
    folder: Path,
    ks: Sequence[int] = (1, 5, 10),
    data_dir: Path | None = None,
    gold: str = "docs",
    limit: int | None = None,
    details: bool = False,
    embedder: Any = None,
    on_event: Any = None,
) -> dict[str, Any]:
    """Index the folder's PDFs into a private eval library, then score every retriever."""
    from desktop.services.embeddings import Embedder
    from desktop.services.library import Library

    evalset = load_set(folder, gold, limit)
    if not evalset.items:
        raise AppError(f"No usable questions in {folder}.", "Check qa.jsonl and docinfo.json.")
    with _eval_root(data_dir) as root:
        emb = embedder or Embedder(threads=os.cpu_count() or 1)
        with Library(root, emb) as lib:
            t0 = time.perf_counter()
            added = build_index(lib, root, evalset.pdfs, on_event)
            index_s = time.perf_counter() - t0
            ready = [r for r in lib.files(COLLECTION) if r.status == "ready"]
            report = evaluate(lib, evalset.items, ks, details)
    report.update(
        {
            "set": evalset.name,
            "folder": str(folder),
            "gold": gold,
            "data_dir": str(data_dir) if data_dir else "(temporary, deleted)",
            "pdfs": len(evalset.pdfs),
            "pdfs_ready": len(ready),
            "pages": sum(r.page_count for r in ready),
            "passages": sum(r.chunks for r in ready),
            "index_seconds": round(index_s, 1),
            "index": added,
            "excluded_pdfs": evalset.excluded,
            "skipped_questions": evalset.skipped_questions,
        }
    )
    return report


def _pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def format_report(rep: dict[str, Any]) -> str:
    ks = rep["k"]
    lines = [
        f"{rep['set']}: {rep['questions']} questions, {rep['pdfs_ready']}/{rep['pdfs']} PDFs ready "
        f"({rep['pages']} pages, {rep['passages']} passages); "
        + (
            f"indexing took {rep['index_seconds']}s"
            if rep["index"]["ready"]
            else f"kept index reused from {rep['data_dir']}"
        ),
    ]
    if rep["excluded_pdfs"]:
        lines.append(f"left out (text quality): {', '.join(sorted(rep['excluded_pdfs']))}")
    if rep["skipped_questions"]:
        lines.append(f"{rep['skipped_questions']} question(s) skipped (unanswerable or only left-out PDFs)")
    head = "method   " + "".join(f"  R@{k:<3}" for k in ks) + "   MRR " + "".join(f"  cov@{k:<3}" for k in ks)
    lines += ["", f"document level (a passage from a gold PDF; gold = {rep['gold']}):", head]
    for m, res in rep["methods"].items():
        d = res["document"]
        lines.append(
            f"{m:<9}"
            + "".join(f"  {_pct(d[f'recall@{k}'])}" for k in ks)
            + f"  {_pct(d['mrr'])}"
            + "".join(f"  {_pct(d[f'coverage@{k}'])}  " for k in ks)
        )
    lines.append("")
    if rep["questions_with_page_gold"]:
        lines.append(f"page level (a passage spanning a gold page), n={rep['questions_with_page_gold']}:")
        lines.append("method   " + "".join(f"  R@{k:<3}" for k in ks) + "   MRR")
        for m, res in rep["methods"].items():
            p = res["page"]
            lines.append(
                f"{m:<9}" + "".join(f"  {_pct(p[f'recall@{k}'])}" for k in ks) + f"  {_pct(p['mrr'])}"
            )
    else:
        lines.append("page level: n/a (this set has no page gold)")
    lines.append("")
    lines.append(
        "ms per query: "
        + ", ".join(f"{m} {res['ms_per_query']}" for m, res in rep["methods"].items())
        + f" (+ query embedding {rep['query_embedding_ms']} ms, shared)"
    )
    return "\n".join(lines)


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        ks = []
    if not ks or ks[0] < 1:
        raise AppError(f"--k must be positive whole numbers like 1,5,10 (got {text!r}).")
    return ks


def _retrieval(args: argparse.Namespace) -> int:
    ks = _parse_ks(args.k)
    progress = ProgressLine()
    report = run_retrieval_eval(
        args.folder, ks, args.data_dir, args.gold, args.limit, args.details, on_event=progress
    )
    progress.clear()
    if args.json:
        print_json(report)
    else:
        print(format_report(report), file=sys.stdout)
    return 0

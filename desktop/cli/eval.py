"""`hearth eval retrieval DIR` (recall@k and MRR of Hearth's retrieval, with baselines) and
`hearth eval answers DIR` (answer quality through the real answer path) on a qa.jsonl set.

`eval answers` is described at its section below and in docs/answers.md; its scoring is
desktop/core/answer_eval.py. What follows is about `eval retrieval`.

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
ANSWER_MODES = ("auto", "grounded", "checked")
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
    a = esub.add_parser(
        "answers",
        help="answer quality on a qa.jsonl folder: gold figures, cited documents, unsupported numbers, "
        "abstention",
    )
    a.add_argument("folder", type=Path, help="folder with qa.jsonl and its PDFs")
    a.add_argument(
        "--mode",
        choices=ANSWER_MODES,
        default="auto",
        help="answer mode (auto: as the app chooses for the model; needs an answer path with modes "
        "for grounded/checked)",
    )
    a.add_argument("--model", help="model name or GGUF path (default: the bundled model)")
    a.add_argument("--limit", type=int, help="only the first N questions of the set (and of --extra)")
    a.add_argument(
        "--questions",
        default="all",
        help="which questions of qa.jsonl: all (default), single (one document in `docs`), multi, "
        "none (only --extra), or comma-separated ids",
    )
    a.add_argument(
        "--extra",
        type=Path,
        action="append",
        help="another jsonl of questions (e.g. an unanswerable set, `answerable: false`) asked of the "
        "same index (repeatable)",
    )
    a.add_argument("--json", type=Path, metavar="OUT", help="write the report, every answer included, here")
    a.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the eval index in DIR and reuse it (same as eval retrieval --data-dir)",
    )
    a.set_defaults(func=_answers)
    rs = esub.add_parser(
        "rescore",
        help="score the answers of an `eval answers --json` report again (current scoring rules, no model)",
    )
    rs.add_argument("report", type=Path, help="a report written by eval answers --json")
    rs.add_argument("--json", type=Path, metavar="OUT", help="write the re-scored report here")
    rs.set_defaults(func=_rescore)


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


def _excluded(folder: Path) -> dict[str, str]:
    """File name -> text quality, for the PDFs docinfo.json marks as not `ok`."""
    excluded: dict[str, str] = {}
    info_path = folder / "docinfo.json"
    if info_path.is_file():
        for name, info in json.loads(info_path.read_text(encoding="utf-8")).items():
            quality = info.get("text_quality", "ok") if isinstance(info, dict) else "ok"
            if quality != "ok":
                excluded[Path(name).name] = quality
    return excluded


def load_set(folder: Path, gold: str = "docs", limit: int | None = None) -> EvalSet:
    """Questions and PDFs of a qa.jsonl folder; files docinfo.json marks as not `ok` are left out."""
    folder = folder.expanduser().resolve()
    qa = folder / "qa.jsonl"
    if not qa.is_file():
        raise AppError(
            f"No qa.jsonl in {folder}.",
            "Point at a folder in the ../shared/eval format (qa.jsonl next to the PDFs).",
        )
    excluded = _excluded(folder)
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
    from desktop.services.files import sha256_file as file_sha256

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
        _store_plain(keep)
        yield keep
        return
    tmp = Path(tempfile.mkdtemp(prefix="hearth-eval-"))
    try:
        _store_plain(tmp)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _store_plain(root: Path) -> None:
    """An eval index holds the evaluation's own documents, not the user's: no key, no passphrase."""
    try:
        from desktop.services import database
    except ImportError:  # an older Hearth (a baseline worktree) has no encrypted store to set up
        return

    if database.read_state(root) is None:
        database.set_up(root, database.PLAIN, reason="an evaluation index of the documents named for it")


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


# ============================================================================= eval answers
#
# `hearth eval answers DIR`: every question through the real answer path (`ask_job`, called as
# `hearth ask` calls it) over the same isolated index as `eval retrieval`, one model started once
# for the run; each answer scored by desktop.core.answer_eval (what each figure means is there).
# The whole folder's PDFs are indexed whatever --questions/--limit pick, so every question is
# asked of the full library a user would have. `--extra` sets (an unanswerable set) are asked
# of that same index.


@dataclass(frozen=True, slots=True)
class AnswerItem:
    id: str
    question: str
    gold: str
    answerable: bool
    docs: tuple[Path, ...]
    pages: tuple[tuple[Path, int], ...]  # (pdf, 1-based page)
    source: str  # the file it came from


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise AppError(
                f"Line {n} of {path.name} is not JSON.", "One JSON object a line.", detail=str(exc)
            ) from exc
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise AppError(
                f"Line {n} of {path.name} is not a valid question record.",
                "Each line needs `question` (and `docs`, `answer`, `answerable`): "
                "see ../shared/eval/README.md.",
            )
        rows.append((n, row))
    return rows


def _answer_item(
    folder: Path, row: dict[str, Any], n: int, source: str, excluded: dict[str, str]
) -> AnswerItem:
    try:
        docs = [_resolve(folder, d) for d in row.get("docs") or []]
        pages = [(_resolve(folder, g["doc"]), int(g["page"]) + 1) for g in row.get("gold_pages") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise AppError(
            f"Line {n} of {source} has unreadable `docs` or `gold_pages`.", detail=str(exc)
        ) from exc
    docs = [d for d in docs if d.name not in excluded]
    pages = [(d, p) for d, p in pages if d.name not in excluded]
    answerable = row.get("answerable") is not False
    return AnswerItem(
        str(row.get("id", f"{source}:{n}")),
        str(row["question"]),
        str(row.get("answer") or ""),
        answerable,
        tuple(docs),
        tuple(pages),
        source,
    )


def _pick(rows: list[tuple[int, dict[str, Any]]], which: str) -> list[tuple[int, dict[str, Any]]]:
    which = which.strip()
    if which == "all":
        return rows
    if which == "none":
        return []
    if which in ("single", "multi"):
        want_single = which == "single"
        return [(n, r) for n, r in rows if (len(r.get("docs") or []) == 1) == want_single]
    ids = [x.strip() for x in which.split(",") if x.strip()]
    known = {str(r.get("id")) for _, r in rows}
    missing = [i for i in ids if i not in known]
    if missing:
        raise AppError(
            f"--questions names ids that are not in qa.jsonl: {', '.join(missing[:5])}",
            "Use all, single, multi, none, or ids from qa.jsonl separated by commas.",
        )
    return [(n, r) for n, r in rows if str(r.get("id")) in ids]


@dataclass
class AnswerSet:
    name: str
    items: list[AnswerItem]
    pdfs: list[Path]  # every PDF of the folder's qa.jsonl (the index), left-out files excepted
    excluded: dict[str, str] = field(default_factory=dict)
    skipped_questions: int = 0  # gold documents all left out (text quality)
    extra: list[str] = field(default_factory=list)


def load_answer_set(
    folder: Path, which: str = "all", limit: int | None = None, extra: Sequence[Path] = ()
) -> AnswerSet:
    """The questions to answer: qa.jsonl filtered by `which` (first `limit`), then each extra file's."""
    folder = folder.expanduser().resolve()
    qa = folder / "qa.jsonl"
    if not qa.is_file():
        raise AppError(
            f"No qa.jsonl in {folder}.",
            "Point at a folder in the ../shared/eval format (qa.jsonl next to the PDFs).",
        )
    excluded = _excluded(folder)
    rows = _read_rows(qa)
    all_items = [_answer_item(folder, r, n, qa.name, excluded) for n, r in rows]
    pdfs = sorted({d for it in all_items for d in (*it.docs, *(p for p, _ in it.pages))})
    picked_ids = {id(r) for _, r in _pick(rows, which)}
    items: list[AnswerItem] = []
    skipped = 0
    for (_, row), item in zip(rows, all_items, strict=True):
        if id(row) not in picked_ids:
            continue
        if item.answerable and not item.docs:  # its documents were all left out
            skipped += 1
            continue
        if limit is not None and len(items) >= limit:
            break
        items.append(item)
    names: list[str] = []
    for path in extra:
        path = path.expanduser().resolve()
        if not path.is_file():
            raise AppError(f"There is no question file {path}.", "--extra takes a jsonl file of questions.")
        more = [_answer_item(folder, r, n, path.name, excluded) for n, r in _read_rows(path)]
        items.extend(more[:limit] if limit is not None else more)
        names.append(path.name)
    return AnswerSet(folder.name, items, pdfs, excluded, skipped, names)


# ----------------------------------------------------------------------------- the answer path


def _accepts(fn: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def answer_path_features() -> dict[str, bool]:
    """What the installed answer path accepts (the harness runs on older and newer code alike)."""
    from dataclasses import fields

    from desktop.core.rag import AskRequest, ask_job

    names = {f.name for f in fields(AskRequest)}
    return {
        "mode": "mode" in names,
        "model_params": "model_params" in names,
        "embed": _accepts(ask_job, "embed"),
    }


def _used_numbers(answer: Any) -> set[int]:
    """The shown sources the answer cites: what the Answer says when it says so, else its [n] markers."""
    from desktop.core.answer_eval import marker_numbers

    citations = tuple(getattr(answer, "citations", ()) or ())
    flags = [getattr(c, "used", None) for c in citations]
    if citations and all(isinstance(f, bool) for f in flags):
        return {int(c.n) for c in citations if c.used}
    for attr in ("used", "used_sources", "cited"):
        value = getattr(answer, attr, None)
        if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, int) for v in value):
            return {int(v) for v in value}
    sentences = getattr(answer, "sentences", None)
    if sentences:
        used: set[int] = set()
        for sent in sentences:
            for attr in ("citations", "sources", "cites"):
                value = getattr(sent, attr, None)
                if value:
                    used |= {int(getattr(v, "n", v)) for v in value}
                    break
        if used:
            return used
    return set(marker_numbers(str(getattr(answer, "text", "")), max((c.n for c in citations), default=0)))


def _source_texts(answer: Any) -> list[str]:
    """The text of every source shown with the answer: citation titles and snippets, quoted evidence."""
    out: list[str] = []
    for c in getattr(answer, "citations", ()) or ():
        out += [str(getattr(c, "title", "") or ""), str(getattr(c, "snippet", "") or "")]
        for attr in ("quote", "highlight", "evidence"):
            value = getattr(c, attr, None)
            if isinstance(value, str):
                out.append(value)
    for attr in ("evidence", "quotes"):
        for ev in getattr(answer, attr, None) or ():
            text = ev if isinstance(ev, str) else getattr(ev, "text", None)
            if isinstance(text, str):
                out.append(text)
    return out


def _answer_request(question: str, settings: Any, choice: Any, mode: str, features: dict[str, bool]) -> Any:
    """An AskRequest as `hearth ask` builds it (desktop/cli/ask.py), with what this answer path accepts."""
    from desktop.core.chat import GenerationParams
    from desktop.core.rag import AskRequest

    extra: dict[str, Any] = {}
    if features["mode"]:
        extra["mode"] = mode
    if features["model_params"]:
        extra["model_params"] = getattr(choice.model, "n_params", None)
    return AskRequest(
        question,
        (COLLECTION,),
        n_ctx=choice.plan.n_ctx,  # replaced by the started model's window (start_model) in every version
        params=GenerationParams(max_tokens=int(settings["max_answer_tokens"]), temperature=0.2),
        max_sources=int(settings["sources_per_answer"]),
        **extra,
    )


def _ask_kwargs(lib: Any, runtime: Any, features: dict[str, bool]) -> dict[str, Any]:
    """Keywords of ask_job beyond the engine, library, request and token counter (as ask.py passes them)."""
    kwargs: dict[str, Any] = {"start_model": lambda: runtime.n_ctx}
    if features["embed"] and hasattr(lib, "embed_texts"):
        kwargs["embed"] = lib.embed_texts
    return kwargs


# ----------------------------------------------------------------------------- running


def _record(item: AnswerItem, answer: Any, seconds: float, sha_of: dict[Path, str]) -> dict[str, Any]:
    """What was asked and answered, with everything scoring reads (so a report can be re-scored)."""
    stats = getattr(answer, "stats", None)
    used = _used_numbers(answer)
    return {
        "id": item.id,
        "set": item.source,
        "question": item.question,
        "answerable": item.answerable,
        "gold": item.gold,
        "gold_docs": [d.name for d in item.docs],
        "gold_doc_ids": sorted({sha_of[d] for d in item.docs}),
        "gold_page_ids": sorted([sha_of[d], p] for d, p in item.pages),
        "answer": str(answer.text),
        "answer_abstained": bool(getattr(answer, "abstained", not answer.found)),
        "answer_seconds": seconds,
        "sources": [
            {
                "n": int(c.n),
                "doc": str(c.doc_id),
                "title": c.title,
                "page": int(c.page),
                "page_end": int(c.page_end or c.page),
                "used": int(c.n) in used,
            }
            for c in getattr(answer, "citations", ()) or ()
        ],
        "source_texts": _source_texts(answer),
        "stats": stats.to_dict() if stats is not None and hasattr(stats, "to_dict") else None,
        # What newer answer paths say about themselves (absent on older ones).
        "answer_mode": getattr(answer, "mode", None),
        "answer_cut": getattr(answer, "cut", None),
        "timings": dict(getattr(answer, "timings", None) or {}),
        "gate": dict(getattr(answer, "gate", None) or {}),
        "sentences": [
            {
                "text": str(getattr(x, "text", "")),
                "sources": list(getattr(x, "sources", ()) or ()),
                "supported": getattr(x, "supported", None),
                "by_model": getattr(x, "by_model", None),
            }
            for x in getattr(answer, "sentences", None) or ()
        ],
    }


def score_record(rec: dict[str, Any]) -> Any:
    """The AnswerScore of one answer record (`_record`), by desktop.core.answer_eval."""
    from desktop.core.answer_eval import CitedSource, score_answer

    stats = rec.get("stats") or None
    cut = rec.get("answer_cut")
    truncated = cut if isinstance(cut, bool) else (stats.get("stop_reason") == "length") if stats else None
    sentences = rec.get("sentences") or []
    return score_answer(
        qid=rec["id"],
        question=rec["question"],
        answer=rec["answer"],
        gold=rec["gold"],
        answerable=rec["answerable"],
        abstained=rec["answer_abstained"],
        sources=[
            CitedSource(s["n"], s["doc"], s["page"], s["page_end"], bool(s["used"])) for s in rec["sources"]
        ],
        source_texts=rec["source_texts"],
        gold_docs=set(rec["gold_doc_ids"]),
        gold_pages={(d, int(p)) for d, p in rec["gold_page_ids"]},
        seconds=float(rec["answer_seconds"]),
        ttft_s=float(stats["ttft_s"]) if stats else None,
        truncated=truncated,
        timings=rec.get("timings") or {},
        sentences_unsupported=sum(1 for x in sentences if x.get("supported") is False) if sentences else None,
    )


def rescore_report(report: dict[str, Any]) -> dict[str, Any]:
    """A report's answers scored again by the current scoring rules (no model, no index)."""
    from desktop.core.answer_eval import aggregate

    records = [{k: v for k, v in rec.items() if k in _RECORD_KEYS} for rec in report["answers"]]
    scores = [score_record(rec) for rec in records]
    return {
        **report,
        "summary": aggregate(scores),
        "answers": [{**rec, **s.to_dict()} for rec, s in zip(records, scores, strict=True)],
    }


_RECORD_KEYS = frozenset(
    (
        "id", "set", "question", "answerable", "gold", "gold_docs", "gold_doc_ids", "gold_page_ids",
        "answer", "answer_abstained", "answer_seconds", "sources", "source_texts", "stats",
        "answer_mode", "answer_cut", "timings", "gate", "sentences",
    )
)  # fmt: skip


def run_answer_eval(
    folder: Path,
    *,
    mode: str = "auto",
    model: str | None = None,
    limit: int | None = None,
    questions: str = "all",
    extra: Sequence[Path] = (),
    keep: Path | None = None,
    embedder: Any = None,
    json_out: Path | None = None,
    on_event: Any = None,
    on_answer: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Index the folder's PDFs privately, answer every picked question, score each answer."""
    from desktop.core.answer_eval import aggregate
    from desktop.core.rag import ask_job
    from desktop.core.settings import SettingsStore
    from desktop.services.embeddings import Embedder
    from desktop.services.files import sha256_file as file_sha256
    from desktop.services.library import Library
    from desktop.services.runtime import open_runtime

    if mode not in ANSWER_MODES:
        raise AppError(f"--mode must be one of {', '.join(ANSWER_MODES)} (got {mode!r}).")
    features = answer_path_features()
    if mode != "auto" and not features["mode"]:
        raise AppError(
            f"This answer path has no modes, so --mode {mode} cannot be measured.",
            "Use --mode auto (the answer path as it is).",
        )
    aset = load_answer_set(folder, questions, limit, extra)
    if not aset.items:
        raise AppError(f"No questions to answer in {folder}.", "Check --questions, --extra and qa.jsonl.")
    sha_of = {
        p: file_sha256(p) for p in {d for it in aset.items for d in (*it.docs, *(p for p, _ in it.pages))}
    }
    scores: list[Any] = []
    records: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    with _eval_root(keep) as root:
        # Defaults, not the user's settings: runs are comparable between machines and users.
        settings = SettingsStore(root / "hearth-eval-settings.json")
        emb = embedder or Embedder(threads=os.cpu_count() or 1)
        with Library(root, emb) as lib:
            t0 = time.perf_counter()
            added = build_index(lib, root, aset.pdfs, on_event)
            index_s = time.perf_counter() - t0
            ready = [r for r in lib.files(COLLECTION) if r.status == "ready"]
            runtime, choice = open_runtime(settings, model)
            with runtime:
                t1 = time.perf_counter()
                info = runtime.start()  # once for the run, outside the per-answer timings
                load_s = time.perf_counter() - t1
                report = {
                    "set": aset.name,
                    "folder": str(folder),
                    "questions_filter": questions,
                    "extra": aset.extra,
                    "limit": limit,
                    "mode": mode,
                    "answer_path": features,
                    "model": Path(choice.model.path).name,
                    "model_path": str(choice.model.path),
                    "n_ctx": getattr(info, "n_ctx", None),
                    "threads": getattr(choice.plan, "n_threads", None),
                    "model_load_seconds": round(load_s, 1),
                    "data_dir": str(keep) if keep else "(temporary, deleted)",
                    "pdfs": len(aset.pdfs),
                    "pdfs_ready": len(ready),
                    "pages": sum(r.page_count for r in ready),
                    "passages": sum(r.chunks for r in ready),
                    "index_seconds": round(index_s, 1),
                    "index": added,
                    "excluded_pdfs": aset.excluded,
                    "skipped_questions": aset.skipped_questions,
                }
                for i, item in enumerate(aset.items, start=1):
                    request = _answer_request(item.question, settings, choice, mode, features)
                    job = ask_job(
                        runtime, lib, request, runtime.count_tokens, **_ask_kwargs(lib, runtime, features)
                    )
                    t2 = time.perf_counter()
                    answer = run_job(job, None)
                    seconds = time.perf_counter() - t2
                    record = _record(item, answer, seconds, sha_of)
                    score = score_record(record)
                    scores.append(score)
                    records.append({**record, **score.to_dict()})
                    if on_answer is not None:
                        on_answer(i, len(aset.items), records[-1])
                    if json_out is not None:  # partial results survive an interrupted run
                        _write_json(
                            json_out,
                            {**report, "partial": True, "summary": aggregate(scores), "answers": records},
                        )
    report["summary"] = aggregate(scores)
    report["answers"] = records
    if json_out is not None:
        _write_json(json_out, report)
    return report


def _write_json(path: Path, value: Any) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def format_answers_report(rep: dict[str, Any]) -> str:
    s = rep["summary"]
    sets = f"{rep['set']} ({rep['questions_filter']})" + "".join(f" + {e}" for e in rep["extra"])
    path = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in rep["answer_path"].items())
    lines = [
        f"{sets}: {s['answerable']} answerable + {s['unanswerable']} unanswerable questions",
        f"model {rep['model']} (n_ctx {rep['n_ctx']}, {rep['threads']} threads, loaded in "
        f"{rep['model_load_seconds']}s); mode {rep['mode']}; answer path accepts: {path}",
        f"index: {rep['pdfs_ready']}/{rep['pdfs']} PDFs ready "
        f"({rep['pages']} pages, {rep['passages']} passages); "
        + (
            f"indexing took {rep['index_seconds']}s"
            if rep["index"]["ready"]
            else f"kept index reused from {rep['data_dir']}"
        ),
    ]
    if rep["excluded_pdfs"]:
        lines.append(f"left out (text quality): {', '.join(sorted(rep['excluded_pdfs']))}")
    rows = [
        ("gold figure contained", s["gold_contained_rate"], s["n_gold_with_figures"]),
        ("gold key-figure recall (mean)", s["gold_number_recall"], s["n_gold_with_figures"]),
        ("gold word recall (mean)", s["gold_word_recall"], s["answerable"]),
        ("gold document cited (used source)", s["gold_doc_cited_rate"], s["n_gold_doc"]),
        ("gold document among sources shown", s["gold_doc_shown_rate"], s["n_gold_doc"]),
        ("gold page cited", s["gold_page_cited_rate"], s["n_gold_page"]),
        ("unsupported numbers per answer (mean)", s["unsupported_numbers_mean"], s["n_answers"]),
        ("answers with an unsupported number", s["answers_with_unsupported_share"], s["n_answers"]),
        ("  of the answers not abstaining", s["answered_with_unsupported_share"], s["n_answered"]),
        ("abstention on unanswerable", s["abstention_rate_unanswerable"], s["n_unanswerable"]),
        ("false abstention on answerable", s["false_abstention_rate_answerable"], s["n_answerable"]),
        ("answers cut at the token limit", s["truncated_share"], s["n_with_stats"]),
        ("seconds per answer (median)", s["median_seconds"], s["n_answers"]),
        ("seconds per answer (mean)", s["mean_seconds"], s["n_answers"]),
        ("time to first token, s (median)", s["median_ttft_s"], s["n_with_stats"]),
        ("question to evidence, s (median)", s["median_evidence_s"], s["n_answers"]),
        ("question to first model token, s (median)", s["median_first_token_s"], s["n_first_token"]),
        ("sentences marked unsupported (mean)", s["sentences_marked_unsupported_mean"], s["n_answers"]),
    ]
    lines += ["", f"{'':<44}{'value':>8}{'n':>6}"]
    lines += [f"{label:<44}{_fmt(value):>8}{n:>6}" for label, value, n in rows]
    return "\n".join(lines)


def _answers(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise AppError("--limit must be a positive whole number.")
    progress = ProgressLine()

    def on_answer(i: int, total: int, rec: dict[str, Any]) -> None:
        progress.clear()
        gold = {True: "yes", False: "no", None: "n/a"}[rec["contains_gold"]]
        print(
            f"[{i}/{total}] {rec['id']}: {rec['seconds']:.1f}s gold={gold} "
            f"unsupported={rec['unsupported_numbers']} abstained={'yes' if rec['abstained'] else 'no'}",
            file=sys.stderr,
            flush=True,
        )

    report = run_answer_eval(
        args.folder,
        mode=args.mode,
        model=args.model,
        limit=args.limit,
        questions=args.questions,
        extra=args.extra or (),
        keep=args.keep,
        json_out=args.json,
        on_event=progress,
        on_answer=on_answer,
    )
    progress.clear()
    print(format_answers_report(report), file=sys.stdout)
    if args.json:
        print(f"\nevery answer: {args.json}", file=sys.stdout)
    return 0


def _rescore(args: argparse.Namespace) -> int:
    try:
        report = json.loads(args.report.expanduser().read_text(encoding="utf-8"))
        report = rescore_report(report)
        table = format_answers_report(report)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AppError(
            f"{args.report} is not a report of hearth eval answers --json.",
            "Give the file an `eval answers --json OUT` run wrote.",
            detail=str(exc),
        ) from exc
    print(table, file=sys.stdout)
    if args.json:
        _write_json(args.json, report)
    return 0

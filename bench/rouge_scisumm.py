"""ROUGE of Hearth's summaries against the human summaries of CL-SciSumm, next to two baselines.

    .venv/bin/python -m bench.rouge_scisumm [--limit N] [--docs docs/summarize.md] [--variants …]

For each of the 25 papers whose `text_quality` is `ok`: pages from the PDF (desktop.services.pdf),
the abstract's sentences stripped from the input (it is the author's own summary), then
- hearth: `summarize_job` on the default model and plan (key points, target 150 words, mode "auto",
  which is "grounded" for the bundled 135M model); scored on the whole summary's text (the overview
  sentences and the points) without page references;
- hearth_abstractive (and the other hearth_* variants): the model writes every point (map–reduce);
- lead: the first sentences of the (abstract-free) text, up to 150 words (fragments of fewer
  than 6 words, such as headings and author lines, skipped);
- centrality: the sentences nearest the document's mean embedding (Hearth's own ranker), up to
  150 words, in document order: what the model is given to start from, with no model at all.
ROUGE-1/2/L F1 (rouge-score, Porter stemming), mean over papers. Prints a Markdown table and JSON,
and with --docs writes the table into that file between markers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from desktop.core.jobs import run_job
from desktop.core.summarize import SummaryRequest, content_words, summarize_job
from desktop.core.types import Page, RuntimePlan
from desktop.services import privacy

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scisumm"
WORDS = 150
BEGIN, END = "<!-- rouge:begin -->", "<!-- rouge:end -->"


def strip_abstract(pages: list[Page], abstract: str) -> list[Page]:
    """Drop the sentences of the pages that repeat a sentence of the abstract."""
    from desktop.services.sentences import split_sentences

    abstract_sets = [content_words(s) for s in split_sentences(abstract)]
    abstract_sets = [s for s in abstract_sets if len(s) >= 3]
    out = []
    for page in pages:
        kept = []
        for s in split_sentences(page.text):
            w = content_words(s)
            if w and any(len(w & a) / len(w | a) >= 0.5 for a in abstract_sets):
                continue
            kept.append(s)
        out.append(Page(page.number, " ".join(kept)))
    return out


def _first_words(sentences: list[str], words: int) -> str:
    out: list[str] = []
    n = 0
    for s in sentences:
        if n >= words:
            break
        out.append(s)
        n += len(s.split())
    return " ".join(out)


def lead(pages: list[Page]) -> str:
    from desktop.services.sentences import split_sentences

    sents = [s for p in pages for s in split_sentences(p.text) if len(s.split()) >= 6]
    return _first_words(sents, WORDS)


def centrality(pages: list[Page], ranker: Any) -> str:
    from desktop.services.sentences import split_sentences

    sents = [s for p in pages for s in split_sentences(p.text)]
    scores = ranker.scores(sents)
    order = sorted(range(len(sents)), key=lambda i: -scores[i])
    chosen: list[int] = []
    n = 0
    for i in order:
        if n >= WORDS:
            break
        chosen.append(i)
        n += len(sents[i].split())
    return " ".join(sents[i] for i in sorted(chosen))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N papers (a quick look)")
    ap.add_argument("--docs", help="write the table into this Markdown file, between markers")
    ap.add_argument(
        "--variants",
        default="hearth",
        help="comma-separated Hearth variants: hearth (mode auto), hearth_grounded, hearth_abstractive, "
        "hearth_all (abstractive, no sentence selection), hearth_notopup (abstractive, no filling to length "
        "with section points), hearth_paragraph (abstractive), hearth_nooverview (grounded points only)",
    )
    args = ap.parse_args(argv)
    privacy.install()
    from rouge_score import rouge_scorer

    from desktop.services.llm import LlamaRuntime
    from desktop.services.models import read_model_info
    from desktop.services.paths import default_model_path
    from desktop.services.pdf import extract_pages
    from desktop.services.sentences import EmbeddingRanker, split_sentences

    items = [json.loads(line) for line in (EVAL / "summaries.jsonl").read_text().splitlines() if line.strip()]
    items = [it for it in items if it["text_quality"] == "ok"]
    if args.limit:
        items = items[: args.limit]
    # The default plan on this machine: one thread, 8192 context (what `hearth summarize` gets here).
    plan = RuntimePlan("cpu", 0, 1, 1, 8192, 512, "fits", "bench: default plan")
    ranker = EmbeddingRanker()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    systems = [*variants, "lead", "centrality"]
    scores: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
    per_paper: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    with LlamaRuntime(default_model_path(), plan) as rt:
        rt.start()
        n_params = read_model_info(rt.model_path).n_params
        for k, it in enumerate(items, 1):
            pages = strip_abstract(extract_pages(EVAL.parent / it["pdf"]), it["abstract"])
            outputs: dict[str, str] = {"lead": lead(pages), "centrality": centrality(pages, ranker)}
            row: dict[str, Any] = {"paper": it["paper_id"]}
            for v in variants:
                mode = {"hearth": "auto", "hearth_grounded": "grounded", "hearth_nooverview": "grounded"}
                req = SummaryRequest(
                    tuple(pages),
                    title=it["title"],
                    style="paragraph" if v == "hearth_paragraph" else "key_points",
                    length=WORDS,
                    select_ratio=1.0 if v == "hearth_all" else 0.5,
                    top_up=v != "hearth_notopup",
                    mode=mode.get(v, "abstractive"),
                    model_params=n_params,
                    overview=v != "hearth_nooverview",
                )
                t0 = time.perf_counter()
                summary = run_job(summarize_job(rt, req, ranker, split_sentences))
                outputs[v] = " ".join(p.text for p in summary.points)
                row[v] = {
                    "mode": summary.stats["mode"],
                    "s": round(time.perf_counter() - t0, 1),
                    "levels": summary.levels,
                    "points": len(summary.points),
                    "fed": summary.stats["tokens_fed"],
                }
            for s in systems:
                sc = scorer.score(it["human_summary"], outputs[s])
                scores[s].append({m: sc[m].fmeasure for m in ("rouge1", "rouge2", "rougeL")})
                row[f"{s}_r1"] = round(sc["rouge1"].fmeasure, 3)
            per_paper.append(row)
            print(f"[{k}/{len(items)}] {json.dumps(row)}", file=sys.stderr, flush=True)
    table = [
        {
            "system": s,
            **{m: round(statistics.mean(x[m] for x in scores[s]), 4) for m in ("rouge1", "rouge2", "rougeL")},
        }
        for s in systems
    ]
    md = [
        f"| system ({len(items)} papers, ~{WORDS} words) | ROUGE-1 F | ROUGE-2 F | ROUGE-L F |",
        "|---|---:|---:|---:|",
        *(f"| {r['system']} | {r['rouge1']:.3f} | {r['rouge2']:.3f} | {r['rougeL']:.3f} |" for r in table),
    ]
    table_md = "\n".join(md)
    print(table_md)
    result = {"papers": len(items), "wall_s": round(time.perf_counter() - t_start, 1), "table": table}
    print(json.dumps({**result, "per_paper": per_paper}, indent=1))
    if args.docs:
        path = Path(args.docs)
        text = path.read_text() if path.exists() else ""
        block = f"{BEGIN}\n{table_md}\n\n(wall {result['wall_s']} s)\n{END}"
        if BEGIN in text and END in text:
            text = text.split(BEGIN)[0] + block + text.split(END, 1)[1]
        else:
            text += ("\n" if text else "") + block + "\n"
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

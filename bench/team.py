"""A model team against the large model alone: wall time and ROUGE of long abstractive summaries.

    .venv/bin/python -m bench.team [--pages 190] [--papers 3] [--large GGUF] [--small GGUF] [--out FILE]

The team (core/team.py): the small model (default: the bundled SmolLM2-135M) writes the map and
intermediate reduce steps, the large one (default: the optional Qwen2.5-Coder-0.5B test model,
`make models-extra`) writes the final summary. "Alone": the large model does every step. Both run
the abstractive mode (the map-reduce path; grounded summaries have no map step), key points,
150 words, one thread each, 8192-token context, each model in its own child process, one call at a
time.

- the long document: the docugami 10-Q pages concatenated in a fixed order until `--pages` pages
  (bench/summarize.py's document); no reference summary, so wall time only, and ROUGE of the team's
  summary against the large model's own (how much of it the team keeps);
- CL-SciSumm: the first `--papers` papers with `text_quality` ok (abstract stripped from the input,
  as bench/rouge_scisumm.py), ROUGE-1/2/L F1 against the human summary, and wall time.
Prints one JSON line per run as it goes (to --out as well), then the ratios team ÷ alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.rouge_scisumm import EVAL as SCISUMM
from bench.rouge_scisumm import strip_abstract
from bench.summarize import _pages
from desktop.core.jobs import run_job
from desktop.core.summarize import SummaryRequest, summarize_job
from desktop.core.types import RuntimePlan
from desktop.services import privacy

WORDS = 150
METRICS = ("rouge1", "rouge2", "rougeL")


def _default_large() -> Path:
    return Path(sys.prefix) / "share" / "hearth" / "extra-models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=190, help="pages of the long document (0: skip it)")
    ap.add_argument("--papers", type=int, default=3, help="CL-SciSumm papers for ROUGE (0: skip)")
    ap.add_argument("--large", type=Path, default=_default_large())
    ap.add_argument("--small", type=Path, help="default: the bundled model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, help="append each run's JSON line here")
    args = ap.parse_args(argv)
    privacy.install()
    from rouge_score import rouge_scorer

    from desktop.services.llm import LlamaRuntime
    from desktop.services.paths import default_model_path
    from desktop.services.pdf import extract_pages
    from desktop.services.sentences import EmbeddingRanker, split_sentences

    if not args.large.is_file():
        print(f"no large model at {args.large}: run `make models-extra`", file=sys.stderr)
        return 2
    small_path = args.small or default_model_path()
    plan = RuntimePlan("cpu", 0, args.threads, args.threads, 8192, 512, "fits", "bench: team")
    ranker = EmbeddingRanker()
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        line = json.dumps(row)
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(line + "\n")

    def rouge(reference: str, text: str) -> dict[str, float]:
        sc = scorer.score(reference, text)
        return {m: round(sc[m].fmeasure, 4) for m in METRICS}

    docs: list[tuple[str, str, list[Any], str | None]] = []  # name, title, pages, reference
    if args.papers:
        items = [json.loads(x) for x in (SCISUMM / "summaries.jsonl").read_text().splitlines() if x.strip()]
        for it in [it for it in items if it["text_quality"] == "ok"][: args.papers]:
            pages = strip_abstract(extract_pages(SCISUMM.parent / it["pdf"]), it["abstract"])
            docs.append((it["paper_id"], it["title"], pages, it["human_summary"]))
    if args.pages:
        pages, _, _ = _pages(args.pages)
        docs.append((f"docugami {len(pages)} pages", "Quarterly reports", pages, None))

    with LlamaRuntime(args.large, plan) as large, LlamaRuntime(small_path, plan) as small:
        large.start()
        small.start()
        for name, title, pages, reference in docs:
            request = SummaryRequest(
                tuple(pages), title=title, style="key_points", length=WORDS, mode="abstractive"
            )
            texts: dict[str, str] = {}
            for setup in ("alone", "team"):
                job = summarize_job(
                    large, request, ranker, split_sentences, map_engine=small if setup == "team" else None
                )
                t0 = time.perf_counter()
                summary = run_job(job)
                wall = time.perf_counter() - t0
                texts[setup] = " ".join(p.text for p in summary.points)
                st = summary.stats
                row: dict[str, Any] = {
                    "doc": name,
                    "pages": len(pages),
                    "setup": setup,
                    "wall_s": round(wall, 1),
                    "levels": summary.levels,
                    "sections": st["sections"],
                    "calls": st["model_calls"],
                    "small_calls": st["map_calls_other_model"],
                    "fed": st["tokens_fed"],
                    "generated": st["tokens_generated"],
                    "dropped_unsupported": st["dropped_unsupported"],
                }
                if reference is not None:
                    row["rouge"] = rouge(reference, texts[setup])
                elif setup == "team":
                    row["rouge_vs_alone"] = rouge(texts["alone"], texts["team"])
                row["summary"] = texts[setup]
                emit(row)

    by = {(r["doc"], r["setup"]): r for r in rows}
    report: dict[str, Any] = {}
    for name, _, _, reference in docs:
        a, t = by[(name, "alone")], by[(name, "team")]
        entry: dict[str, Any] = {"wall_team_over_alone": round(t["wall_s"] / a["wall_s"], 3)}
        if reference is not None:
            entry["rouge_team_over_alone"] = {
                m: round(t["rouge"][m] / max(1e-9, a["rouge"][m]), 3) for m in METRICS
            }
        report[name] = entry
    papers = [n for n, _, _, ref in docs if ref is not None]
    if papers:
        report["scisumm_mean"] = {
            "wall_team_over_alone": round(
                sum(by[(n, "team")]["wall_s"] for n in papers)
                / sum(by[(n, "alone")]["wall_s"] for n in papers),
                3,
            ),
            **{
                f"{setup}_{m}": round(statistics.mean(by[(n, setup)]["rouge"][m] for n in papers), 4)
                for setup in ("alone", "team")
                for m in METRICS
            },
        }
    print(json.dumps({"ratios": report}, indent=1), flush=True)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps({"ratios": report}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

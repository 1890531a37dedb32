"""Fit the answerability gate (desktop/core/answerability.py) on a calibration set, and print its constants.

    .venv/bin/python -m bench.calibrate_gate [--data-dir DIR] [--details]

Calibration set:
- answerable: the even-indexed questions of ../shared/eval/docugami_sec10q/qa.jsonl (the odd ones
  are left for evaluation);
- unanswerable: tests/data/unanswerable_calibration.jsonl (questions about things the 12 filings
  do not hold: personal papers, other companies, later periods, other topics; written for this,
  kept apart from the unanswerable eval set).
Every question goes through the real path up to the gate (`rag.gather_evidence`: the library's
hybrid retrieval, the names and years rules, evidence cut from the stored pages, scored with the bundled
embedder) over a library of the 12 filings (indexed into --data-dir, or a temporary folder, when
not there yet). Questions that the rules already refuse (a name in no document, a year none of the best
evidence is about) are counted as abstentions and left out of the fit.

The model: logistic regression over the standardized features (plain gradient descent with a
little L2), then the threshold that refuses the most unanswerable questions while refusing at
most 10% of the answerable ones, moved halfway to the next probability below for a margin.
5-fold cross-validation figures are printed too (fit on 4/5, judged on the rest), as the honest
estimate. Paste the printed constants into answerability.py.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop.services import privacy

REPO = Path(__file__).resolve().parents[1]
SET = REPO.parent / "shared" / "eval" / "docugami_sec10q"
UNANSWERABLE = REPO / "tests" / "data" / "unanswerable_calibration.jsonl"
MAX_FALSE_ABSTENTION = 0.10
L2 = 0.01
STEPS = 4000
RATE = 0.1


def load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def collect(data_dir: Path, questions: Sequence[tuple[str, bool]], pdfs: Path) -> list[dict[str, object]]:
    """Per question: whether it is answerable, what the rules said, the gate's features."""
    import os

    os.environ["HEARTH_DATA_DIR"] = str(data_dir)
    from desktop.core.jobs import run_job
    from desktop.core.rag import AskRequest, gather_evidence
    from desktop.services.library import Library

    with Library() as lib:
        if not lib.collections():
            print(f"indexing the 12 filings into {data_dir} (a few minutes) …", file=sys.stderr)
            run_job(lib.add_job([pdfs]))
        collections = tuple(lib.collections())
        rows = []
        for question, answerable in questions:
            found = gather_evidence(lib, question, AskRequest(question, collections), embed=lib.embed_texts)
            rows.append({"question": question, "answerable": answerable, **judged(found)})
    return rows


def judged(found: Any) -> dict[str, object]:
    """What the gate is given for a gathered question (rag.Gathered): the rule that refused it,
    or the features it is fitted on."""
    from desktop.core import answerability

    if found.unsaid:
        return {"refused": f"name not in the evidence: {found.missing}"}
    if found.missing_year:
        return {"refused": f"year not in the evidence: {found.missing}"}
    if found.missing:
        return {"refused": f"name not found: {found.missing}"}
    if found.evidence is None:
        return {"refused": "nothing found"}
    return {"features": answerability.features(found.evidence)}


SINGLE = REPO / "tests" / "data" / "single_document.json"


def _write_pdf(path: Path, pages: Sequence[str]) -> Path:
    """A real PDF (reportlab): one page per text, wrapped to the page width."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for paragraph in text.split("\n"):
            for line in textwrap.wrap(paragraph, 90) or [""]:
                c.drawString(50, y, line)
                y -= 14
        c.showPage()
    c.save()
    return path


def collect_documents(data_dir: Path, split: str) -> list[dict[str, object]]:
    """The "document" regime: per question of tests/data/single_document.json's documents of
    `split`, asked of that one short document (its own collection, AskRequest.document), the
    gate's features as the app computes them (n_ctx 8192, the bundled model's plan)."""
    import os

    os.environ["HEARTH_DATA_DIR"] = str(data_dir)
    from desktop.core.jobs import run_job
    from desktop.core.rag import AskRequest, gather_evidence
    from desktop.services.library import Library

    docs = [d for d in json.loads(SINGLE.read_text(encoding="utf-8"))["documents"] if d["split"] == split]
    folder = data_dir.parent / f"{data_dir.name}-docs"
    folder.mkdir(exist_ok=True)
    rows: list[dict[str, object]] = []
    with Library() as lib:
        for d in docs:
            path = _write_pdf(folder / f"{d['id']}.pdf", d["pages"])
            run_job(lib.add_job([path], d["id"]))
            sha = lib.files(d["id"])[0].sha256
            for q in d["questions"]:
                question = str(q["question"])
                request = AskRequest(question, (d["id"],), n_ctx=8192, document=sha)
                found = gather_evidence(lib, question, request, embed=lib.embed_texts)
                rows.append(
                    {
                        "question": question,
                        "answerable": bool(q["answerable"]),
                        "doc": d["id"],
                        "regime": found.regime,
                        **judged(found),
                    }
                )
    return rows


def standardize(xs: list[list[float]]) -> tuple[list[float], list[float]]:
    n = len(xs)
    means = [sum(x[j] for x in xs) / n for j in range(len(xs[0]))]
    scales = [math.sqrt(sum((x[j] - means[j]) ** 2 for x in xs) / n) or 1.0 for j in range(len(xs[0]))]
    return means, scales


def fit(xs: list[list[float]], ys: list[int]) -> tuple[list[float], list[float], list[float], float]:
    """Logistic regression by gradient descent on standardized features (classes weighted equally)."""
    means, scales = standardize(xs)
    zs = [[(v - m) / s for v, m, s in zip(x, means, scales, strict=True)] for x in xs]
    pos = sum(ys)
    neg = len(ys) - pos
    weight = [0.5 / pos if y else 0.5 / neg for y in ys]
    w = [0.0] * len(zs[0])
    b = 0.0
    for _ in range(STEPS):
        gw = [L2 * wj for wj in w]
        gb = 0.0
        for z, y, c in zip(zs, ys, weight, strict=True):
            p = 1 / (1 + math.exp(-(b + sum(wj * zj for wj, zj in zip(w, z, strict=True)))))
            for j, zj in enumerate(z):
                gw[j] += c * (p - y) * zj
            gb += c * (p - y)
        w = [wj - RATE * g for wj, g in zip(w, gw, strict=True)]
        b -= RATE * gb
    return means, scales, w, b


def prob(
    x: Sequence[float], means: Sequence[float], scales: Sequence[float], w: Sequence[float], b: float
) -> float:
    z = b + sum(wj * (v - m) / s for wj, v, m, s in zip(w, x, means, scales, strict=True))
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def rates(
    probs: Sequence[float], ys: Sequence[int], threshold: float, refused: tuple[int, int], n: tuple[int, int]
) -> tuple[float, float]:
    """(abstention on unanswerable, false abstention on answerable), refusals by name included."""
    abstain_unans = sum(1 for p, y in zip(probs, ys, strict=True) if not y and p < threshold) + refused[0]
    abstain_ans = sum(1 for p, y in zip(probs, ys, strict=True) if y and p < threshold) + refused[1]
    return abstain_unans / n[0], abstain_ans / n[1]


def choose_threshold(
    probs: Sequence[float], ys: Sequence[int], refused: tuple[int, int], n: tuple[int, int]
) -> float:
    cands = [*sorted(set(probs)), 1.0]
    best, best_score = 0.5, -1.0
    for t in cands:
        unans, ans = rates(probs, ys, t, refused, n)
        if ans <= MAX_FALSE_ABSTENTION and unans - ans > best_score:
            best, best_score = t, unans - ans
    below = [p for p in probs if p < best]
    return (best + max(below)) / 2 if below else best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calibrate_gate", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="a Hearth data dir with (or for) the 12 filings")
    parser.add_argument("--set", type=Path, default=SET, help="the docugami_sec10q folder (qa.jsonl, pdfs/)")
    parser.add_argument("--details", action="store_true", help="print every question's features")
    parser.add_argument(
        "--cache", type=Path, help="keep the collected features in this JSON file and reuse them"
    )
    parser.add_argument(
        "--features", help="comma-separated features to fit (default: answerability.FEATURES)"
    )
    parser.add_argument(
        "--regime",
        choices=("library", "document"),
        default="library",
        help="library: the 10-Q calibration set (above); document: tests/data/single_document.json "
        "(short documents asked one at a time; fitted on its calibration documents, judged on the "
        "held-out ones)",
    )
    args = parser.parse_args(argv)
    privacy.install()
    from desktop.core import answerability

    features = tuple(args.features.split(",")) if args.features else answerability.FEATURES
    if args.regime == "document":
        return fit_documents(args, features)

    qa = load(args.set / "qa.jsonl")
    answerable = [(str(r["question"]), True) for i, r in enumerate(qa) if i % 2 == 0]
    unanswerable = [(str(r["question"]), False) for r in load(UNANSWERABLE)]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hearth-calibrate-"))
    if args.cache and args.cache.is_file():
        rows = json.loads(args.cache.read_text(encoding="utf-8"))
    else:
        rows = collect(data_dir, answerable + unanswerable, args.set / "pdfs")
        if args.cache:
            args.cache.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    fitted, n, refused = _split_rows(rows)
    xs = [[float(r["features"][k]) for k in features] for r in fitted]  # type: ignore[index]
    ys = [1 if r["answerable"] else 0 for r in fitted]
    means, scales, w, b = fit(xs, ys)
    probs = [prob(x, means, scales, w, b) for x in xs]
    threshold = choose_threshold(probs, ys, refused, n)
    unans, ans = rates(probs, ys, threshold, refused, n)

    # 5-fold cross-validation: every question judged by a gate fitted without it.
    order = list(range(len(xs)))
    random.Random(7).shuffle(order)
    cv_probs = [0.0] * len(xs)
    cv_thresholds = []
    for k in range(5):
        test = set(order[k::5])
        train = [i for i in order if i not in test]
        m, s, wk, bk = fit([xs[i] for i in train], [ys[i] for i in train])
        tr_probs = [prob(xs[i], m, s, wk, bk) for i in train]
        tk = choose_threshold(tr_probs, [ys[i] for i in train], refused, n)
        cv_thresholds.append(tk)
        for i in test:
            cv_probs[i] = prob(xs[i], m, s, wk, bk) - tk + 0.5  # judged against its own fold's threshold
    cv_unans, cv_ans = rates(cv_probs, ys, 0.5, refused, n)

    if args.details:
        for r, p in zip(fitted, probs, strict=True):
            mark = "ANS " if r["answerable"] else "UNANS"
            verdict = "answer " if p >= threshold else "abstain"
            feats = " ".join(f"{k}={float(r['features'][k]):.3f}" for k in features)  # type: ignore[index]
            print(f"{mark} {verdict} p={p:.3f} {feats} | {str(r['question'])[:90]}")
        for r in rows:
            if "refused" in r:
                mark = "ANS " if r["answerable"] else "UNANS"
                print(f"{mark} refused ({r['refused']}) | {str(r['question'])[:90]}")

    def fmt(values: Sequence[float]) -> str:
        return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"

    print(
        f"# {n[1]} answerable, {n[0]} unanswerable; refused by the rules: "
        f"{refused[0]} unanswerable, {refused[1]} answerable"
    )
    print(
        f"# fitted on all: abstention on unanswerable {unans:.3f}, false abstention on answerable {ans:.3f}"
    )
    print(
        f"# 5-fold cross-validated: abstention on unanswerable {cv_unans:.3f}, false abstention {cv_ans:.3f}"
    )
    print(f"FEATURES = {features!r}")
    print(f"MEANS = {fmt(means)}")
    print(f"SCALES = {fmt(scales)}")
    print(f"WEIGHTS = {fmt(w)}")
    print(f"BIAS = {b:.4f}")
    print(f"THRESHOLD = {threshold:.4f}")
    return 0


def _split_rows(
    rows: list[dict[str, object]],
) -> tuple[list[dict[str, object]], tuple[int, int], tuple[int, int]]:
    n = (sum(1 for r in rows if not r["answerable"]), sum(1 for r in rows if r["answerable"]))
    refused = (
        sum(1 for r in rows if "refused" in r and not r["answerable"]),
        sum(1 for r in rows if "refused" in r and r["answerable"]),
    )
    return [r for r in rows if "features" in r], n, refused


def fit_documents(args: argparse.Namespace, features: tuple[str, ...]) -> int:
    from desktop.core import answerability

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="hearth-calibrate-docs-"))
    if args.cache and args.cache.is_file():
        cached = json.loads(args.cache.read_text(encoding="utf-8"))
        cal, held = cached["calibration"], cached["heldout"]
    else:
        cal = collect_documents(data_dir, "calibration")
        held = collect_documents(data_dir, "heldout")
        if args.cache:
            args.cache.write_text(
                json.dumps({"calibration": cal, "heldout": held}, indent=1), encoding="utf-8"
            )
    fitted, n, refused = _split_rows(cal)
    xs = [[float(r["features"][k]) for k in features] for r in fitted]  # type: ignore[index]
    ys = [1 if r["answerable"] else 0 for r in fitted]
    means, scales, w, b = fit(xs, ys)
    probs = [prob(x, means, scales, w, b) for x in xs]
    threshold = choose_threshold(probs, ys, refused, n)
    unans, ans = rates(probs, ys, threshold, refused, n)
    h_fitted, h_n, h_refused = _split_rows(held)
    h_probs = [prob([float(r["features"][k]) for k in features], means, scales, w, b) for r in h_fitted]  # type: ignore[index]
    h_ys = [1 if r["answerable"] else 0 for r in h_fitted]
    h_unans, h_ans = rates(h_probs, h_ys, threshold, h_refused, h_n)
    # What the library regime's constants would do on the same held-out documents.
    lib_probs = [
        answerability.probability([float(r["features"][k]) for k in answerability.FEATURES]) for r in h_fitted
    ]  # type: ignore[index]
    l_unans, l_ans = rates(lib_probs, h_ys, answerability.THRESHOLD, h_refused, h_n)
    if args.details:
        for r, p in zip(h_fitted, h_probs, strict=True):
            verdict = "answer " if p >= threshold else "abstain"
            print(
                f"{'ANS ' if r['answerable'] else 'UNANS'} {verdict} p={p:.3f} | {r['doc']}: {r['question']}"
            )
        for r in held:
            if "refused" in r:
                print(
                    f"{'ANS ' if r['answerable'] else 'UNANS'} refused ({r['refused']}) | "
                    f"{r['doc']}: {r['question']}"
                )
    regimes = {str(r.get("regime")) for r in cal + held}
    print(f"# regimes seen: {sorted(regimes)}")
    print(f"# calibration: {n[1]} answerable, {n[0]} unanswerable; refused by the rules: {refused}")
    print(f"# fitted: abstention on unanswerable {unans:.3f}, false abstention on answerable {ans:.3f}")
    print(
        f"# held-out: {h_n[1]} answerable, {h_n[0]} unanswerable: "
        f"abstention {h_unans:.3f}, false abstention {h_ans:.3f}"
    )
    print(
        f"# held-out with the library regime's constants: "
        f"abstention {l_unans:.3f}, false abstention {l_ans:.3f}"
    )

    def fmt(values: Sequence[float]) -> str:
        return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"

    print(f"DOCUMENT_FEATURES = {features!r}")
    print(f"DOCUMENT_MEANS = {fmt(means)}")
    print(f"DOCUMENT_SCALES = {fmt(scales)}")
    print(f"DOCUMENT_WEIGHTS = {fmt(w)}")
    print(f"DOCUMENT_BIAS = {b:.4f}")
    print(f"DOCUMENT_THRESHOLD = {threshold:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

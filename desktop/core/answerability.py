"""Does the evidence answer the question? A small logistic model over a few evidence features.

Not hand-tuned: the weights below were fitted by `bench/calibrate_gate.py` on a calibration set
(answerable: the even-indexed docugami 10-Q questions; unanswerable: tests/data/
unanswerable_calibration.jsonl, questions about things the 12 filings do not hold), over the real
library, retrieval, embedder and evidence code. Refit them whenever evidence scoring changes:

    .venv/bin/python -m bench.calibrate_gate          # prints the constants to paste here

Features (from `evidence.Evidence`, after documents of other names were dropped; all are
computed and reported in Answer.gate, the fit uses FEATURES):
- `cosine`: the best unit's cosine to the question (meaning);
- `matched`: the share of the question's terms (up to 4 of them) that the three best units hold:
  1.0 when all of a short question's terms, or 4 of a long one's, are there; 0.5 for "period" and
  "lease" of "the notice period in my apartment lease" (one shared word is not evidence);
- `absent`: the share of the question's words that no passage of the collections holds at all
  ("apartment", "dentist" in a library of 10-Q filings; the keyword index says);
- `anywhere`: idf-weighted share of the question's terms held by any scored unit;
- `coverage`, `union`: that share in the best unit, and in the three best together.
`coverage` and `union` took negative weights when fitted with the others (long, vague answerable
questions cover little; a personal question shares a few words) and `anywhere` one near zero,
with no better cross-validated figures, so the gate uses the three that carry the signal.

Four rules come before the gate (rag.gather_evidence): a name the question gives must be in a
document; a year it asks about must be named by the best evidence; each name must be said by
the best evidence or the passages retrieved, or be what the evidence's document is about (named
on its opening page), so "Oracle's cloud revenue" is not answered from NVIDIA's filing, which
names Oracle once, as a partner; and a name asked about as an owner ("Anthropic's revenue") must
be what one of the evidence's documents is about. A document's subject names count for all of
its units ("the Company" is Apple in Apple's filing); a name it holds only inside does not, which
also keeps `matched` from counting "Oracle" for every unit of that filing.

Fit of the constants below (bench/calibrate_gate.py; 58 answerable, 40 unanswerable): the rules
refused 24 unanswerable and 0 answerable questions; with the gate, abstention on unanswerable
0.975 and false abstention on answerable 0.052 (5-fold cross-validated: 0.925 and 0.086).
docs/answers.md has the figures on the eval and held-out sets. Still answered: a personal
question whose words the filings share ("my 2022 personal income tax return").

The "document" regime: a question asked of one short document read whole (a lease dropped on the
window, a one-document collection). Its vocabulary is small, so most everyday questions use words
it lacks ("the notice period" of a lease that says "two months' notice"): the library's constants
abstained on 0.60 of the answerable held-out questions there. Its constants are fitted by
`bench/calibrate_gate.py --regime document` on tests/data/single_document.json (6 calibration
documents, 60 answerable and 42 unanswerable questions; 2 held-out documents, 20 and 14): held-out
abstention on unanswerable 0.286, false abstention 0.050 (library constants: 0.857 and 0.600). On
short documents these three features barely tell an on-topic unanswerable question ("Does the car
have sat nav?" of a car hire agreement) from an answerable one; what is answered there is quotes
from the document, never an invented figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.evidence import Evidence

ALL_FEATURES = ("cosine", "matched", "absent", "anywhere", "coverage", "union")
MATCH_CAP = 4

# --- fitted by bench/calibrate_gate.py (see the module docstring); do not edit by hand ---
FEATURES = ("cosine", "matched", "absent")
MEANS = (0.5073, 0.8108, 0.0870)
SCALES = (0.1608, 0.2490, 0.1868)
WEIGHTS = (0.7496, 1.1928, -1.0601)
BIAS = 0.7889
THRESHOLD = 0.4723
# --- end of fitted constants ---

# --- the "document" regime, fitted by bench/calibrate_gate.py --regime document; do not edit by hand ---
DOCUMENT_FEATURES = ("cosine", "matched", "absent")
DOCUMENT_MEANS = (0.4617, 0.5142, 0.4458)
DOCUMENT_SCALES = (0.1534, 0.3079, 0.3116)
DOCUMENT_WEIGHTS = (0.0016, 0.7059, 0.4498)
DOCUMENT_BIAS = 0.0236
DOCUMENT_THRESHOLD = 0.3279
# --- end of the document regime's constants ---


@dataclass(frozen=True, slots=True)
class Verdict:
    answerable: bool
    probability: float
    features: dict[str, float]
    regime: str = "library"

    def to_dict(self) -> dict[str, object]:
        return {
            "answerable": self.answerable,
            "probability": round(self.probability, 4),
            "features": {k: round(v, 4) for k, v in self.features.items()},
            "regime": self.regime,
        }


def features(evidence: Evidence) -> dict[str, float]:
    ranked = evidence.ranked
    if not ranked:
        return dict.fromkeys(ALL_FEATURES, 0.0)
    top = ranked[:3]
    have: set[str] = set()
    for s in top:
        have |= evidence.terms_by_unit.get(id(s.unit), set())
    matched = len(have & set(evidence.weights))
    asked = max(1, min(MATCH_CAP, len(evidence.weights)))
    return {
        "cosine": max(s.cosine for s in ranked),
        "coverage": ranked[0].coverage,
        "union": evidence.union_coverage(3),
        "matched": min(MATCH_CAP, matched) / asked,
        "anywhere": evidence.union_coverage(len(ranked)),
        "absent": evidence.absent,
    }


@dataclass(frozen=True, slots=True)
class Constants:
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float


# "library": a library's passages (fitted above); "document": one short document read whole.
REGIMES = {
    "library": Constants(FEATURES, MEANS, SCALES, WEIGHTS, BIAS, THRESHOLD),
    "document": Constants(
        DOCUMENT_FEATURES,
        DOCUMENT_MEANS,
        DOCUMENT_SCALES,
        DOCUMENT_WEIGHTS,
        DOCUMENT_BIAS,
        DOCUMENT_THRESHOLD,
    ),
}


def probability(values: Sequence[float], regime: str = "library") -> float:
    """P(the evidence answers the question), from the regime's features' values in order."""
    c = REGIMES[regime]
    z = c.bias + sum(w * (v - m) / s for w, v, m, s in zip(c.weights, values, c.means, c.scales, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def judge(evidence: Evidence, threshold: float | None = None, regime: str = "library") -> Verdict:
    f = features(evidence)
    if not evidence.ranked:
        return Verdict(False, 0.0, f, regime)
    c = REGIMES[regime]
    p = probability([f[k] for k in c.features], regime)
    return Verdict(p >= (c.threshold if threshold is None else threshold), p, f, regime)

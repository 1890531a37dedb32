"""The answerability gate: its features, and what its fitted constants decide."""

from __future__ import annotations

from desktop.core import answerability
from desktop.core.answerability import ALL_FEATURES, FEATURES, judge
from desktop.core.evidence import Evidence, Scored, Unit, score_units


def _evidence(question: str, texts: list[str], cosines: list[float]) -> Evidence:
    ev = score_units(question, [Unit("d", "Doc", "", 1, t) for t in texts], None)
    by_text = dict(zip(texts, cosines, strict=True))
    ev.ranked = sorted(
        (
            Scored(s.unit, by_text[s.unit.text] + 0.5 * s.coverage, by_text[s.unit.text], s.coverage)
            for s in ev.ranked
        ),
        key=lambda s: -s.score,
    )
    return ev


def test_the_fitted_constants_fit_together() -> None:
    n = len(FEATURES)
    assert len(answerability.MEANS) == len(answerability.SCALES) == len(answerability.WEIGHTS) == n
    assert set(FEATURES) <= set(ALL_FEATURES) and 0 < answerability.THRESHOLD < 1
    assert all(s > 0 for s in answerability.SCALES)
    for name, c in answerability.REGIMES.items():
        assert len(c.means) == len(c.scales) == len(c.weights) == len(c.features), name
        assert set(c.features) <= set(ALL_FEATURES) and 0 < c.threshold < 1 and all(x > 0 for x in c.scales)


def test_each_regime_judges_with_its_own_constants() -> None:
    """One short document read whole is judged with the constants fitted on short documents."""
    ev = _evidence(
        "What is the notice period?",
        ["Either party may end the tenancy by giving two months' notice."],
        [0.5],
    )
    lib, doc = answerability.judge(ev), answerability.judge(ev, regime="document")
    assert lib.regime == "library" and doc.regime == "document"
    assert lib.probability != doc.probability and lib.features == doc.features


def test_evidence_that_holds_the_question_answers_it() -> None:
    ev = _evidence(
        "Who built the Zanthor lighthouse?",
        ["The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."],
        [0.72],
    )
    verdict = judge(ev)
    assert verdict.answerable and verdict.features["matched"] == 1.0
    assert set(verdict.features) == set(ALL_FEATURES)
    assert verdict.to_dict()["answerable"] is True


def test_one_shared_common_word_is_not_evidence() -> None:
    ev = _evidence(
        "What is the notice period in my apartment lease?",
        ["The reporting period ended on March 31, 2023.", "Results of the period are unaudited."],
        [0.45, 0.40],
    )
    verdict = judge(ev)
    assert verdict.features["matched"] == 0.25 and not verdict.answerable


def test_no_evidence_is_no_answer() -> None:
    ev = score_units("What is the notice period?", [], None)
    verdict = judge(ev)
    assert not verdict.answerable and verdict.probability == 0.0


def test_words_no_document_holds_count_against_answering() -> None:
    ev = _evidence(
        "What is the notice period in my apartment lease?",
        ["Our lease obligations consist of operating leases, with lease periods expiring in 2035."],
        [0.53],
    )
    known = judge(ev).probability
    ev.absent = 0.25  # "apartment": in no document of the library
    verdict = judge(ev)
    assert verdict.probability < known and not verdict.answerable
    assert verdict.features["absent"] == 0.25

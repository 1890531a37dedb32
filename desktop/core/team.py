"""The model team's routing policy: which job goes to the small model, which to the large one, and why.

With the `model_team` setting on and two models at hand (the chat model, "large", and the setting
`team_small_model`, "small", by default the bundled SmolLM2-135M), each job below runs on the role
this table gives it; with it off, every model job runs on the chat model. The table is the one
place this is decided: services/tasks.py asks `role_for`, `hearth settings` and the settings dialog
show `describe()`.

Keep the team only where it wins (docs/models.md has the figures). Measured in one run of
bench/team.py (Qwen2.5-Coder-0.5B-Instruct Q4_K_M as the large model, the bundled SmolLM2-135M as
the small one; abstractive key points, 150 words; one thread each; the 2-core build machine):
- summary_map: NOT given to the small model. It is faster on long documents (30 pages of 10-Q
  filings: team 338 s / alone 774 s = 0.44; two 7-page CL-SciSumm papers: 0.95), but it loses on
  quality: ROUGE against the human summaries, team / alone = 0.91 (ROUGE-1), 0.57 (ROUGE-2), 0.78
  (ROUGE-L), and on the filings the team's summary states things the filings do not say (the
  small model's notes: "net income of $20 billion ... included in deferred revenue"). Faster but
  worse is not a win; a pair with a smaller quality gap can flip this one line, after measuring.
- chat titles and follow-up questions are rules today (the first 48 characters of the first
  question; rag.contextual_question joins a short follow-up to the previous question): no model
  call, so nothing for either model to do, and cheaper than the small model.
- answers, chat turns and final summaries: the large model (what the user reads).
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL, LARGE, RULE = "small", "large", "rule"


@dataclass(frozen=True, slots=True)
class Route:
    job: str
    role: str  # SMALL, LARGE, or RULE (no model call at all)
    reason: str


POLICY: tuple[Route, ...] = (
    Route(
        "chat_title",
        RULE,
        "the first question's opening words: no model call, cheaper than the small model",
    ),
    Route(
        "follow_up_question",
        RULE,
        "rag.contextual_question joins a short follow-up to the previous question by rule: no model call",
    ),
    Route(
        "summary_map",
        LARGE,
        "measured: 0.44x the time on 30 pages, but 0.57x the ROUGE-2 and invented claims (docs/models.md)",
    ),
    Route("summary_final", LARGE, "the final summary is what the user reads"),
    Route("answer", LARGE, "the answer is what the user reads"),
    Route("chat", LARGE, "the reply is what the user reads"),
)

_BY_JOB = {r.job: r for r in POLICY}


def route(job: str) -> Route:
    """The declared route of `job` (KeyError for a job the policy does not know)."""
    return _BY_JOB[job]


def role_for(job: str, team_on: bool) -> str:
    """Which model runs `job`: LARGE (the chat model) unless the team is on and routes it to SMALL.
    A RULE job makes no model call; asked anyway, it is LARGE's."""
    if not team_on:
        return LARGE
    role = route(job).role
    return SMALL if role == SMALL else LARGE


def describe(team_on: bool) -> list[str]:
    """One line per job: where it goes and why (for `hearth settings` and the settings dialog)."""
    if not team_on:
        return ["model team off: the chat model does every job"]
    return [
        f"{r.job}: {r.role} model ({r.reason})" if r.role != RULE else f"{r.job}: {r.reason}" for r in POLICY
    ]

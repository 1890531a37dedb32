"""The model team: one declared routing policy, and the summarizer's map steps on another model."""

from __future__ import annotations

from desktop.core import team
from desktop.core.jobs import run_job
from desktop.core.summarize import summarize_job
from tests.core.test_summarize import Abstractive, FakeEngine, topic_pages


def test_every_job_has_one_route_with_a_reason() -> None:
    jobs = [r.job for r in team.POLICY]
    assert len(jobs) == len(set(jobs))
    assert {"chat_title", "follow_up_question", "summary_map", "summary_final", "answer", "chat"} <= set(jobs)
    for r in team.POLICY:
        assert r.role in (team.SMALL, team.LARGE, team.RULE)
        assert r.reason and "pending" not in r.reason
    # what the user reads is always the large model's
    for job in ("summary_final", "answer", "chat"):
        assert team.role_for(job, True) == team.LARGE
    # measured: the small model's section notes made summaries worse (docs/models.md), so it keeps none
    assert team.role_for("summary_map", True) == team.LARGE


def test_team_off_sends_everything_to_the_chat_model() -> None:
    assert all(team.role_for(r.job, False) == team.LARGE for r in team.POLICY)
    assert team.describe(False) == ["model team off: the chat model does every job"]
    lines = team.describe(True)
    assert len(lines) == len(team.POLICY) and lines[0].startswith("chat_title")


def test_map_engine_reads_the_sections_and_the_engine_writes_the_summary() -> None:
    large, small = FakeEngine(n_ctx=2048), FakeEngine(n_ctx=1024)
    request = Abstractive(topic_pages(30), max_input_tokens=None)
    summary = run_job(summarize_job(large, request, map_engine=small))
    assert summary.levels >= 2
    assert len(small.calls) >= summary.stats["sections"] > 1
    assert len(large.calls) == 1  # only the final summary
    assert summary.stats["map_calls_other_model"] == len(small.calls)
    # every map prompt fitted the small model's own (smaller) context
    assert all(n_in + out <= small.n_ctx for n_in, out, _ in small.calls)

    alone = FakeEngine(n_ctx=2048)
    single = run_job(summarize_job(alone, request))
    assert len(alone.calls) > 1 and single.stats["map_calls_other_model"] == 0

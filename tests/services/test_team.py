"""The model team at run time: open_runtime builds it from settings, and the summary use case
routes the map steps to the small model and says which model wrote what."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.core import team
from desktop.core.jobs import run_job
from desktop.core.settings import SettingsStore
from desktop.core.types import Page
from desktop.services import tasks
from desktop.services.team import TeamRuntime, model_label, team_small
from tests.core.test_summarize import FakeEngine, topic_pages
from tests.ggufs import BY_NAME, write_family_gguf


class NamedEngine(FakeEngine):
    def __init__(self, path: str, n_ctx: int) -> None:
        super().__init__(n_ctx=n_ctx)
        self.model_path = path

    def close(self) -> None:
        self.closed = True


def _read(pages: tuple[Page, ...]) -> tasks.PagesJob:
    def job(cancel):  # type: ignore[no-untyped-def]
        return tasks.Pages(pages, "Reactors", "test")
        yield

    return job


def test_summary_map_steps_run_on_the_small_model_and_the_stats_name_both(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mechanism, with a policy that gives the map step to the small model (the measured policy
    # does not: see the next test).
    monkeypatch.setitem(team._BY_JOB, "summary_map", team.Route("summary_map", team.SMALL, "test"))
    settings = SettingsStore(data_dir / "settings.json")
    large = NamedEngine("/models/large-0.5b.gguf", 2048)
    small = NamedEngine("/models/small-135m.gguf", 2048)
    runtime = TeamRuntime(large, small)
    assert team_small(runtime) is small and runtime.n_ctx == 2048  # the rest is the chat model's
    job = tasks.summarize(runtime, _read(topic_pages(30)), settings, mode="abstractive")
    summary = run_job(job)
    assert summary.stats["model"] == "large-0.5b.gguf"
    assert summary.stats["map_model"] == "small-135m.gguf"
    assert len(small.calls) >= summary.stats["sections"] > 1 and len(large.calls) == 1
    runtime.close()
    assert small.closed and large.closed

    alone = NamedEngine("/models/large-0.5b.gguf", 2048)
    summary = run_job(tasks.summarize(alone, _read(topic_pages(30)), settings, mode="abstractive"))
    assert summary.stats["model"] == "large-0.5b.gguf" and "map_model" not in summary.stats


def test_the_measured_policy_keeps_the_map_steps_on_the_chat_model(data_dir: Path) -> None:
    settings = SettingsStore(data_dir / "settings.json")
    large = NamedEngine("/models/large-0.5b.gguf", 2048)
    small = NamedEngine("/models/small-135m.gguf", 2048)
    summary = run_job(
        tasks.summarize(TeamRuntime(large, small), _read(topic_pages(30)), settings, mode="abstractive")
    )
    assert small.calls == [] and len(large.calls) > summary.stats["sections"] > 1
    assert summary.stats["model"] == "large-0.5b.gguf" and "map_model" not in summary.stats


def test_a_chat_turn_says_which_model_wrote_it(data_dir: Path) -> None:
    settings = SettingsStore(data_dir / "settings.json")
    from desktop.core.types import ChatMessage

    engine = NamedEngine("/models/large-0.5b.gguf", 2048)
    engine.script = lambda prompt: "Hello."

    completion = run_job(tasks.chat(engine, [ChatMessage("user", "Say hello.")], settings))
    assert completion.stats.model == "large-0.5b.gguf"
    assert tasks.reply_of(completion).stats["model"] == "large-0.5b.gguf"


def test_open_runtime_builds_the_team_from_settings(data_dir: Path, tmp_path: Path, model_path: Path) -> None:
    from desktop.services.llm import LlamaRuntime
    from desktop.services.runtime import open_runtime

    large_path = write_family_gguf(BY_NAME["qwen2"], tmp_path / "qwen2-tiny.gguf")
    settings = SettingsStore(data_dir / "settings.json")
    runtime, _ = open_runtime(settings, str(large_path))
    assert isinstance(runtime, LlamaRuntime)  # the team is off by default

    settings.set("model_team", "on")
    runtime, _ = open_runtime(settings, str(large_path))
    assert isinstance(runtime, TeamRuntime)
    assert model_label(runtime) == "qwen2-tiny.gguf"
    assert Path(runtime.small.model_path) == model_path  # empty team_small_model: the bundled model
    runtime.close()

    # the small model named is the chat model itself: no team
    runtime, _ = open_runtime(settings, str(model_path))
    assert not isinstance(runtime, TeamRuntime)
    # nor for checks of this computer's engine
    runtime, _ = open_runtime(settings, str(large_path), server=False)
    assert not isinstance(runtime, TeamRuntime)


def test_models_list_shows_the_team_policy_when_it_is_on(data_dir: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from desktop.cli import main

    assert main(["models", "list"]) == 0
    assert "Model team" not in capsys.readouterr().out
    settings = SettingsStore(data_dir / "settings.json")
    settings.set("model_team", "on")
    settings.save()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "Model team on" in out
    for r in team.POLICY:
        assert f"  {r.job}: " in out

"""The per-model faithfulness check that decides what `auto` means: its logic on fakes, its cache,
the use cases following it, and real verdicts for the bundled model (and the optional Qwen 0.5B)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.core.jobs import CancelToken, run_job
from desktop.core.settings import SettingsStore
from desktop.services import model_check, tasks
from tests.core.test_summarize import FakeEngine, copy_first_sentences, topic_pages
from tests.extra_models import require_qwen


def passage_of(prompt: str) -> str:
    return prompt.split("Passage:\n", 1)[1]


def faithful(prompt: str) -> str:  # keeps to the passage: its first two sentences
    if "Passage:\n" not in prompt:  # a summary's own prompts
        return copy_first_sentences(prompt)
    return " ".join(passage_of(prompt).split(". ")[:2]) + "."


def inventive(prompt: str) -> str:  # the bundled model's habit: amounts and names from nowhere
    return "The project cost $1.6 billion and was led by a Canadian philanthropist. It opened in 1999."


class FileEngine(FakeEngine):
    """A fake model with a real model file, so its verdict can be kept by file."""

    def __init__(self, path: Path, script) -> None:  # type: ignore[no-untyped-def]
        super().__init__(n_ctx=2048, script=script)
        self.model_path = str(path)
        self.n_params = 135_000_000  # small: the size rule alone would say grounded


@pytest.fixture()
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "some-model.gguf"
    path.write_bytes(b"GGUF not really")
    return path


def test_sentences_are_checked_against_their_passage() -> None:
    passage = model_check.PASSAGES[0]
    assert model_check.score_output(
        passage, "The plant cost $14 million and was built by Harlan Engineering."
    ) == (
        1,
        1,
    )
    assert model_check.score_output(
        passage, "The plant cost $1.6 billion. It was built by Harlan Engineering."
    ) == (
        2,
        1,
    )
    assert model_check.score_output(passage, "") == (0, 0)


def test_a_faithful_model_passes_and_an_inventive_one_fails_once_per_file(model_file: Path) -> None:
    good = FileEngine(model_file, faithful)
    verdict = run_job(lambda c: model_check.verdict_for(good, c))
    assert verdict is not None and verdict.result == "faithful" and verdict.score == 1.0
    assert len(good.calls) == len(model_check.PASSAGES)
    assert (verdict.answer_mode(), verdict.summary_mode()) == ("checked", "abstractive")

    again = FileEngine(model_file, inventive)  # the same file: the kept verdict, no model call
    assert run_job(lambda c: model_check.verdict_for(again, c)) == verdict
    assert again.calls == []

    os.utime(model_file, ns=(1, 1))  # another file now (a new download in its place): checked again
    verdict = run_job(lambda c: model_check.verdict_for(again, c))
    assert verdict is not None and verdict.result == "unfaithful" and verdict.supported == 0
    assert (verdict.answer_mode(), verdict.summary_mode()) == ("grounded", "grounded")


def test_no_model_file_means_no_check() -> None:
    engine = FakeEngine(script=faithful)  # a fake or a model server: nothing to key a verdict by
    assert run_job(lambda c: model_check.verdict_for(engine, c)) is None
    assert engine.calls == []


def test_the_time_cap_leaves_the_model_unmeasured(model_file: Path) -> None:
    engine = FileEngine(model_file, faithful)
    verdict = run_job(lambda c: model_check.run_check(engine, model_file, c, time_cap_s=0.0))
    assert verdict.result == "unmeasured" and "cap" in verdict.detail
    assert verdict.answer_mode() is None  # the size rule decides
    assert model_check.cached_verdict(model_file) == verdict  # and it is not tried on every job


def test_auto_summaries_follow_the_measured_verdict_not_the_size(model_file: Path, data_dir: Path) -> None:
    settings = SettingsStore(data_dir / "settings.json")  # summary_mode: auto

    def read(cancel: CancelToken):  # type: ignore[no-untyped-def]
        return tasks.Pages(topic_pages(3), "Reactors", "test")
        yield

    good = FileEngine(model_file, faithful)
    summary = run_job(tasks.summarize(good, read, settings))
    assert summary.stats["mode"] == "abstractive"  # 135M, yet measured faithful
    os.utime(model_file, ns=(2, 2))
    bad = FileEngine(model_file, inventive)
    summary = run_job(tasks.summarize(bad, read, settings))
    assert summary.stats["mode"] == "grounded"
    summary = run_job(tasks.summarize(bad, read, settings, mode="abstractive"))  # asked: as asked
    assert summary.stats["mode"] == "abstractive"


@pytest.mark.slow
def test_the_bundled_model_is_checked_for_real_and_listed(runtime, model_path: Path) -> None:  # type: ignore[no-untyped-def]
    verdict = run_job(lambda c: model_check.run_check(runtime, model_path, c))
    # Measured: 6 of 8 sentences supported; it wrote "a cost of $1.6 billion" for a $14 million plant.
    assert verdict.sentences >= 4
    assert verdict.result == "unfaithful", verdict
    out = subprocess.run(
        [sys.executable, "-m", "desktop", "models", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    listed = {Path(e["path"]).resolve(): e for e in json.loads(out)}
    check = listed[model_path.resolve()]["quality_check"]
    assert check["result"] == "unfaithful" and check["score"] == round(verdict.score, 3)


@pytest.mark.slow
def test_the_qwen_half_billion_model_is_measured_faithful(cpu_plan) -> None:  # type: ignore[no-untyped-def]
    from desktop.services.llm import LlamaRuntime

    path = require_qwen()
    with LlamaRuntime(path, cpu_plan) as rt:
        verdict = run_job(lambda c: model_check.run_check(rt, path, c, time_cap_s=600))
    assert verdict.result == "faithful", verdict  # measured: 15 of 15 sentences supported

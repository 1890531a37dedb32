"""`hearth ask` and the window's chat are one use case (services/tasks.answer): the same question with
the same settings makes the same request, and the same answer, through both front ends (issue 9:
the CLI had a fixed temperature of 0.2 while the window read the setting; the window made a round
trip to the index lane per search, the CLI none)."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from desktop.core.jobs import CancelToken, run_job
from desktop.core.rag import AskRequest
from desktop.core.settings import SettingsStore
from desktop.core.types import Answer, ChatMessage
from desktop.services import embeddings, library
from tests.embedder import shared_embedder
from tests.ui.conftest import FakeRuntime, write_pdf

QUESTION = "Who paid for the solar panels?"
ANSWER = "The village council paid for the solar panels [1]."


class _Runtime(FakeRuntime):
    n_params = 135_000_000  # the bundled model's size: `auto` answers grounded

    def __enter__(self) -> _Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def energy_library(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    monkeypatch.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    (data_dir / "settings.json").write_text(
        json.dumps({"temperature": 0.7, "max_answer_tokens": 99, "sources_per_answer": 4, "threads": 1})
    )
    with library.Library(data_dir, shared_embedder(), check_index=False) as lib:
        assert run_job(lib.add_job([write_pdf(tmp_path / "village.pdf")], "energy")).ready == 1
    yield data_dir


def _cli_answer(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`hearth ask --json`, on the scripted runtime (the plan's context, the header's size)."""
    from desktop.cli import main
    from desktop.services import runtime

    choice = SimpleNamespace(
        plan=SimpleNamespace(n_ctx=_Runtime.n_ctx), model=SimpleNamespace(n_params=135_000_000)
    )
    monkeypatch.setattr(runtime, "open_runtime", lambda settings, model=None: (_Runtime(ANSWER), choice))
    assert main(["ask", QUESTION, "--collection", "energy", "--json"]) == 0, capsys.readouterr().err
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _capture(into: list[AskRequest]) -> Any:
    def fake_ask_job(engine: Any, retriever: Any, request: AskRequest, *a: Any, **k: Any) -> Any:
        into.append(request)

        def job(cancel: CancelToken) -> Generator[Any, None, Answer]:
            return Answer("captured", ())
            yield  # a generator

        return job

    return fake_ask_job


def test_the_cli_and_the_window_ask_with_the_same_request(
    energy_library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import desktop.core.rag as rag
    from desktop.ui.chat.panel import chat_answer_job

    requests: list[AskRequest] = []
    monkeypatch.setattr(rag, "ask_job", _capture(requests))
    _cli_answer(monkeypatch, capsys)
    settings = SettingsStore(energy_library / "settings.json")
    with library.Library(energy_library, shared_embedder(), check_index=False) as lib:
        session = SimpleNamespace(
            require_runtime=lambda: _Runtime(), retriever=lambda cancel: lib, settings=settings
        )
        run_job(chat_answer_job(session, ("energy",), (ChatMessage("user", QUESTION),)))  # type: ignore[arg-type]

    cli, window = requests
    same = ("question", "collections", "params", "max_sources", "history", "mode", "document", "n_ctx")
    assert {f: getattr(cli, f) for f in same} == {f: getattr(window, f) for f in same}
    assert cli.params.temperature == 0.7 and cli.params.max_tokens == 99 and cli.max_sources == 4


def test_the_cli_and_the_window_give_the_same_answer(
    qapp: Any, energy_library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real pipeline through both: the CLI searches the Library in its own thread; the window's
    Session searches it on the index lane, in one call per question. Same evidence, same answer."""
    from desktop.ui.chat.panel import chat_answer_job
    from desktop.ui.session import LaneRetriever, Session

    from_cli = _cli_answer(monkeypatch, capsys)

    calls = 0
    call = LaneRetriever._call

    def counted(self: LaneRetriever, fn: Any) -> Any:
        nonlocal calls
        calls += 1
        return call(self, fn)

    monkeypatch.setattr(LaneRetriever, "_call", counted)
    session = Session(SettingsStore(energy_library / "settings.json"))
    try:
        session.library = library.Library(energy_library, shared_embedder(), check_index=False)
        session.runtime = _Runtime(ANSWER)
        answer = run_job(chat_answer_job(session, ("energy",), (ChatMessage("user", QUESTION),)))
    finally:
        session.close()
    from_window = json.loads(json.dumps(answer.to_dict()))  # as `--json` prints it

    assert calls == 1, "the window's evidence search is one call on the index lane"
    assert from_cli["citations"], from_cli  # the question is answerable from the village report
    for d in (from_cli, from_window):
        d.pop("timings", None)
    assert from_window == from_cli


def test_the_librarys_notices_reach_the_window_before_the_sources(
    qapp: Any, energy_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the library says during the search (the team library not answering, issue 13) reaches
    the window's answer as a Notice, in the same index-lane call as the search, before the sources
    (it reached only `hearth ask`)."""
    from desktop.core.events import Notice, Sources
    from desktop.ui.chat.panel import chat_answer_job
    from desktop.ui.session import Session

    said = Notice("The team library at 10.0.0.5 did not answer; answered from your own documents only.")
    session = Session(SettingsStore(energy_library / "settings.json"))
    try:
        lib = library.Library(energy_library, shared_embedder(), check_index=False)
        monkeypatch.setattr(lib, "take_notices", lambda: [said])
        session.library = lib
        session.runtime = _Runtime(ANSWER)
        events: list[Any] = []
        run_job(chat_answer_job(session, ("energy",), (ChatMessage("user", QUESTION),)), events.append)
    finally:
        session.close()
    kinds = [type(e).__name__ for e in events if isinstance(e, Notice | Sources)]
    assert said in events and kinds.index("Notice") < kinds.index("Sources"), kinds

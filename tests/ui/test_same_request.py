"""`hearth ask` and the window's chat send the same answer request for the same question and the
same settings (issue 9: the CLI had a fixed temperature of 0.2, the window read the setting)."""

from __future__ import annotations

import json
from collections.abc import Generator
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


def _capture(into: list[AskRequest]) -> Any:
    def fake_ask_job(engine: Any, retriever: Any, request: AskRequest, *a: Any, **k: Any) -> Any:
        into.append(request)

        def job(cancel: CancelToken) -> Generator[Any, None, Answer]:
            return Answer("captured", ())
            yield  # a generator

        return job

    return fake_ask_job


def test_the_cli_and_the_window_ask_with_the_same_request(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    monkeypatch.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    (data_dir / "settings.json").write_text(
        json.dumps({"temperature": 0.7, "max_answer_tokens": 99, "sources_per_answer": 4, "threads": 1})
    )
    with library.Library(data_dir, shared_embedder(), check_index=False) as lib:
        assert run_job(lib.add_job([write_pdf(tmp_path / "village.pdf")], "energy")).ready == 1

    # hearth ask
    from desktop.cli import ask as cli_ask
    from desktop.cli import main

    from_cli: list[AskRequest] = []
    monkeypatch.setattr(cli_ask, "ask_job", _capture(from_cli))
    assert main(["ask", QUESTION, "--collection", "energy"]) == 0, capsys.readouterr().err

    # the window's chat (the job the panel runs on the llm lane)
    import desktop.core.rag as rag
    from desktop.ui.chat.panel import chat_answer_job

    from_window: list[AskRequest] = []
    monkeypatch.setattr(rag, "ask_job", _capture(from_window))
    settings = SettingsStore(data_dir / "settings.json")
    with library.Library(data_dir, shared_embedder(), check_index=False) as lib:
        session = SimpleNamespace(
            require_runtime=lambda: FakeRuntime(), retriever=lambda cancel: lib, settings=settings
        )
        history = (ChatMessage("user", QUESTION),)
        run_job(chat_answer_job(session, ("energy",), history, None))  # type: ignore[arg-type]

    (cli,), (window,) = from_cli, from_window
    same = ("question", "collections", "params", "max_sources", "history", "mode", "document")
    assert {f: getattr(cli, f) for f in same} == {f: getattr(window, f) for f in same}
    assert cli.params.temperature == 0.7 and cli.params.max_tokens == 99 and cli.max_sources == 4

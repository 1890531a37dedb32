"""`hearth backup create|restore|info` end to end: real stores, a real PDF, the real model answering after.

The backup is restored into another data dir with another store key (as on another machine);
`library list` and `ask` work there once the restore has rebuilt the vectors it does not carry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.services import database, embeddings, library, pdf
from desktop.services.chats import open_store
from tests import pdfs
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow

PASS = "correct horse battery staple"
FILLER = "Gulls circle over the nets while the ferry waits for the tide. " * 8
LIGHTHOUSE = [
    "Harbour history. The old quay was rebuilt twice after winter storms. " + FILLER,
    FILLER + "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor. " + FILLER,
]
QUOTE = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."


@pytest.fixture(scope="module", autouse=True)
def _shared_embedder() -> object:
    """The CLI makes its own Embedder; in tests every command shares one real, already loaded model."""
    mp = pytest.MonkeyPatch()
    mp.setattr(embeddings, "Embedder", lambda *a, **k: shared_embedder())
    mp.setattr(library, "Embedder", lambda *a, **k: shared_embedder())
    yield
    mp.undo()
    pdf.close_workers()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (data_dir / "settings.json").write_text(json.dumps({"max_answer_tokens": 40, "threads": 1}))
    path = pdfs.normal(tmp_path / "zanthor.pdf", LIGHTHOUSE, title="Zanthor harbour guide")
    code, out, _ = _run(capsys, "library", "add", str(path))
    assert code == 0 and out.startswith("1 indexed")
    store = open_store()
    chat = store.create_chat("Lighthouse")
    store.add_message(chat.id, "user", "Who built it?")
    cite = {
        "n": 1,
        "title": "Zanthor harbour guide",
        "path": str(path),
        "page": 2,
        "quote": QUOTE,
        "used": True,
    }
    store.add_message(chat.id, "assistant", f"“{QUOTE}” [1]", {"citations": [cite]})
    store.close()
    return path


def _elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "new-laptop" / "Hearth"
    monkeypatch.setenv("HEARTH_DATA_DIR", str(folder))
    monkeypatch.setenv(database.PASSPHRASE_ENV, "the new laptop's own passphrase")
    database.forget_keys()
    return folder


def test_backup_restores_elsewhere_and_list_ask_and_export_work(
    filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_BACKUP_PASSPHRASE", PASS)
    out = tmp_path / "hearth.backup"
    code, text, err = _run(capsys, "backup", "create", str(out))
    assert code == 0, err
    assert "Backed up 1 chat(s) (2 messages), 1 document(s) (2 pages" in text and "encrypted" in text
    code, text, _ = _run(capsys, "backup", "info", str(out), "--json")
    info = json.loads(text)
    assert code == 0 and info["encrypted"] and info["counts"]["documents"] == 1 and "check" not in info

    folder = _elsewhere(monkeypatch, tmp_path)
    code, text, err = _run(capsys, "backup", "restore", str(out))
    assert code == 0, err
    assert "Restored 1 chat(s) (2 messages), 1 document(s) (2 pages" in text and str(folder) in text
    assert "Vectors are not in backups: rebuilding the document index" in text
    assert "Document index rebuilt: 1 document(s)" in text

    code, text, _ = _run(capsys, "library", "list", "--json")
    (row,) = json.loads(text)
    assert code == 0 and row["status"] == "ready" and row["title"] == "Zanthor harbour guide"
    code, text, err = _run(capsys, "ask", "Who built the Zanthor lighthouse?", "--json")
    assert code == 0, err
    answer = json.loads(text)
    assert answer["found"] is True
    assert any("Okafor" in c["snippet"] and c["page"] == 2 for c in answer["citations"])
    code, text, _ = _run(capsys, "chats", "export", "1")
    assert code == 0 and f"p. 2 — “{QUOTE}”" in text


def test_plain_backup_needs_an_explicit_yes(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plain.backup"
    code, _, err = _run(capsys, "backup", "create", str(out), "--plain")  # stdin is not a terminal
    assert code == 2 and "--yes" in err and not out.exists()
    code, text, err = _run(capsys, "backup", "create", str(out), "--plain", "--yes")
    assert code == 0 and "NOT encrypted" in text, err
    code, text, _ = _run(capsys, "backup", "create", str(out), "--plain", "--yes")
    assert code == 1 and not text  # an existing file is not replaced without --force
    code, _, err = _run(capsys, "backup", "create", str(out), "--plain", "--yes", "--force")
    assert code == 0, err


def test_restore_refusals_say_why_and_change_nothing(
    filled: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HEARTH_BACKUP_PASSPHRASE", PASS)
    out = tmp_path / "hearth.backup"
    assert _run(capsys, "backup", "create", str(out))[0] == 0
    before = sorted(p.name for p in data_dir.iterdir())

    code, _, err = _run(capsys, "backup", "restore", str(out))
    assert code == 1 and "already holds Hearth data" in err and "--replace" in err
    monkeypatch.setenv("HEARTH_BACKUP_PASSPHRASE", "a wrong passphrase")
    code, _, err = _run(capsys, "backup", "restore", str(out), "--replace")
    assert code == 1 and "does not open this backup" in err
    code, _, err = _run(capsys, "backup", "restore", str(filled), "--replace")
    assert code == 1 and "is not a Hearth backup" in err
    monkeypatch.delenv("HEARTH_BACKUP_PASSPHRASE")
    code, _, err = _run(capsys, "backup", "restore", str(out), "--replace")
    assert code == 2 and "HEARTH_BACKUP_PASSPHRASE" in err  # no terminal to type it in
    code, _, err = _run(capsys, "backup", "create", str(tmp_path / "other.backup"))
    assert code == 1 and "nothing was written" in err and not (tmp_path / "other.backup").exists()
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert "Traceback" not in err


def test_help_names_backup_and_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "backup" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["backup", "--help"])
    text = capsys.readouterr().out
    assert all(word in text for word in ("create", "restore", "info", "passphrase", "rebuilds"))

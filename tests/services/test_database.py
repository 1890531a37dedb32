"""Stores are encrypted at rest: SQLCipher with a random or passphrase-derived key, told apart errors,
an explicit plain choice, and one module that opens databases."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from desktop.core.types import Chunk, Page
from desktop.services import database
from desktop.services.chats import ChatStore
from desktop.services.library_store import LibraryStore

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Where did Quillonbrook hide the saffron ledger?"
ANSWER = "Under the third floorboard of the Marrowgate mill."
PASSAGE = "The Vexmoor accord was signed by eleven lighthouse keepers in a storm."
SHA = "ab" * 32


@pytest.fixture(autouse=True)
def _fresh_keys() -> None:
    database.forget_keys()  # every test unlocks for itself, as a new process would


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _fill(folder: Path) -> tuple[ChatStore, LibraryStore]:
    chats = ChatStore(folder / "chats.sqlite")
    chat = chats.create_chat("Saffron ledger")
    chats.add_message(chat.id, "user", QUESTION)
    chats.add_message(chat.id, "assistant", ANSWER)
    lib = LibraryStore(folder / "library.sqlite")
    lib.ensure_collection("default")
    lib.upsert_file("default", "/docs/vexmoor.pdf", SHA, 10, 1, "ready")
    lib.save_text(SHA, "The Vexmoor papers", 10, False, [Page(1, PASSAGE)], [Chunk(SHA, 0, PASSAGE, 1, 1)])
    return chats, lib


def _closed(folder: Path) -> None:
    chats, lib = _fill(folder)
    chats.close()
    lib.close()


def test_stores_are_encrypted_files_with_no_readable_text_even_in_the_wal(data_dir: Path) -> None:
    chats, lib = _fill(data_dir)  # both open: the WAL files hold the newest pages while this is checked
    files = _files(data_dir)
    assert {"chats.sqlite-wal", "library.sqlite-wal"} <= set(files), "the test must see the WAL files"
    for name, data in files.items():
        for secret in (QUESTION, ANSWER, PASSAGE, "Saffron ledger", "Vexmoor", "Quillonbrook", "Marrowgate"):
            assert secret.encode() not in data, f"{secret!r} readable in {name}"
            assert secret.encode("utf-16-le") not in data, name
    assert not files["chats.sqlite"].startswith(b"SQLite format 3")
    # FTS5 works over SQLCipher: the keyword search finds the passage.
    hits = lib.keyword_search("lighthouse keepers accord", ["default"], 3)
    assert hits and hits[0][0] == SHA + ":0"
    assert chats.chats(search="floorboard")[0].title == "Saffron ledger"
    chats.close()
    lib.close()
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(data_dir / "chats.sqlite").execute("SELECT * FROM messages").fetchall()


def test_the_record_beside_the_data_holds_salt_cost_and_a_check_never_the_key(data_dir: Path) -> None:
    ChatStore(data_dir / "chats.sqlite").close()
    state = json.loads((data_dir / database.STATE_FILE).read_text())
    assert state["method"] == "passphrase"
    kdf = state["kdf"]
    assert kdf["name"] == "scrypt" and kdf["n"] >= 2**17 and kdf["r"] == 8 and len(kdf["salt"]) == 32
    key = database.unlock(data_dir)
    assert key is not None and len(key) == 32
    record = (data_dir / database.STATE_FILE).read_bytes()
    assert key.hex().encode() not in record and key not in record
    assert state["check"] != key.hex()
    # The stores' SQLCipher salt (the file's first 16 bytes) is recorded to recognize the files.
    assert state["stores"]["chats.sqlite"]["salt"] == (data_dir / "chats.sqlite").read_bytes()[:16].hex()


def test_a_wrong_passphrase_is_refused_clearly_and_nothing_is_overwritten(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _closed(data_dir)
    before = {n: hashlib.sha256(b).hexdigest() for n, b in _files(data_dir).items() if "-wal" not in n}
    database.forget_keys()
    monkeypatch.setenv(database.PASSPHRASE_ENV, "not the passphrase at all")
    with pytest.raises(database.WrongPassphrase) as err:
        ChatStore(data_dir / "chats.sqlite")
    assert "does not unlock" in err.value.user_message and "Nothing was changed" in err.value.hint
    with pytest.raises(database.WrongPassphrase):
        LibraryStore(data_dir / "library.sqlite")
    after = {n: hashlib.sha256(b).hexdigest() for n, b in _files(data_dir).items() if "-wal" not in n}
    assert after == before


def test_a_typed_passphrase_is_asked_again_when_wrong(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ChatStore(data_dir / "chats.sqlite").create_chat("kept")
    database.forget_keys()
    real = os.environ[database.PASSPHRASE_ENV]
    monkeypatch.delenv(database.PASSPHRASE_ENV)
    asked: list[database.PassphraseRequest] = []
    answers = iter(["wrong guess one", real])

    def prompt(request: database.PassphraseRequest) -> str | None:
        asked.append(request)
        return next(answers)

    database.use_prompt(prompt)
    try:
        store = ChatStore(data_dir / "chats.sqlite")
    finally:
        database.use_prompt(None)
    assert [c.title for c in store.chats()] == ["kept"]
    assert [(r.new, r.retry) for r in asked] == [
        (False, ""),
        (False, "That passphrase does not unlock Hearth's data."),
    ]


def test_without_a_keyring_a_new_passphrase_is_chosen_through_the_prompt(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.services import secrets

    monkeypatch.delenv(database.PASSPHRASE_ENV)
    monkeypatch.setattr(secrets, "available", lambda: False)
    asked: list[database.PassphraseRequest] = []
    answers = iter(["short", "a long enough passphrase"])

    def prompt(request: database.PassphraseRequest) -> str | None:
        asked.append(request)
        return next(answers)

    assert database.unlock(data_dir, prompt) is not None
    assert [r.new for r in asked] == [True, True] and "at least 8" in asked[1].retry
    assert database.at_rest_status(data_dir)["method"] == "passphrase"


def test_with_no_keyring_and_no_way_to_ask_the_error_says_what_to_do(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.services import secrets

    monkeypatch.delenv(database.PASSPHRASE_ENV)
    monkeypatch.setattr(secrets, "available", lambda: False)
    with pytest.raises(database.DataLocked) as err:
        ChatStore(data_dir / "chats.sqlite")
    assert "no keyring" in err.value.user_message
    assert database.PASSPHRASE_ENV in err.value.hint and "hearth storage plain" in err.value.hint
    assert not (data_dir / "chats.sqlite").exists() and not (data_dir / database.STATE_FILE).exists()


def test_damaged_truncated_and_foreign_stores_are_told_apart_and_kept(data_dir: Path, tmp_path: Path) -> None:
    _closed(data_dir)
    database.forget_keys()
    good = (data_dir / "chats.sqlite").read_bytes()

    def opening_says(data: bytes) -> str:
        (data_dir / "chats.sqlite").write_bytes(data)
        with pytest.raises(database.StoreUnreadable) as err:
            ChatStore(data_dir / "chats.sqlite")
        assert (data_dir / "chats.sqlite").read_bytes() == data, "the file was changed"
        assert "Nothing was changed" in err.value.hint
        return err.value.user_message

    assert "truncated" in opening_says(good[:3000])
    flipped = bytearray(good)
    flipped[100] ^= 0xFF
    assert "damaged" in opening_says(bytes(flipped))
    # Another install's file (its own key and salt) in this folder's place.
    other = tmp_path / "other-install"
    other.mkdir()
    ChatStore(other / "chats.sqlite").close()
    assert "another install" in opening_says((other / "chats.sqlite").read_bytes())
    (data_dir / "chats.sqlite").write_bytes(good)
    assert [c.title for c in ChatStore(data_dir / "chats.sqlite").chats()] == ["Saffron ledger"]


def test_encrypted_stores_without_their_record_are_refused_not_replaced(data_dir: Path) -> None:
    _closed(data_dir)
    (data_dir / database.STATE_FILE).unlink()
    database.forget_keys()
    before = (data_dir / "chats.sqlite").read_bytes()
    with pytest.raises(database.StoreUnreadable) as err:
        ChatStore(data_dir / "chats.sqlite")
    assert database.STATE_FILE in err.value.user_message and "Restore" in err.value.hint
    assert (data_dir / "chats.sqlite").read_bytes() == before
    assert not (data_dir / database.STATE_FILE).exists()


def test_storing_without_encryption_is_an_explicit_reported_choice_and_reversible(data_dir: Path) -> None:
    _closed(data_dir)
    status = database.at_rest_status(data_dir)
    assert status["encrypted"] and not status["chose_plain"] and status["method"] == "passphrase"
    events: list[object] = []
    database.choose_plain(data_dir, progress=events.append)
    status = database.at_rest_status(data_dir)
    assert not status["encrypted"] and status["chose_plain"] and "WITHOUT encryption" in status["summary"]
    assert (data_dir / "chats.sqlite").read_bytes().startswith(b"SQLite format 3")
    assert events, "decrypting reports progress"
    database.forget_keys()
    assert [c.title for c in ChatStore(data_dir / "chats.sqlite").chats()] == ["Saffron ledger"]
    database.choose_encrypted(data_dir)
    status = database.at_rest_status(data_dir)
    assert status["encrypted"] and status["stores"] == {
        "chats.sqlite": "encrypted",
        "library.sqlite": "encrypted",
    }
    database.forget_keys()
    lib = LibraryStore(data_dir / "library.sqlite")
    assert lib.keyword_search("Vexmoor", ["default"], 1)


def test_the_status_explains_vectors_and_never_unlocks(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _closed(data_dir)
    database.forget_keys()
    monkeypatch.delenv(database.PASSPHRASE_ENV)  # a prompt or a derivation now would fail the test
    status = database.at_rest_status(data_dir)
    assert status["unlocked"] is False and status["method"] == "passphrase"
    assert status["key_location"].startswith("nowhere on disk") and "scrypt" in status["kdf"]
    assert status["vectors"]["encrypted"] is False
    assert "never the text" in status["vectors"]["note"] and "hint" in status["vectors"]["note"]
    json.dumps(status)  # plain data, for the privacy panel and `hearth storage status --json`


def test_an_eval_index_is_plain_by_its_own_record_and_never_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.cli.eval import _eval_root

    monkeypatch.delenv(database.PASSPHRASE_ENV)
    with _eval_root(tmp_path / "eval") as root:
        LibraryStore(root / "library.sqlite").close()
        assert database.at_rest_status(root)["method"] == "plain"
        assert (root / "library.sqlite").read_bytes().startswith(b"SQLite format 3")


def test_only_the_database_module_opens_databases() -> None:
    """chats.sqlite and library.sqlite can only be opened encrypted if nothing else opens SQLite."""
    offenders = []
    for path in (REPO / "desktop").rglob("*.py"):
        if path.name == "database.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bsqlite3\.connect\(|\bimport sqlite3\b|\bsqlcipher3\b", text):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []

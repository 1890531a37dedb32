"""Backup and restore on real stores: chats with cited answers, a library of real PDFs, real keys.

A backup made here is restored into a fresh data dir with another store key (another machine),
compared row by row, and asked a question once the library has rebuilt its vectors. A writer
inserting rows during the backup gets a consistent snapshot; every bad input is refused with
nothing changed; an encrypted backup holds no plain text of a canary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from desktop.core.jobs import run_job
from desktop.services import backup, database, pdf
from desktop.services.chats import ChatStore
from desktop.services.library import Library
from tests import pdfs
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow

PASS = "correct horse battery staple"
CANARY = "Quillfeather7Zebu"  # in a chat, a document's text, a document's title, the system prompt
PAGES = [
    "Harbour history. The old quay was rebuilt twice after winter storms flooded the fish market.",
    f"The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor. Keeper's log: {CANARY}.",
]


@pytest.fixture(scope="module", autouse=True)
def _close_pdf_workers():  # type: ignore[no-untyped-def]
    yield
    pdf.close_workers()


def populate(folder: Path, docs: Path, chats: int = 3) -> None:
    """Real rows in every store: chats whose answers cite pages, two PDFs indexed, settings."""
    docs.mkdir(parents=True, exist_ok=True)
    pdfs.normal(docs / "zanthor.pdf", PAGES, title=f"Zanthor guide {CANARY}")
    pdfs.normal(
        docs / "bread.pdf", ["Sourdough bread needs a starter, flour, water and salt."], title="Bread"
    )
    with Library(folder, shared_embedder()) as lib:
        result = run_job(lib.add_job([docs]))
        assert result.ready == 2
    store = ChatStore(folder / "chats.sqlite")
    for i in range(chats):
        chat = store.create_chat(f"Lighthouse {i}", model="smollm2", collections=["default"])
        store.add_message(chat.id, "user", f"Who built it? {CANARY}")
        quote = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."
        cite = {"n": 1, "title": "Zanthor guide", "path": str(docs / "zanthor.pdf"), "page": 2,
                "used": True, "quote": quote, "snippet": ""}  # fmt: skip
        store.add_message(chat.id, "assistant", "Mira Okafor [1].", {"citations": [cite], "mode": "grounded"})
    store.close()
    (folder / "settings.json").write_text(json.dumps({"system_prompt": f"Be brief. {CANARY}", "threads": 1}))
    (folder / "kernels.json").write_text(json.dumps({"engine": {"rung": "portable"}}))


def dump(folder: Path) -> dict[str, Any]:
    """Everything a user would miss, read through the stores' own keys."""
    out: dict[str, Any] = {}
    queries = {
        "chats.sqlite": {
            "chats": "SELECT id, title, model, system_prompt, collections, created FROM chats ORDER BY id",
            "messages": "SELECT id, chat_id, role, content, meta, created FROM messages ORDER BY id",
        },
        "library.sqlite": {
            "documents": "SELECT sha256, title, page_count, text_ready, reason FROM documents ORDER BY 1",
            "pages": "SELECT sha256, number, text FROM pages ORDER BY sha256, number",
            "chunks": "SELECT sha256, n, text, page_start, page_end FROM chunks ORDER BY sha256, n",
            "files": "SELECT collection, path, sha256, status FROM files ORDER BY path",
            "fts": "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'lighthouse' ORDER BY rowid",
        },
    }
    for name, tables in queries.items():
        conn = database.connect(folder / name)
        try:
            for table, sql in tables.items():
                out[table] = [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    for name in backup.SIDE_FILES:
        out[name] = (folder / name).read_text()
    return out


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its content's hash: to prove a refusal changed nothing."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "library.lock"
    }


def other_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh data dir with another store key (another passphrase: another machine's)."""
    folder = tmp_path / "elsewhere" / "Hearth"
    monkeypatch.setenv("HEARTH_DATA_DIR", str(folder))
    monkeypatch.setenv(database.PASSPHRASE_ENV, "another machine's own passphrase")
    database.forget_keys()
    return folder


def test_a_backup_restores_on_another_machine_and_the_library_answers(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(data_dir, tmp_path / "docs")
    before = dump(data_dir)
    out = tmp_path / "hearth.backup"
    made = backup.create(out, PASS)
    assert made.encrypted and made.counts == {"chats": 3, "messages": 6, "documents": 2, "pages": 3,
                                              "passages": len(before["chunks"])}  # fmt: skip
    assert out.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left

    target = other_machine(monkeypatch, tmp_path)
    restored = backup.restore(out, PASS)
    assert restored.folder == target and restored.moved_aside is None
    assert restored.counts == made.counts and restored.to_reindex == 2
    assert dump(target) == before
    state = database.read_state(target)
    assert state is not None and state["method"] == database.PASSPHRASE
    assert state["kdf"]["salt"] != json.loads(zipfile.ZipFile(out).read("manifest.json"))["kdf"]["salt"]
    assert not (target / "vectors").exists()  # vectors are not in a backup

    events: list[object] = []
    built = backup.rebuild_index(target, shared_embedder(), events.append)
    assert built.ready == 2 and built.chunks == len(before["chunks"])
    with Library(target, shared_embedder()) as lib:
        assert lib.consistency() == []
        assert all(f.status == "ready" for f in lib.files())
        (hit,) = lib.vector_search("Who built the lighthouse and when?", ["default"], 1)
        chunk = lib.chunks([hit[0]])[0]
        assert "Mira Okafor" in chunk.text and chunk.page_start <= 2 <= chunk.page_end
        assert lib.keyword_search("sourdough starter", ["default"], 1)


def test_backup_during_writes_is_a_consistent_snapshot(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    chat = store.create_chat("Busy")
    filler = "x" * 2000
    conn = database.connect(data_dir / "chats.sqlite")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO messages(chat_id, role, content, meta, created) VALUES (?, 'user', ?, '{}', 0)",
        [(chat.id, f"{i} {filler}") for i in range(20_000)],
    )  # about 40 MB, so the copy takes a while
    conn.execute("COMMIT")
    conn.close()
    store.close()
    stop = threading.Event()
    written: list[tuple[float, int]] = []

    def writer() -> None:  # another connection, as the window would be, inserting all along
        own = ChatStore(data_dir / "chats.sqlite")
        while not stop.is_set():
            message = own.add_message(chat.id, "assistant", "during the backup")
            written.append((time.monotonic(), message.id))
        own.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        started = time.monotonic()
        made = backup.create(tmp_path / "busy.backup", PASS)
        ended = time.monotonic()
    finally:
        stop.set()
        thread.join()
    during = [i for t, i in written if started <= t <= ended]
    assert len(during) > 5, "the writer kept writing while the backup ran"

    other_machine(monkeypatch, tmp_path)
    restored = backup.restore(tmp_path / "busy.backup", PASS)
    conn = database.connect(restored.folder / "chats.sqlite")
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM messages ORDER BY id")]
    conn.close()
    # One moment's state: every row up to some id, none missing, none after.
    assert ids == list(range(1, len(ids) + 1)) and len(ids) == made.counts["messages"]
    assert 20_000 + 20 <= len(ids) <= 20_000 + len(written)
    print(
        f"\nbackup of {made.size / 2**20:.1f} MB under writes: {made.seconds:.2f}s, {made.mb_per_s:.0f} MB/s"
    )


def test_an_encrypted_backup_holds_no_plain_text_of_a_canary(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(data_dir, tmp_path / "docs", chats=1)
    before = dump(data_dir)
    encrypted = backup.create(tmp_path / "secret.backup", PASS).path
    plain = backup.create(tmp_path / "plain.backup", None).path

    def texts(path: Path) -> list[bytes]:  # the file as it is, and each member uncompressed
        with zipfile.ZipFile(path) as zf:
            return [path.read_bytes(), *(zf.read(n) for n in zf.namelist())]

    needles = [CANARY.encode(), CANARY.encode("utf-16-le"), b"Mira Okafor", b"Be brief"]
    assert not [n for n in needles for blob in texts(encrypted) if n in blob]
    # The same check finds it in a plain backup: it can fail.
    assert any(CANARY.encode() in blob for blob in texts(plain))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # A plain backup restores into encrypted stores (exported across forms, full-text index too).
    target = other_machine(monkeypatch, tmp_path)
    backup.restore(plain, None)
    assert dump(target) == before and database.file_form(target / "library.sqlite") == "encrypted"


def test_a_folder_stored_plain_by_choice_backs_up_encrypted_and_restores_plain(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.set_up(data_dir, database.PLAIN)
    store = ChatStore(data_dir / "chats.sqlite")
    store.add_message(store.create_chat("Plain").id, "user", CANARY)
    store.close()
    assert database.file_form(data_dir / "chats.sqlite") == "plain"
    out = backup.create(tmp_path / "b.backup", PASS).path
    assert CANARY.encode() not in out.read_bytes()
    before = tree(data_dir)
    (data_dir / "models").mkdir()
    (data_dir / "models" / "mine.gguf").write_bytes(b"GGUF")

    restored = backup.restore(out, PASS, replace=True)  # the folder's plain choice is kept
    assert database.file_form(data_dir / "chats.sqlite") == "plain"
    assert restored.moved_aside is not None and restored.kept == ("models",)
    assert (data_dir / "models" / "mine.gguf").read_bytes() == b"GGUF"
    aside = {k: v for k, v in tree(restored.moved_aside).items() if not k.startswith("models")}
    assert aside == before  # the previous data, moved aside as it was
    assert [m.content for m in ChatStore(data_dir / "chats.sqlite").messages(1)] == [CANARY]


def test_restore_refuses_existing_data_unless_replace_and_then_keeps_it_aside(
    data_dir: Path, tmp_path: Path
) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    store.add_message(store.create_chat("From the backup").id, "user", "old question")
    store.close()
    out = backup.create(tmp_path / "b.backup", PASS).path
    store = ChatStore(data_dir / "chats.sqlite")
    store.create_chat("Made after the backup")
    store.close()
    before = tree(data_dir)

    with pytest.raises(backup.DataExists) as info:
        backup.restore(out, PASS)
    assert "--replace" in info.value.hint and tree(data_dir) == before

    restored = backup.restore(out, PASS, replace=True)
    aside = restored.moved_aside
    assert aside is not None and aside.parent == data_dir.parent and tree(aside) == before
    assert [c.title for c in ChatStore(data_dir / "chats.sqlite").chats()] == ["From the backup"]
    database.forget_keys()
    kept = ChatStore(aside / "chats.sqlite")  # the data moved aside still opens with its own key
    assert {c.title for c in kept.chats()} == {"From the backup", "Made after the backup"}
    kept.close()
    leftovers = [p.name for p in data_dir.parent.iterdir() if ".restoring-" in p.name]
    assert leftovers == []


def _corrupt(path: Path, tmp_path: Path) -> dict[str, Path]:
    """Each bad input, made from a good backup at `path`."""
    raw = path.read_bytes()
    bad = {name: tmp_path / f"{name}.backup" for name in ("truncated", "flipped", "pdf", "zip", "newer")}
    bad["truncated"].write_bytes(raw[: len(raw) * 2 // 3])
    flipped = bytearray(raw)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("chats.sqlite")
    at = info.header_offset + 30 + len(info.filename) + info.file_size // 2  # inside the stored data
    flipped[at] ^= 0xFF
    bad["flipped"].write_bytes(bytes(flipped))
    pdfs.normal(bad["pdf"], ["not a backup"])
    with zipfile.ZipFile(bad["zip"], "w") as zf:
        zf.writestr("notes.txt", "a zip, but not Hearth's")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad["newer"], "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest.update(format=backup.FORMAT + 1, hearth_version="9.0")
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    return bad


def test_each_bad_input_is_a_clear_error_and_changes_nothing(data_dir: Path, tmp_path: Path) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    store.add_message(store.create_chat("Mine").id, "user", "keep me")
    store.close()
    good = backup.create(tmp_path / "good.backup", PASS).path
    bad = _corrupt(good, tmp_path)
    before = tree(data_dir)
    expected = {
        "truncated": (backup.BackupDamaged, "damaged or truncated"),
        "flipped": (backup.BackupDamaged, "damaged or truncated"),
        "pdf": (backup.NotABackup, "is not a Hearth backup"),
        "zip": (backup.NotABackup, "not a Hearth backup"),
        "newer": (backup.BackupTooNew, "made by a newer Hearth (9.0"),
    }
    for name, (kind, words) in expected.items():
        with pytest.raises(kind) as info:
            backup.restore(bad[name], PASS, replace=True)
        assert words in info.value.user_message and "Nothing was changed" in info.value.hint, name
    with pytest.raises(backup.WrongBackupPassphrase, match="does not open this backup"):
        backup.restore(good, "not the passphrase", replace=True)
    with pytest.raises(backup.BackupError, match="There is no file"):
        backup.restore(tmp_path / "missing.backup", PASS, replace=True)
    assert tree(data_dir) == before
    assert [p.name for p in data_dir.parent.iterdir() if ".restoring-" in p.name] == []


def test_a_failure_while_restoring_leaves_the_data_dir_as_it_was(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    store.add_message(store.create_chat("Mine").id, "user", "keep me")
    store.close()
    out = backup.create(tmp_path / "b.backup", PASS).path
    before = tree(data_dir)

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_swap_in", full_disk)
    with pytest.raises(OSError):
        backup.restore(out, PASS, replace=True)
    assert tree(data_dir) == before
    assert [p.name for p in data_dir.parent.iterdir() if ".restoring-" in p.name] == []


def test_backup_checks_free_space_first_and_refuses_short_passphrases(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    store.create_chat("Mine")
    store.close()
    with pytest.raises(backup.BackupError, match="at least 8 characters"):
        backup.create(tmp_path / "b.backup", "short")
    killed = tmp_path / ".b.backup.k1ll3d.part"  # what a backup killed mid-way leaves
    killed.mkdir()
    (killed / "chats.sqlite").write_bytes(b"a killed run's copy")
    backup.create(tmp_path / "b.backup", PASS)
    assert sorted(os.listdir(tmp_path)) == ["b.backup"]  # the next run removed it
    (tmp_path / "b.backup").unlink()
    real = shutil.disk_usage
    monkeypatch.setattr(backup.shutil, "disk_usage", lambda p: real(p)._replace(free=1024))
    with pytest.raises(backup.BackupError, match="Not enough free disk space"):
        backup.create(tmp_path / "b.backup", PASS)
    assert os.listdir(tmp_path) == []


def test_a_restore_killed_at_any_moment_leaves_the_old_data_or_the_whole_new(
    data_dir: Path, tmp_path: Path
) -> None:
    import random
    import signal
    import subprocess
    import sys

    store = ChatStore(data_dir / "chats.sqlite")
    chat = store.create_chat("From the backup")
    for i in range(3000):
        store.add_message(chat.id, "user", f"{i} " + "y" * 2000)
    store.close()
    out = backup.create(tmp_path / "b.backup", PASS).path
    store = ChatStore(data_dir / "chats.sqlite")
    store.create_chat("Made after the backup")
    store.close()
    pristine = tmp_path / "pristine"
    shutil.copytree(data_dir, pristine)
    before = tree(pristine)
    parent = data_dir.parent
    env = {**os.environ, "HEARTH_BACKUP_PASSPHRASE": PASS}
    rng = random.Random(10)
    outcomes: list[str] = []
    for delay in [0.4, 1.0, 1.6, 2.2, 2.8, 3.4, 4.0, 5.0, 30.0]:
        for p in parent.iterdir():  # the old data dir again (what a killed run left beside it stays)
            if p.name.startswith(data_dir.name):
                shutil.rmtree(p)
        shutil.copytree(pristine, data_dir)
        proc = subprocess.Popen(
            [sys.executable, "-m", "desktop", "backup", "restore", str(out), "--replace", "--no-index"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            proc.wait(timeout=delay + rng.random() * 0.5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.stderr is not None:
                proc.stderr.close()
        # The data dir is the old data, untouched, or the restored data, whole; the old data is never lost.
        others = [p for p in parent.iterdir() if p.name.startswith((data_dir.name, f".{data_dir.name}"))]
        old_copies = [p for p in others if p.is_dir() and tree(p) == before]
        assert old_copies, f"the old data is gone after a kill at {delay}s"
        database.forget_keys()
        if tree(data_dir) == before:
            outcomes.append("old")
            continue
        restored = ChatStore(data_dir / "chats.sqlite")
        assert [c.title for c in restored.chats()] == ["From the backup"]
        assert len(restored.messages(chat.id)) == 3000
        restored.close()
        outcomes.append("new")
    print(f"\nrestores killed at 0.4–5 s, then one let run: {outcomes}")
    # What killed runs left beside the data dir was tidied by the next restore.
    assert not [p.name for p in parent.iterdir() if backup.STAGING in p.name]
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes


def test_restore_refuses_while_hearth_has_the_library_open(data_dir: Path, tmp_path: Path) -> None:
    store = ChatStore(data_dir / "chats.sqlite")
    store.create_chat("Mine")
    store.close()
    out = backup.create(tmp_path / "b.backup", PASS).path
    with Library(data_dir, shared_embedder(), check_index=False):  # what the window holds
        before = tree(data_dir)
        with pytest.raises(backup.BackupError, match="Hearth is running"):
            backup.restore(out, PASS, replace=True)
        assert tree(data_dir) == before
    assert backup.restore(out, PASS, replace=True).moved_aside is not None  # closed: it goes on

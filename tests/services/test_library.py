"""The library on real PDFs, real SQLite and a real Chroma store: add, incremental, resume, damage."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from desktop.core.errors import Cancelled, StorageError
from desktop.core.events import Notice, Progress
from desktop.core.jobs import CancelToken, run_job
from desktop.services import pdf
from desktop.services.library import Library
from tests import pdfs
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow

TOPICS = {
    "volcanoes": ["Volcanoes erupt when magma rises through the crust. Lava flows can reach 1200 degrees."],
    "baking": ["Sourdough bread needs a starter culture, flour, water and salt. Bake it at 230 degrees."],
    "chess": ["The Sicilian Defence is a chess opening that begins with the move c5 after e4."],
}


@pytest.fixture(scope="module", autouse=True)
def _close_pdf_workers():  # type: ignore[no-untyped-def]
    yield
    pdf.close_workers()


def _open(root: Path, **kw) -> Library:  # type: ignore[no-untyped-def]
    return Library(root, shared_embedder(), **kw)


def _add(lib: Library, *paths: Path, collection: str = "default"):  # type: ignore[no-untyped-def]
    events: list[object] = []
    return run_job(lib.add_job(list(paths), collection), events.append), events


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    pdfs.corpus(folder, TOPICS)
    pdfs.encrypted(folder / "locked.pdf")
    pdfs.not_pdf(folder / "fake.pdf")
    return folder


def test_add_folder_indexes_good_files_and_records_bad_ones(data_dir: Path, docs: Path) -> None:
    with _open(data_dir) as lib:
        result, events = _add(lib, docs)
        assert (result.added, result.ready) == (5, 3)
        assert {(Path(p).name, r) for p, r, _ in result.failed} == {
            ("locked.pdf", "encrypted"),
            ("fake.pdf", "not_pdf"),
        }
        status = {Path(f.path).name: (f.status, f.reason) for f in lib.files()}
        assert status["locked.pdf"] == ("error", "encrypted") and status["chess.pdf"] == ("ready", "")
        progress = [e for e in events if isinstance(e, Progress)]
        assert progress and progress[-1].done == progress[-1].total == 3 and progress[-1].unit == "pages"
        # Both indexes answer, and only from the right document.
        kw = lib.keyword_search("sourdough starter", ["default"], 3)
        vec = lib.vector_search("how do I make bread?", ["default"], 1)
        assert lib.chunks([kw[0][0]])[0].title == "baking"
        assert lib.chunks([vec[0][0]])[0].title == "baking"
        assert lib.chunks([vec[0][0]])[0].page_start == 1


def test_readding_is_incremental_changed_replaced_moved_recognised(data_dir: Path, docs: Path) -> None:
    with _open(data_dir) as lib:
        _add(lib, docs)
        again, _ = _add(lib, docs)
        assert (again.added, again.unchanged, again.ready) == (0, 5, 0)
        pdfs.normal(docs / "chess.pdf", ["The Queen's Gambit starts with d4 d5 c4, a classical opening."])
        (docs / "volcanoes.pdf").rename(docs / "lava.pdf")
        changed, _ = _add(lib, docs)
        assert (changed.replaced, changed.moved, changed.ready) == (1, 1, 1)
        names = {Path(f.path).name for f in lib.files()}
        assert "lava.pdf" in names and "volcanoes.pdf" not in names
        hits = lib.keyword_search("gambit", ["default"], 5)
        assert hits and not lib.keyword_search("sicilian", ["default"], 5)  # old text is gone
        vec_ids = {h[0].split(":")[0] for h in lib.vector_search("chess opening", ["default"], 10)}
        assert len(vec_ids) >= 1 and all(lib.chunks([f"{s}:0"]) for s in vec_ids)
        assert lib.remove([docs / "lava.pdf"]) == 1
        assert not lib.keyword_search("magma", ["default"], 5)
        assert lib.vectors.count("default") == lib.store.ready_chunk_count("default")


def test_collections_are_separate(data_dir: Path, tmp_path: Path) -> None:
    a, b = (
        pdfs.corpus(tmp_path / "a", {"volcanoes": TOPICS["volcanoes"]}),
        pdfs.corpus(tmp_path / "b", {"chess": TOPICS["chess"]}),
    )
    with _open(data_dir) as lib:
        _add(lib, *a, collection="Geology notes")
        _add(lib, *b, collection="Games")
        assert lib.collections() == ["Games", "Geology notes"]
        assert not lib.keyword_search("magma", ["Games"], 5)
        assert lib.keyword_search("magma", ["Geology notes"], 5)
        assert all(lib.chunks([i])[0].title == "chess" for i, _ in lib.vector_search("lava", ["Games"], 5))


def test_second_process_on_the_same_data_dir_is_refused(data_dir: Path) -> None:
    with _open(data_dir, check_index=False):
        with pytest.raises(StorageError, match="Another Hearth"):
            _open(data_dir, check_index=False)
    _open(data_dir, check_index=False).close()  # released on close


def test_cancel_between_batches_then_resume_finishes(data_dir: Path, docs: Path) -> None:
    with _open(data_dir) as lib:
        token = CancelToken()
        seen = 0

        def on_event(e: object) -> None:
            nonlocal seen
            if isinstance(e, Progress):
                seen += 1
                if seen == 2:
                    token.cancel()

        with pytest.raises(Cancelled):
            run_job(lib.add_job([docs]), on_event, token)
        assert any(f.status in ("queued", "indexing") for f in lib.files())
        result = run_job(lib.resume_job())
        assert result.ready >= 1
        assert {f.status for f in lib.files()} == {"ready", "error"}
        assert lib.vectors.count("default") == lib.store.ready_chunk_count("default")


def test_truncated_index_is_quarantined_and_rebuilt(data_dir: Path, docs: Path) -> None:
    with _open(data_dir) as lib:
        _add(lib, docs)
    chroma_db = data_dir / "vectors" / "chroma.sqlite3"
    with open(chroma_db, "r+b") as fh:
        fh.truncate(4096)
    for extra in (data_dir / "vectors").glob("chroma.sqlite3-*"):
        extra.unlink()
    with _open(data_dir) as lib:
        assert any("damaged" in n.message for n in lib.notices)
        assert list(data_dir.glob("vectors.quarantine-*"))
        result, events = _add(lib)
        assert any(isinstance(e, Notice) for e in events)
        assert result.ready == 3
        assert lib.vector_search("sourdough", ["default"], 1)


def _fill(path: Path) -> None:
    with open(path, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError:
            pass


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_disk_full_keeps_ready_documents_and_resumes(tmp_path: Path, docs: Path) -> None:
    root = tmp_path / "small"
    root.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(root)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        more = pdfs.corpus(
            tmp_path / "more", {f"doc{i}": [pdfs.LOREM * 6 + f" unique{i}"] * 4 for i in range(4)}
        )
        with _open(root) as lib:
            _add(lib, docs / "baking.pdf")
            _fill(root / "filler")
            with pytest.raises(StorageError, match=r"disk is full|could not write"):
                run_job(lib.add_job(more))
            assert {Path(f.path).name for f in lib.files() if f.status == "ready"} >= {"baking.pdf"}
        (root / "filler").unlink()
        with _open(root) as lib:  # the health check decides whether the index must be rebuilt
            result = run_job(lib.resume_job())
            assert {f.status for f in lib.files()} == {"ready"}
            assert lib.keyword_search("sourdough", ["default"], 1)
            assert lib.vector_search("bread", ["default"], 1)
            ids = [i for i, _ in lib.vector_search("unique", ["default"], 50)]
            assert len(ids) == len(set(ids))
            assert lib.vectors.count("default") == lib.store.ready_chunk_count("default")
            assert result.ready >= 0
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_a_fact_on_page_two_of_a_passage_spanning_three_pages_is_cited_at_page_two(
    data_dir: Path, tmp_path: Path
) -> None:
    from desktop.core.rag import AskRequest, ask_job, retrieve
    from tests.core.test_rag import FakeEngine

    path = pdfs.normal(
        tmp_path / "harbour.pdf",
        [
            "The harbour authority publishes this short guide. It covers the old town and its streets.",
            "The Zanthor lighthouse was built by Amara Okafor in 1887. Its lamp first burned whale oil.",
            "Ferries leave the pier every hour. Tickets are sold at the kiosk near the gate.",
        ],
        title="Harbour guide",
    )
    with _open(data_dir) as lib:
        result, _ = _add(lib, path)
        assert result.ready == 1
        question = "Who built the Zanthor lighthouse?"
        got = retrieve(lib, question, ["default"], k=1)
        assert (got.records[0].page_start, got.records[0].page_end) == (1, 3)  # one passage, three pages
        answer = run_job(ask_job(FakeEngine("Amara Okafor [1]."), lib, AskRequest(question, ("default",))))
        cite = answer.citations[0]
        assert (cite.page, cite.page_end) == (2, 3)
        assert (
            run_job(
                ask_job(FakeEngine("[1]"), lib, AskRequest("When do ferries leave the pier?", ("default",)))
            )
            .citations[0]
            .page
            == 3
        )


def test_reindex_reads_files_again_everywhere_and_progress_names_the_file(data_dir: Path, docs: Path) -> None:
    from desktop.services.library import FileProgress

    chess = str((docs / "chess.pdf").resolve())
    with _open(data_dir) as lib:
        _, events = _add(lib, docs)
        _add(lib, docs / "chess.pdf", collection="Games")  # the same document in a second collection
        rows = {Path(f.path).name: f for f in lib.files("default")}
        # Every indexing event names its file the way files() lists it, with its collection.
        named = {(e.collection, e.path) for e in events if isinstance(e, FileProgress) and e.path}
        assert {(r.collection, r.path) for r in rows.values() if r.status == "ready"} <= named
        assert all(Path(p).name == e.label for e in events if isinstance(e, FileProgress) and (p := e.path))
        # Simulate text an older pypdf got wrong: a plain re-add would keep it (unchanged file).
        sha = rows["chess.pdf"].sha256
        with lib.store.transaction() as db:
            db.execute("DELETE FROM chunks WHERE sha256=?", (sha,))  # triggers keep FTS5 in step
            db.execute(
                "INSERT INTO chunks(sha256, n, text, page_start, page_end) VALUES (?,0,'stale garbage',1,1)",
                (sha,),
            )
        assert _add(lib, docs)[0].unchanged == 5 and lib.keyword_search("garbage", ["default"], 5)
        seen: list[object] = []
        result = run_job(lib.reindex_job([chess], "default"), seen.append)
        assert (result.ready, result.added, not result.failed) == (2, 0, True)  # both collections redone
        assert not lib.keyword_search("garbage", ["default", "Games"], 5)
        assert lib.keyword_search("sicilian", ["Games"], 5) and lib.keyword_search("sicilian", ["default"], 5)
        assert {e.path for e in seen if isinstance(e, FileProgress) and e.unit == "pages"} == {chess}
        for col in ("default", "Games"):
            assert lib.vectors.count(col) == lib.store.ready_chunk_count(col)  # no duplicates, none missing
        # A failed file is retried too (its reason is cleared, then recorded again).
        again = run_job(lib.reindex_job([docs / "fake.pdf"], "default"))
        assert [r for _, r, _ in again.failed] == ["not_pdf"]
        assert {Path(f.path).name: f.status for f in lib.files("default")}["chess.pdf"] == "ready"


def test_vectors_of_another_embedder_are_rebuilt_from_stored_passages(data_dir: Path, docs: Path) -> None:
    """An index made by another embedder configuration (model folder, precision) is never mixed in."""
    import numpy as np

    from desktop.services.library import EMBEDDER_KEY

    emb = shared_embedder()
    with _open(data_dir) as lib:
        _add(lib, docs)
        assert lib.store.get_meta(EMBEDDER_KEY) == emb.identity
        sha = next(r.sha256 for r in lib.files("default") if r.status == "ready")
        chunks = lib.store.chunks_of(sha)
        # What another embedder left behind: vectors unlike this one's, under its own identity.
        other = np.full((len(chunks), emb.dim), 1.0 / np.sqrt(emb.dim), dtype=np.float32)
        lib.vectors.upsert("default", [c.id for c in chunks], other, [{"doc": sha} for _ in chunks])
        lib.store.set_meta(EMBEDDER_KEY, "all-MiniLM-L6-v2/0000/fp16/r0")
    with _open(data_dir) as lib:
        assert [n.level for n in lib.notices] == ["info"]
        assert "embedding model changed" in lib.notices[0].message
        assert {r.status for r in lib.files("default") if r.sha256 == sha} == {"queued"}
        assert lib.store.get_meta(EMBEDDER_KEY) == emb.identity
        assert not list(data_dir.glob("vectors.quarantine-*"))  # obsolete, not damaged: not kept
        result, events = _add(lib)  # resume: re-embeds the stored passages, reads no PDF
        assert result.ready == 3 and any(isinstance(e, Notice) for e in events)
        got = lib.vectors.collection("default").get(ids=[c.id for c in chunks], include=["embeddings"])
        stored = dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
        fresh = emb.encode([c.text for c in chunks])
        for c, v in zip(chunks, fresh, strict=True):
            assert float(stored[c.id] @ v) > 0.999
        assert lib.vector_search("sourdough", ["default"], 1)
    with _open(data_dir) as lib:  # same embedder at the next start: nothing to rebuild
        assert lib.notices == []


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_a_full_disk_never_quarantines_a_healthy_index_and_recovery_is_consistent(
    tmp_path: Path, docs: Path
) -> None:
    from desktop.services.chats import ChatStore

    root = tmp_path / "small"
    root.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(root)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with _open(root) as lib:
            _add(lib, docs / "baking.pdf", docs / "tides.pdf")
            assert lib.consistency() == []
        _fill(root / "filler")
        # Reading with the disk full: the index stays where it is, whatever the health check says.
        try:
            with _open(root) as lib:
                try:
                    lib.vector_search("bread", ["default"], 3)
                except StorageError as exc:
                    assert "full" in exc.user_message or "could not read" in exc.user_message
        except StorageError as exc:
            assert "disk holding your library is full" in exc.user_message
        assert not list(root.glob("vectors.quarantine-*")), "a full disk quarantined a healthy index"
        # A chat on a full disk: a clear error, and no empty chats.sqlite left behind.
        with pytest.raises(StorageError, match=r"full|cannot open"):
            ChatStore(root / "chats.sqlite").create_chat("hello")
        assert not (root / "chats.sqlite").exists() or (root / "chats.sqlite").stat().st_size > 0
        (root / "filler").unlink()
        with _open(root) as lib:
            run_job(lib.resume_job())
            assert {f.status for f in lib.files() if Path(f.path).name in ("baking.pdf", "tides.pdf")} == {
                "ready"
            }
            assert lib.consistency() == []
            assert lib.vector_search("bread", ["default"], 1)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_a_missing_index_folder_is_noticed_and_ready_means_vectors_again(tmp_path: Path, docs: Path) -> None:
    root = tmp_path / "lib"
    with _open(root) as lib:
        _add(lib, docs / "baking.pdf")
    shutil.rmtree(root / "vectors")
    with _open(root) as lib:
        assert any("missing from the index" in n.message for n in lib.notices)
        run_job(lib.resume_job())
        assert lib.consistency() == []
        assert lib.vector_search("bread", ["default"], 1)


def test_consistency_names_a_document_whose_vectors_are_missing(tmp_path: Path, docs: Path) -> None:
    root = tmp_path / "lib"
    with _open(root) as lib:
        _add(lib, docs / "baking.pdf")
        (row,) = [f for f in lib.files() if f.status == "ready"]
        lib.vectors.delete_document("default", row.sha256)
        (problem,) = lib.consistency()
        assert "baking.pdf" in problem and "0 vectors" in problem


def test_only_the_newest_quarantined_index_is_kept(tmp_path: Path) -> None:
    from desktop.services.library_vectors import quarantine, quarantined

    path = tmp_path / "vectors"
    for n in range(3):
        path.mkdir()
        (path / "x").write_text(str(n))
        quarantine(path)
    (kept,) = quarantined(path)
    assert (kept / "x").read_text() == "2"


def test_copies_of_an_untitled_pdf_are_each_shown_by_their_own_name(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = ["A lease between a landlord and a tenant, signed in 2021."]
    first = pdfs.normal(docs / "lease-2021.pdf", text, title="")
    shutil.copy(first, docs / "lease-copy-for-bank.pdf")
    root = tmp_path / "lib"
    with _open(root) as lib:
        _add(lib, docs)
        titles = {Path(f.path).name: f.title for f in lib.files()}
        assert titles == {"lease-2021.pdf": "lease-2021", "lease-copy-for-bank.pdf": "lease-copy-for-bank"}
        first.unlink()
        lib.prune()
        assert [f.title for f in lib.files()] == ["lease-copy-for-bank"]

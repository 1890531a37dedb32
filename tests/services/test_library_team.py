"""The team library (services/library_remote.py) against a real `chroma run` on loopback, with the
real embedder: what one person shares another finds, with its citations; re-adding makes no
duplicates; a server that does not answer leaves the user's own library answering, with a notice,
within the timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.core.events import Notice
from desktop.core.jobs import run_job
from desktop.core.policy import parse_server_url
from desktop.services.library import Library
from desktop.services.library_remote import TeamLibrary, TeamUnavailable, server_name, shared_collection
from tests import chroma_server, pdfs
from tests.embedder import shared_embedder

pytestmark = pytest.mark.slow

HARBOUR = "The Zanthor lighthouse was built in 1874 by the engineer Mira Okafor."
GARDEN = "The Quillon garden holds 412 rose bushes planted by Ada Voss."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with chroma_server.running(tmp_path_factory.mktemp("chroma") / "db") as (_, port):
        yield port


def team(port: int, prefix: str, timeout: float = 10.0) -> TeamLibrary:
    return TeamLibrary(
        parse_server_url(f"http://127.0.0.1:{port}"),
        prefix,
        embedder_identity=shared_embedder().identity,
        timeout_s=timeout,
    )


def library(root: Path, port: int, prefix: str) -> Library:
    return Library(root, shared_embedder(), team=team(port, prefix))


def test_server_names_are_valid_chroma_names_and_keep_names_apart() -> None:
    assert server_name("team", "default") == "team-default"
    assert server_name("team", "default", "docs") == "team-default.docs"
    spaced, underscored = server_name("team", "a b"), server_name("team", "a_b")
    assert spaced != underscored and spaced.startswith("team-a_b-")
    assert shared_collection("x") == "team:x" and shared_collection("team:x") == "team:x"


def test_what_one_person_shares_another_finds_with_its_citations(server: int, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {"harbour": [HARBOUR]})
    with library(tmp_path / "alice", server, "t1") as alice:
        result = run_job(alice.add_job([docs], shared_collection("default")))
        assert result.ready == 1 and not result.failed
    own = tmp_path / "own"
    pdfs.corpus(own, {"garden": [GARDEN]})
    with library(tmp_path / "bob", server, "t1") as bob:
        run_job(bob.add_job([own], "default"))
        assert set(bob.collections()) == {"default", "team:default"}
        rows = bob.files("team:default")
        assert [(r.path, r.status) for r in rows] == [("harbour.pdf", "ready")]
        every = bob.collections()
        hits = bob.vector_search("Who built the Zanthor lighthouse?", every, 5)
        records = bob.chunks([h[0] for h in hits])
        assert records[0].title == "harbour" and records[0].path == "harbour.pdf"
        assert records[0].page_start == 1 and "Mira Okafor" in records[0].text
        assert {r.sha256 for r in records} == {rows[0].sha256, bob.files("default")[0].sha256}
        # Keyword search runs on the cache: the shared passage is found by its words.
        assert bob.keyword_search("Zanthor Okafor", every, 5)[0][0] == hits[0][0]
        assert bob.pages(rows[0].sha256)[0].text.startswith("The Zanthor")
        # Bob shares the same file again: the server keeps one copy of each passage.
        run_job(bob.add_job([docs], "team:default"))
        ids = bob.team.ids("default") if bob.team else []
        assert len(ids) == len(set(ids)) == rows[0].chunks


def test_two_people_adding_the_same_file_at_once_make_one_copy(server: int, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {"harbour": [HARBOUR], "garden": [GARDEN]})
    shared_embedder().encode(["warm"])  # both threads then only encode
    libs = [library(tmp_path / name, server, "t2") for name in ("alice", "bob")]
    errors: list[BaseException] = []

    def add(lib: Library) -> None:
        try:
            run_job(lib.add_job([docs], "team:default"))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(lib,)) for lib in libs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    probe = team(server, "t2")
    ids = probe.ids("default")
    assert len(ids) == len(set(ids)) == sum(libs[0].store.chunk_count(r.sha256) for r in libs[0].files())
    assert len(probe.documents("default")) == 2
    probe.close()
    for lib in libs:
        lib.close()


def test_a_silent_server_times_out_and_the_own_library_answers_with_a_notice(tmp_path: Path) -> None:
    """A server that accepts connections and never answers (hung, or SIGSTOPped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    own = tmp_path / "own"
    pdfs.corpus(own, {"garden": [GARDEN]})
    try:
        with Library(tmp_path / "carol", shared_embedder(), team=team(port, "t3", timeout=1.0)) as lib:
            lib.store.ensure_collection("team:default")
            run_job(lib.add_job([own], "default"))
            start = time.monotonic()
            collections = lib.collections()
            hits = lib.vector_search("How many rose bushes?", collections, 5)
            took = time.monotonic() - start
            assert took < 5, took  # one timeout, then the server is known down for this run
            assert [r.title for r in lib.chunks([h[0] for h in hits])] == ["garden"]
            assert lib.keyword_search("Quillon", collections, 5)
            notices = [n for n in lib.take_notices() if isinstance(n, Notice)]
            assert any(
                n.message == f"The team library at 127.0.0.1:{port} did not answer; answered from your own "
                "documents only."
                for n in notices
            ), notices
            with pytest.raises(TeamUnavailable):  # later requests fail at once
                lib.team.check() if lib.team else None
    finally:
        listener.close()


def test_adding_while_the_server_is_down_keeps_the_documents_queued(server: int, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {"harbour": [HARBOUR]})
    dead = chroma_server.free_port()
    with Library(tmp_path / "dave", shared_embedder(), team=team(dead, "t4", timeout=2.0)) as lib:
        with pytest.raises(TeamUnavailable, match="did not answer"):
            run_job(lib.add_job([docs], "team:default"))
        assert [r.status for r in lib.store.files("team:default")] == ["indexing"]
    with library(tmp_path / "dave", server, "t4") as lib:  # the server is back: the add resumes
        result = run_job(lib.resume_job())
        assert result.ready == 1
        assert [r.status for r in lib.files("team:default")] == ["ready"]


def test_no_server_named_changes_nothing(tmp_path: Path) -> None:
    own = tmp_path / "own"
    pdfs.corpus(own, {"garden": [GARDEN]})
    (tmp_path / "erin").mkdir()
    (tmp_path / "erin" / "settings.json").write_text('{"library_server_url": ""}')
    with Library(tmp_path / "erin", shared_embedder()) as lib:
        assert lib.team is None
        run_job(lib.add_job([own], "default"))
        assert lib.collections() == ["default"] and not lib.take_notices()


def test_another_embedder_is_refused_plainly(server: int, tmp_path: Path) -> None:
    first = team(server, "t5")
    first.check()
    first._collection("default")  # made by this embedder
    other = TeamLibrary(
        parse_server_url(f"http://127.0.0.1:{server}"), "t5", embedder_identity="other/1/fp32/r1"
    )
    try:
        with pytest.raises(Exception, match="another embedding model"):
            other.query(["default"], [0.0] * 384, 3)
    finally:
        first.close()
        other.close()


def test_a_library_made_by_another_embedder_is_left_out_with_the_reason(server: int, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    pdfs.corpus(docs, {"harbour": [HARBOUR]})
    with library(tmp_path / "frank", server, "t6") as frank:
        run_job(frank.add_job([docs], "team:default"))
    other = TeamLibrary(
        parse_server_url(f"http://127.0.0.1:{server}"), "t6", embedder_identity="other/1/fp32/r1"
    )
    own = tmp_path / "own"
    pdfs.corpus(own, {"garden": [GARDEN]})
    with Library(tmp_path / "grace", shared_embedder(), team=other) as grace:
        run_job(grace.add_job([own], "default"))
        hits = grace.vector_search("Who built the Zanthor lighthouse?", ["default", "team:default"], 5)
        assert [r.title for r in grace.chunks([h[0] for h in hits])] == ["garden"]
        messages = [n.message for n in grace.take_notices()]
        assert any("another embedding model" in m and "own documents only" in m for m in messages), messages

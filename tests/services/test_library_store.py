"""library.sqlite keyword search: common words are not scored in big libraries, scope filtering is exact."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from desktop.core.types import Chunk, Page
from desktop.services import library_store
from desktop.services.library_store import LibraryStore


def _doc(store: LibraryStore, collection: str, name: str, texts: list[str]) -> str:
    sha = name.encode().hex().ljust(64, "0")
    store.ensure_collection(collection)
    store.upsert_file(collection, f"/docs/{name}.pdf", sha, 1, 1, "ready")
    store.save_text(
        sha,
        name,
        1,
        False,
        [Page(i + 1, t) for i, t in enumerate(texts)],
        [Chunk(sha, i, t, i + 1, i + 1) for i, t in enumerate(texts)],
    )
    return sha


@pytest.fixture
def store(tmp_path: Path) -> LibraryStore:
    s = LibraryStore(tmp_path / "library.sqlite")
    # 100 passages that all say "report"; a tenth also say "harbour"; one says "lighthouse".
    texts = [f"Annual report number {i}." + (" The harbour grew." if i % 10 == 0 else "") for i in range(100)]
    texts[42] += " A lighthouse keeper wrote it."
    _doc(s, "big", "reports", texts)
    yield s
    s.close()


def test_common_words_are_left_out_only_in_big_libraries(
    store: LibraryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.passage_count() == 100
    # Small library (below the threshold): every word is scored.
    assert store.selective_terms(["report", "harbour", "lighthouse"]) == ["report", "harbour", "lighthouse"]
    monkeypatch.setattr(library_store, "COMMON_TERM_MIN_PASSAGES", 0)
    # "reports" stems like "report" (FTS5 counts with its own tokenizer): in every passage, dropped.
    assert store.selective_terms(["reports", "harbour", "lighthouse"]) == ["harbour", "lighthouse"]
    assert store.selective_terms(["report", "annual", "harbour"]) == ["harbour"]
    # Only common words: the rarest one still ranks.
    assert store.selective_terms(["report", "annual"]) in (["report"], ["annual"])
    hits = store.keyword_search("Which annual report mentions the lighthouse?", ["big"], 5)
    assert hits[0][0].endswith(":42")


def test_passage_count_follows_writes(store: LibraryStore) -> None:
    assert store.passage_count() == 100
    _doc(store, "big", "more", ["One more passage about tides."])
    assert store.passage_count() == 101


def test_a_small_collection_beside_a_big_one_still_gets_its_matches(store: LibraryStore) -> None:
    # The big collection has 100 better "report" matches than the small one's single passage:
    # ranking the whole index first must not crowd the small collection out.
    sha = _doc(store, "small", "memo", ["A memo that mentions a report once among many other words here."])
    hits = store.keyword_search("report", ["small"], 5)
    assert [h[0] for h in hits] == [f"{sha}:0"]
    both = store.keyword_search("report", ["small", "big"], 5)
    assert len(both) == 5 and all(s <= t for (_, s), (_, t) in pairwise(both))
    assert store.keyword_search("report", [], 5) == []
    assert store.keyword_search("the of and", ["big"], 5) == []

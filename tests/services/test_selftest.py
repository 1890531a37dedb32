"""`hearth doctor --selftest`: every part checked for real; each failure named with its remedy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.services import selftest
from desktop.services.pdf import extract_pages


def test_the_generated_pdf_is_a_real_pdf(tmp_path: Path) -> None:
    path = tmp_path / "one.pdf"
    path.write_bytes(selftest.minimal_pdf("Parentheses (like these) and a backslash \\ survive."))
    pages = extract_pages(path)
    assert len(pages) == 1
    assert "Parentheses (like these) and a backslash" in pages[0].text


def test_stores_check_names_a_damaged_database(data_dir: Path) -> None:
    (data_dir / "chats.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    results = selftest.run_selftest(selftest.current_settings(), checks=["stores"])
    (stores,) = results
    assert not stores.ok and "chats.sqlite is damaged" in stores.summary
    assert "move" in stores.remedy


def test_stores_check_passes_on_healthy_stores(data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "library.sqlite")
    conn.execute("create table t(x)")
    conn.commit()
    conn.close()
    (stores,) = selftest.run_selftest(selftest.current_settings(), checks=["stores"])
    assert stores.ok, stores
    assert "library.sqlite" in stores.summary


def test_privacy_check_proves_the_guard_without_inflating_the_users_count() -> None:
    from desktop.services import privacy

    user_count = privacy.refused_count()
    (priv,) = selftest.run_selftest(selftest.current_settings(), checks=["privacy"])
    assert priv.ok, priv
    assert "was refused" in priv.summary
    assert privacy.refused_count() == user_count, "the self-test's own probe is not the user's attempt"


def test_a_missing_embedder_fails_with_a_remedy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEARTH_EMBEDDER", str(tmp_path / "nowhere"))
    (emb,) = selftest.run_selftest(selftest.current_settings(), checks=["embedder"])
    assert not emb.ok and emb.remedy


@pytest.mark.slow
def test_doctor_selftest_passes_on_this_machine(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["doctor", "--selftest"]) == 0
    out = capsys.readouterr().out
    for name in selftest.CHECKS:
        assert f"pass  {name}" in out, out
    assert "All checks passed." in out
    assert "tokens/s" in out and "384 dimensions" in out
    saved = selftest.last_results()
    assert saved is not None and all(r.ok for r in saved)


@pytest.mark.slow
def test_doctor_selftest_fails_on_a_dead_engine_and_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTH_FAULT_KERNEL_CRASH", "always")
    assert main(["doctor", "--selftest", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    by_name = {r["name"]: r for r in data["results"]}
    engine = by_name["engine"]
    assert not engine["ok"] and "SIGSEGV" in engine["summary"] and "selftest" in engine["remedy"]
    assert by_name["pdf"]["ok"] and by_name["privacy"]["ok"], "one failure must not stop the others"

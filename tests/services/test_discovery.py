"""Models already on this computer: other apps' folders, read-only, named, cached."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from desktop.services import discovery, gguf_header, models
from tests.services.test_models import write_gguf


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder with models in the places LM Studio, Ollama, GPT4All and ~/Models use."""
    home = tmp_path / "home"
    lms = home / ".lmstudio" / "models" / "bartowski" / "Qwen-GGUF"
    lms.mkdir(parents=True)
    write_gguf(lms / "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf")
    write_gguf(lms / "mmproj-model-f16.gguf")  # a vision projector, not a chat model
    write_gguf(lms / "big-00002-of-00003.gguf")  # a later part of a split model
    ollama = home / ".ollama" / "models"
    (ollama / "blobs").mkdir(parents=True)
    write_gguf(ollama / "blobs" / "sha256-abc123")
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "llama3.2" / "3b"
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:abc123"}
    manifest.write_text(json.dumps({"layers": [layer]}))
    missing = ollama / "manifests" / "registry.ollama.ai" / "library" / "phi3" / "latest"
    missing.parent.mkdir(parents=True)
    missing.write_text(
        json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:gone"}]})
    )
    g4a = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    g4a.mkdir(parents=True)
    write_gguf(g4a / "orca-mini-3b.gguf")
    mine = home / "Models"
    mine.mkdir()
    (mine / "broken.gguf").write_bytes(b"GGUF but not really")
    os.mkfifo(mine / "pipe.gguf")
    return home


def test_finds_models_in_the_peer_apps_folders_and_names_them(home: Path, tmp_path: Path) -> None:
    scan = discovery.scan(discovery.standard_places(home), tmp_path / "cache.json")
    by_name = {f.name: f for f in scan.found}
    assert by_name["Qwen2.5-0.5B-Instruct-Q4_K_M"].app == "LM Studio"
    assert by_name["llama3.2:3b"].app == "Ollama" and by_name["llama3.2:3b"].path.endswith("sha256-abc123")
    assert by_name["orca-mini-3b"].app == "GPT4All"
    assert by_name["broken"].info is None and by_name["broken"].problem
    assert not any("mmproj" in n or "00002-of" in n for n in by_name)
    reasons = dict(scan.skipped)
    assert "blob is missing" in reasons["ollama:phi3:latest"]
    assert any("not a regular file" in r for r in reasons.values()), "the FIFO is skipped, never opened"


def test_a_second_scan_reads_no_header_again(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.json"
    first = discovery.scan(discovery.standard_places(home), cache)
    monkeypatch.setattr(gguf_header, "read_model_info", lambda *a, **k: pytest.fail("header read again"))
    second = discovery.scan(discovery.standard_places(home), cache)
    assert [f.name for f in second.found] == [f.name for f in first.found]
    assert second.found[0].info == first.found[0].info


def test_a_changed_file_is_read_again(home: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    discovery.scan(discovery.standard_places(home), cache)
    target = home / "Models" / "broken.gguf"
    write_gguf(target)  # the user replaced the broken download
    found = {f.name: f for f in discovery.scan(discovery.standard_places(home), cache).found}
    assert found["broken"].info is not None


def test_a_place_on_a_missing_drive_is_skipped_quietly(tmp_path: Path) -> None:
    places = [discovery.Place("Models folder", tmp_path / "unplugged" / "Models")]
    scan = discovery.scan(places, tmp_path / "cache.json")
    assert scan.found == [] and scan.skipped == [] and scan.places == []


def test_models_list_shows_found_models_and_use_makes_one_the_default(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(home / ".lmstudio" / "models"))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "Qwen2.5-0.5B-Instruct-Q4_K_M" in out and "HEARTH_MODEL_DIRS" in out
    assert "1 model(s) found on this computer" in out and "nothing copied" in out
    assert main(["models", "use", "Qwen2.5-0.5B-Instruct-Q4_K_M"]) == 0
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    selected = [e["name"] for e in listed if e["selected"]]
    assert selected == ["Qwen2.5-0.5B-Instruct-Q4_K_M"]
    assert models.resolve_model("Qwen2.5-0.5B-Instruct-Q4_K_M").path.startswith(str(home))


def test_importing_the_same_file_twice_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from desktop.cli import main

    path = write_gguf(tmp_path / "once.gguf")
    assert main(["models", "import", str(path)]) == 0
    assert "Imported once" in capsys.readouterr().out
    assert main(["models", "import", str(path)]) == 0
    assert "Already imported as once." in capsys.readouterr().out


# ----------------------------------------------------------------------------- bad input


def test_an_ollama_model_blob_that_no_manifest_names_is_skipped_with_a_reason(tmp_path: Path) -> None:
    ollama = tmp_path / "home" / ".ollama" / "models"
    (ollama / "blobs").mkdir(parents=True)
    orphan = write_gguf(ollama / "blobs" / "sha256-0rphan", values=300_000)  # over 1 MB, as models are
    (ollama / "blobs" / "sha256-c0nf1g").write_text('{"model_format": "gguf"}')  # a config layer: silent
    places = [discovery.Place("Ollama", ollama, "ollama")]  # and no manifests folder at all
    scan = discovery.scan(places, tmp_path / "cache.json")
    assert scan.found == []
    assert scan.skipped == [
        (str(orphan), "an Ollama model file that no manifest names (no name to show it under)")
    ]


def test_a_link_to_a_drive_that_is_not_there_says_not_available_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.cli import main

    home = tmp_path / "home"
    home.mkdir()
    (home / "Models").symlink_to(tmp_path / "media" / "usb" / "Models")  # the drive is unplugged
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HEARTH_MODEL_DIRS", str(tmp_path / "nas" / "models"))  # a share not mounted
    scan = discovery.scan(None, tmp_path / "cache.json")
    reasons = dict(scan.skipped)
    assert reasons[str(home / "Models")].startswith("not available: it points to ")
    assert reasons[str(tmp_path / "nas" / "models")] == "not available (no such folder)"
    assert len(scan.skipped) == 2 and scan.found == []
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "Not listed:" in out and out.count("not available") == 2


def test_a_drive_that_goes_away_during_the_scan_gives_one_line_not_one_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = tmp_path / "usb" / "Models"
    drive.mkdir(parents=True)
    for n in range(6):
        write_gguf(drive / f"model-{n}.gguf")
    real_info = discovery._Cache.info

    def unplug_after_first(self: discovery._Cache, path: Path) -> object:
        info = real_info(self, path)
        if drive.exists():
            drive.rename(tmp_path / "usb" / "gone")  # the cable is pulled
        return info

    monkeypatch.setattr(discovery._Cache, "info", unplug_after_first)
    scan = discovery.scan([discovery.Place("Models folder", drive)], tmp_path / "cache.json")
    assert [f.name for f in scan.found] == ["model-0"]
    assert scan.skipped == [(str(drive), discovery.NOT_AVAILABLE)]


def test_folders_inside_a_place_that_cannot_be_read_make_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    place = tmp_path / "Models"
    for n in range(4):
        (place / f"sub{n}").mkdir(parents=True)
    write_gguf(place / "ok.gguf")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)).name.startswith("sub"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(discovery.os, "scandir", scandir)
    scan = discovery.scan([discovery.Place("Models folder", place)], tmp_path / "cache.json")
    assert [f.name for f in scan.found] == ["ok"]
    assert scan.skipped == [(str(place), "4 folder(s) inside could not be read (Permission denied)")]

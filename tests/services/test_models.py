"""GGUF inspection, validation of hostile files, the model catalog, and sandboxed chat templates."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

from desktop.core.errors import AppError, ModelFileError, ModelNotFound
from desktop.core.events import Progress
from desktop.core.types import HardwareInfo
from desktop.services import hardware, models

GiB = 1024**3


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    template: str | None = "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    values: int = 64,
    fill: float = 0.0,
) -> Path:
    """A tiny but well-formed GGUF (real writer from the `gguf` package)."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(path.stem)
    w.add_context_length(256)
    w.add_block_count(2)
    w.add_embedding_length(16)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if template is not None:
        w.add_chat_template(template)
    w.add_tensor("token_embd.weight", np.full((values // 16, 16), fill, dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones((16,), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def raw_gguf(
    path: Path,
    *,
    version: int = 3,
    tensor_count: int | None = None,
    kv: list[bytes] | None = None,
    tensors: list[tuple[str, list[int], int, int]] | None = None,
    kv_count: int | None = None,
    tail: bytes = b"",
) -> Path:
    """A hand-built GGUF header, for the lies a writer would not tell."""

    def s(text: str) -> bytes:
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    kv = kv if kv is not None else [s("general.architecture") + struct.pack("<I", 8) + s("llama")]
    tensors = tensors or []
    out = b"GGUF" + struct.pack("<I", version)
    out += struct.pack("<QQ", len(tensors) if tensor_count is None else tensor_count, kv_count or len(kv))
    out += b"".join(kv)
    for name, dims, ttype, offset in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ttype, offset)
    path.write_bytes(out + tail)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny.gguf")


# ----------------------------------------------------------------------------- reading


def test_reads_a_small_gguf_written_by_the_gguf_package(tiny: Path) -> None:
    info = models.read_model_info(tiny)
    assert (info.architecture, info.n_layers, info.n_embd, info.n_head, info.n_head_kv) == (
        "llama",
        2,
        16,
        4,
        2,
    )
    assert info.context_length == 256
    assert info.quantization == "F32"
    assert info.n_params == 64 + 16
    assert info.has_chat_template
    assert info.file_size == tiny.stat().st_size
    assert info.sha256 is None


def test_hash_is_computed_only_when_asked(tiny: Path) -> None:
    import hashlib

    info = models.read_model_info(tiny, with_hash=True)
    assert info.sha256 == hashlib.sha256(tiny.read_bytes()).hexdigest()


@pytest.mark.slow
def test_bundled_model_metadata_is_read_without_loading_it(model_path: Path) -> None:
    t0 = time.perf_counter()
    info = models.read_model_info(model_path)
    elapsed = time.perf_counter() - t0
    assert info.architecture == "llama"
    assert 130e6 < (info.n_params or 0) < 140e6  # SmolLM2-135M
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert (info.n_layers, info.n_embd, info.n_head, info.n_head_kv) == (30, 576, 9, 3)
    assert info.has_chat_template and "<|im_start|>" in (info.chat_template or "")
    assert info.license == "apache-2.0"
    assert elapsed < 2.0  # the header only: the reference reader takes ~1.7 s here, we ~0.2 s
    # Cross-check against the `gguf` package's own reader (memory-mapped, reads everything).
    reader = gguf.GGUFReader(model_path)
    assert len(reader.tensors) == 272
    assert sum(int(t.n_elements) for t in reader.tensors) == info.n_params
    assert models.read_header(model_path).data_offset == reader.data_offset


def test_a_hostile_chat_template_in_a_gguf_is_just_data(tmp_path: Path) -> None:
    payload = "{{ cycler.__init__.__globals__.os.popen('touch " + str(tmp_path / "pwned") + "').read() }}"
    path = write_gguf(tmp_path / "evil.gguf", template=payload)
    info = models.read_model_info(path)
    assert info.chat_template == payload
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- rejecting bad files


def _rejects(path: Path, *phrases: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as err:
        models.validate_model_file(path)
    message = err.value.user_message
    for phrase in phrases:
        assert phrase in message, message
    assert err.value.hint
    return err.value


def test_missing_file(tmp_path: Path) -> None:
    _rejects(tmp_path / "nope.gguf", "There is no file at")


def test_folder(tmp_path: Path) -> None:
    _rejects(tmp_path, "is a folder")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.gguf"
    p.touch()
    _rejects(p, "is empty")


def test_text_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.gguf"
    p.write_text("these are my notes, not a model\n")
    _rejects(p, "a text file")


def test_html_page_saved_instead_of_the_model(tmp_path: Path) -> None:
    p = tmp_path / "model.gguf"
    p.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    _rejects(p, "web page")


def test_wrong_magic(tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    data[:4] = b"GGUX"
    tiny.write_bytes(bytes(data))
    _rejects(tiny, "does not start with 'GGUF'")


def test_old_ggml_format_is_named(tmp_path: Path) -> None:
    p = tmp_path / "old.bin"
    p.write_bytes(b"tjgg" + bytes(100))
    _rejects(p, "old GGML")


def test_truncated_in_the_weights(tmp_path: Path) -> None:
    p = write_gguf(tmp_path / "big.gguf", values=16 * 1024)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _rejects(p, "is incomplete", "its weights need")


def test_truncated_in_the_header(tiny: Path) -> None:
    tiny.write_bytes(tiny.read_bytes()[:100])
    _rejects(tiny, "is incomplete", "ends inside its header")


def test_absurd_tensor_count(tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    data[8:16] = struct.pack("<Q", 2**40)
    tiny.write_bytes(bytes(data))
    _rejects(tiny, "claims 1,099,511,627,776 tensors")


def test_absurd_metadata_count(tmp_path: Path) -> None:
    _rejects(raw_gguf(tmp_path / "kv.gguf", kv_count=2**62, tail=bytes(64)), "metadata entries")


def test_huge_declared_tensor_size(tmp_path: Path) -> None:
    p = raw_gguf(tmp_path / "huge.gguf", tensors=[("w", [2**31, 2**31], 0, 0)], tail=bytes(64))
    _rejects(p, "damaged GGUF header", "declares")


def test_tensor_larger_than_the_file(tmp_path: Path) -> None:
    p = raw_gguf(tmp_path / "huge.gguf", tensors=[("w", [4096], 0, 0)], tail=bytes(1024))  # 16 KB of f32
    _rejects(p, "is incomplete", "its weights need")


def test_huge_string_array_is_rejected_fast(tmp_path: Path) -> None:
    # 10^12 empty strings would keep a naive reader looping for hours.
    arr = struct.pack("<Q", 5) + b"vocab" + struct.pack("<IIQ", 9, 8, 10**12)
    p = raw_gguf(tmp_path / "dos.gguf", kv=[arr], tail=bytes(1024))
    t0 = time.perf_counter()
    _rejects(p, "is incomplete")
    assert time.perf_counter() - t0 < 1.0


def test_unsupported_gguf_version(tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    data[4:8] = struct.pack("<I", 99)
    tiny.write_bytes(bytes(data))
    _rejects(tiny, "GGUF version 99")


def test_gguf_version_1_is_named(tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    data[4:8] = struct.pack("<I", 1)
    tiny.write_bytes(bytes(data))
    _rejects(tiny, "GGUF version 1")


def test_a_file_without_tensors_is_not_a_model(tmp_path: Path) -> None:
    _rejects(raw_gguf(tmp_path / "vocab.gguf"), "holds no weights")


def test_unknown_tensor_type(tmp_path: Path) -> None:
    p = raw_gguf(tmp_path / "t.gguf", tensors=[("w", [16], 999, 0)], tail=bytes(256))
    _rejects(p, "format (type 999)")


def test_model_far_too_big_for_this_machine(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_machine = HardwareInfo(1, 1, 256, 128, "linux", "x86_64")  # 256 bytes of RAM
    monkeypatch.setattr(hardware, "probe_report", lambda **_: hardware.ProbeReport(tiny_machine))
    err = _rejects(tiny, "far too big for this computer")
    assert "smaller model" in err.hint
    # The plan's reason (what it needs, what this machine has) travels in the detail.
    assert "memory in all" in err.detail


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:37],
        lambda b: b[:24] + b"\xff" * 8 + b[32:],
        lambda b: b[:40] + b"\xff" * 8 + b[48:],
        lambda b: b[:-40],
        lambda b: b[:60] + bytes(reversed(b[60:120])) + b[120:],
    ],
)
def test_damaged_headers_never_crash(tiny: Path, mutate: Callable[[bytes], bytes]) -> None:
    tiny.write_bytes(mutate(tiny.read_bytes()))
    try:
        models.validate_model_file(tiny)
    except ModelFileError:
        pass  # a clear error is the expected outcome; anything else fails the test


# ----------------------------------------------------------------------------- catalog


def test_import_list_resolve_remove(tiny: Path) -> None:
    events: list[Progress] = []
    entry = models.import_model(tiny, on_progress=events.append)
    assert entry.source == "imported" and entry.name == "tiny"
    assert entry.info is not None and entry.fit == "fits"
    assert events and events[-1].done == events[-1].total == tiny.stat().st_size
    copied = Path(entry.path)
    assert copied.parent.name == "models" and copied.read_bytes() == tiny.read_bytes()
    assert not list(copied.parent.glob("*.part"))

    names = {e.name: e for e in models.list_models()}
    assert "tiny" in names and names["tiny"].sha256 == entry.sha256

    assert models.resolve_model("tiny").path == str(copied)
    models.remove_model("tiny")
    assert not copied.exists()
    assert "tiny" not in {e.name for e in models.list_models()}
    with pytest.raises(ModelNotFound):
        models.resolve_model("tiny")


def test_same_file_imported_twice_is_recognised(tiny: Path) -> None:
    first = models.import_model(tiny)
    second = models.import_model(tiny)
    assert second.name == first.name and second.path == first.path
    assert len([e for e in models.list_models() if e.source == "imported"]) == 1


def test_name_collisions_get_a_suffix(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_gguf(tmp_path / "a" / "model.gguf", fill=1.0)
    b = write_gguf(tmp_path / "b" / "model.gguf", fill=2.0)
    first, second = models.import_model(a), models.import_model(b)
    assert (first.name, second.name) == ("model", "model-2")
    assert first.path != second.path and first.sha256 != second.sha256


def test_a_bad_file_is_not_imported(tmp_path: Path) -> None:
    p = tmp_path / "bad.gguf"
    p.write_text("hello")
    with pytest.raises(ModelFileError):
        models.import_model(p)
    assert [e for e in models.list_models() if e.source == "imported"] == []


def test_the_bundled_model_cannot_be_removed() -> None:
    with pytest.raises(AppError, match="bundled model cannot be removed"):
        models.remove_model("SmolLM2-135M-Instruct.Q4_1")


def test_removing_an_unknown_model_says_which_exist() -> None:
    with pytest.raises(ModelNotFound) as err:
        models.remove_model("ghost")
    assert "Imported models: none" in err.value.hint


def test_empty_name_resolves_to_the_bundled_model(model_path: Path) -> None:
    info = models.resolve_model("")
    assert info.path == str(model_path) and info.name == "SmolLM2-135M-Instruct.Q4_1"


def test_a_path_resolves_after_validation(tiny: Path, tmp_path: Path) -> None:
    assert models.resolve_model(str(tiny)).n_layers == 2
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"")
    with pytest.raises(ModelFileError):
        models.resolve_model(str(bad))


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ModelNotFound) as err:
        models.resolve_model("llama-70b")
    assert "SmolLM2-135M-Instruct.Q4_1" in err.value.hint


def test_a_damaged_catalog_is_set_aside_not_fatal(tiny: Path) -> None:
    models.import_model(tiny)
    catalog = models._catalog_path()
    catalog.write_text("{not json")
    assert [e.source for e in models.list_models()] == ["bundled"]
    assert catalog.with_suffix(".damaged.json").exists()


def test_an_imported_file_deleted_behind_our_back_is_reported(tiny: Path) -> None:
    entry = models.import_model(tiny)
    Path(entry.path).unlink()
    listed = {e.name: e for e in models.list_models()}
    assert listed["tiny"].info is None and "There is no file" in (listed["tiny"].error or "")
    with pytest.raises(ModelNotFound, match="its file is gone"):
        models.resolve_model("tiny")


# ----------------------------------------------------------------------------- chat templates


HOSTILE_TEMPLATES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ raise_exception.__globals__ }}",
    "{% for m in messages %}{{ m.__class__.__init__.__globals__ }}{% endfor %}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}",
]


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_hostile_chat_templates_do_not_run_code(template: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jinja2.exceptions import SecurityError
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    monkeypatch.chdir(tmp_path)
    formatter = Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>")
    try:
        result = formatter(messages=[{"role": "user", "content": "hi"}])
    except SecurityError:
        pass
    else:
        rendered = result.prompt
        assert "uid=" not in rendered and "<module" not in rendered and "function" not in rendered
        assert "subclasses" not in rendered
    assert not (tmp_path / "PWNED").exists()

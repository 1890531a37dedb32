"""A GGUF file's header, read and checked without loading the model: what the file says it is.

GGUF headers are parsed here with bounds checks on every count and length: the file may come from
anywhere, and llama-cpp-python answers every damaged file with the same "Failed to load model".
We read only the header (metadata and tensor table, a few MB), never the weights, and we skip the
tokenizer arrays rather than materialising them, so a hostile header cannot make us allocate or
loop beyond what the file's own size allows. The `gguf` package supplies the type tables.
`read_model_info` turns a header into a `ModelInfo` (cached per path, size and mtime).
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from desktop.core.errors import ModelFileError
from desktop.core.events import Progress
from desktop.core.types import ModelInfo

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Real models have tens of metadata keys and at most a few thousand tensors (big MoE models);
# these limits are far above that and far below what would make us loop for minutes.
MAX_KV_COUNT = 65_536
MAX_TENSOR_COUNT = 1_000_000
MAX_KEY_LEN = 65_536
MAX_STRING_LEN = 64 * 1024**2  # a chat template or a license text, never more
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ARRAY_NESTING = 2
KEEP_ARRAY_LEN = 1024  # small numeric arrays (per-layer head counts) are kept; vocabularies skipped
COPY_CHUNK = 4 * 1024**2  # hashing reads this much at a time


# GGUF value types → (struct format, size); 8 = string, 9 = array.
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
_STRING, _ARRAY = 8, 9


@dataclass
class GgufHeader:
    """What the header says, as parsed: metadata (arrays summarised), tensor table facts."""

    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    tensor_count: int = 0
    n_params: int = 0
    data_offset: int = 0
    data_end: int = 0  # where the last tensor's data ends: beyond the file size means truncated
    tensor_types: dict[str, int] = field(default_factory=dict)  # ggml type name → bytes
    tensor_dims: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name → ggml dims (ne0 first)


# ----------------------------------------------------------------------------- errors


def _err(path: Path, message: str, hint: str, detail: str = "") -> ModelFileError:
    return ModelFileError(message, hint, detail=detail or str(path))


HINT_REDOWNLOAD = "Download the model again (check the file size against the source) and import it."
HINT_GGUF = "Hearth runs GGUF models (files ending in .gguf), as published for llama.cpp."


class _Truncated(Exception):
    pass


class _Bad(Exception):
    pass


class _Cursor:
    """A bounds-checked reader over a file: every read states how much it may take."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated(f"needs {n} bytes at offset {self.pos}, file has {self.size}")
        data = self.f.read(n)
        if len(data) != n:
            raise _Truncated(f"short read at offset {self.pos}")
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated(f"skip {n} bytes at offset {self.pos}, file has {self.size}")
        self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def remaining(self) -> int:
        return self.size - self.pos

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def string(self, limit: int = MAX_STRING_LEN) -> str:
        n = self.u64()
        if n > limit:
            if n > self.remaining():
                raise _Truncated(f"a string of {n} bytes at offset {self.pos - 8}")
            raise _Bad(f"a string of {n} bytes at offset {self.pos - 8} (limit {limit})")
        return self.take(n).decode("utf-8", "replace")

    def skip_string(self) -> None:
        self.skip(self.u64())

    def value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            fmt, size = _SCALARS[vtype]
            return struct.unpack(fmt, self.take(size))[0]
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            if depth >= MAX_ARRAY_NESTING:
                raise _Bad("arrays nested too deep")
            item_type = self.u32()
            n = self.u64()
            min_size = _SCALARS[item_type][1] if item_type in _SCALARS else 8
            if item_type not in _SCALARS and item_type not in (_STRING, _ARRAY):
                raise _Bad(f"unknown array item type {item_type}")
            if n * min_size > self.remaining():
                raise _Truncated(f"an array of {n} items at offset {self.pos}")
            if item_type in _SCALARS:
                size = _SCALARS[item_type][1]
                if n <= KEEP_ARRAY_LEN:
                    raw = self.take(n * size)
                    return list(struct.unpack(f"<{n}{_SCALARS[item_type][0][1]}", raw))
                self.skip(n * size)
                return _Skipped(n)
            if item_type == _STRING:
                if n <= 16:
                    return [self.string() for _ in range(n)]
                for _ in range(n):
                    self.skip_string()
                return _Skipped(n)
            for _ in range(n):
                self.value(_ARRAY, depth + 1)
            return _Skipped(n)
        raise _Bad(f"unknown value type {vtype}")


@dataclass(frozen=True, slots=True)
class _Skipped:
    """A long array (vocabulary, merges) we stepped over without keeping."""

    length: int


def _sniff(head: bytes) -> str | None:
    """What a non-GGUF file most likely is, to say so in the error."""
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg", b"algg", b"ggml", b"ggmf", b"ggjt"):
        return "an old GGML/GGJT model from before GGUF (2023)"
    if head[:2] == b"PK":
        return "a ZIP archive (a PyTorch checkpoint or a compressed download)"
    if head[:2] == b"\x1f\x8b":
        return "a gzip-compressed file"
    if head[:4] == b"\x89HDF":
        return "an HDF5 (Keras) model"
    if len(head) >= 9 and head[8:9] == b"{":
        n = struct.unpack("<Q", head[:8])[0]
        if 2 <= n < 100 * 1024**2:
            return "a safetensors file (Hugging Face weights, not converted to GGUF)"
    sample = head[:4096]
    if sample and b"\x00" not in sample:
        try:
            text = sample.decode("utf-8")
        except UnicodeDecodeError:
            return None
        low = text.lstrip().lower()
        if low.startswith(("<!doctype html", "<html")):
            return "a web page (HTML), not a model: the download saved the page instead of the file"
        if low.startswith("version https://git-lfs"):
            return "a Git LFS pointer, not the model itself"
        return "a text file, not a model"
    return None


def read_header(path: Path) -> GgufHeader:
    """Parse and check a GGUF header. Raises ModelFileError with a specific message."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    path = Path(path)
    if not path.exists():
        raise _err(path, f"There is no file at {path}.", "Check the path (and that the disk is mounted).")
    if path.is_dir():
        raise _err(path, f"{path} is a folder, not a model file.", "Choose the .gguf file inside it.")
    from desktop.services.files import NotRegularFile, open_regular

    try:
        f = open_regular(path)
        size = os.fstat(f.fileno()).st_size
    except NotRegularFile as exc:
        raise _err(
            path,
            f"{path.name} is {exc.kind}, not a model file.",
            "Import the .gguf file itself.",
            str(exc),
        ) from exc
    except OSError as exc:
        raise _err(
            path, f"Hearth cannot read {path.name}.", "Check the file's permissions.", str(exc)
        ) from exc
    with f:
        if size == 0:
            raise _err(path, f"{path.name} is empty (0 bytes).", HINT_REDOWNLOAD)
        head = f.read(4096)
        f.seek(0)
        if head[:4] != GGUF_MAGIC:
            what = _sniff(head)
            if what is None:
                raise _err(
                    path, f"{path.name} is not a GGUF model (it does not start with 'GGUF').", HINT_GGUF
                )
            raise _err(path, f"{path.name} is {what}.", HINT_GGUF)
        cur = _Cursor(f, size)
        try:
            return _parse(cur, path, GGML_QUANT_SIZES, GGMLQuantizationType)
        except _Truncated as exc:
            raise _err(
                path,
                f"{path.name} is incomplete: the file ends inside its header ({mb(size)}).",
                HINT_REDOWNLOAD,
                str(exc),
            ) from exc
        except _Bad as exc:
            raise _err(
                path, f"{path.name} has a damaged GGUF header: {exc}.", HINT_REDOWNLOAD, str(exc)
            ) from exc
        except (ValueError, KeyError, IndexError, OverflowError, struct.error, MemoryError) as exc:
            raise _err(
                path,
                f"{path.name} has a damaged GGUF header.",
                HINT_REDOWNLOAD,
                f"{type(exc).__name__}: {exc}",
            ) from exc
        except OSError as exc:
            raise _err(path, f"Hearth could not read {path.name}.", "Check the disk.", str(exc)) from exc


def _parse(cur: _Cursor, path: Path, quant_sizes: Any, qtype: Any) -> GgufHeader:
    cur.take(4)
    version = cur.u32()
    if version not in SUPPORTED_VERSIONS:
        if version == 1:
            raise ModelFileError(
                f"{path.name} uses GGUF version 1, which llama.cpp no longer loads.",
                "Convert the original model again with a current llama.cpp, or download a newer GGUF.",
                detail=str(path),
            )
        if (version & 0xFFFF) == 0 and (version >> 16) in SUPPORTED_VERSIONS:
            raise ModelFileError(
                f"{path.name} is a big-endian GGUF, made for another kind of computer.",
                "Download the little-endian version of this model.",
                detail=str(path),
            )
        raise ModelFileError(
            f"{path.name} uses GGUF version {version}, which this Hearth does not know.",
            "Update Hearth, or use a GGUF file of version 2 or 3.",
            detail=str(path),
        )
    tensor_count = cur.u64()
    kv_count = cur.u64()
    # Counts far beyond any real model are lies; smaller ones the file cannot hold mean it was cut
    # off (each metadata entry takes at least 13 bytes, each tensor entry at least 24).
    if kv_count > MAX_KV_COUNT:
        raise ModelFileError(
            f"{path.name} claims {kv_count:,} metadata entries, which cannot be right.",
            HINT_REDOWNLOAD,
            detail=f"kv_count={kv_count} file_size={cur.size}",
        )
    if tensor_count > MAX_TENSOR_COUNT:
        raise ModelFileError(
            f"{path.name} claims {tensor_count:,} tensors, which cannot be right.",
            HINT_REDOWNLOAD,
            detail=f"tensor_count={tensor_count} file_size={cur.size}",
        )
    if kv_count * 13 + tensor_count * 24 > cur.remaining():
        raise _Truncated(f"{kv_count} metadata entries and {tensor_count} tensors in {cur.remaining()} bytes")
    header = GgufHeader(version=version, tensor_count=tensor_count)
    for _ in range(kv_count):
        key = cur.string(MAX_KEY_LEN)
        value = cur.value(cur.u32())
        if isinstance(value, _Skipped):
            header.array_lengths[key] = value.length
        else:
            if isinstance(value, list):
                header.array_lengths[key] = len(value)
            header.metadata[key] = value

    alignment = header.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Bad(f"invalid alignment {alignment!r}")

    if tensor_count == 0:
        raise ModelFileError(
            f"{path.name} holds no weights (0 tensors): it is a vocabulary or adapter file, not a model.",
            HINT_GGUF,
            detail=str(path),
        )
    tensors: list[tuple[int, int, int]] = []  # (offset, n_elements, ggml type)
    for _ in range(tensor_count):
        name = cur.string(MAX_KEY_LEN)
        n_dims = cur.u32()
        if n_dims == 0 or n_dims > MAX_DIMS:
            raise _Bad(f"tensor {name[:60]!r} has {n_dims} dimensions")
        n_elements = 1
        dims: list[int] = []
        for _ in range(n_dims):
            dim = cur.u64()
            dims.append(dim)
            n_elements *= dim
        if n_elements > cur.size * 64:  # even 1-bit weights cannot pack more than this per byte
            raise _Bad(f"tensor {name[:60]!r} declares {n_elements:,} values")
        ttype = cur.u32()
        offset = cur.u64()
        tensors.append((offset, n_elements, ttype))
        header.tensor_dims[name] = tuple(dims)

    pad = cur.pos % alignment
    header.data_offset = cur.pos + (alignment - pad if pad else 0)
    data_end = header.data_offset
    for offset, n_elements, ttype in tensors:
        if ttype not in quant_sizes:
            raise ModelFileError(
                f"{path.name} stores weights in a format (type {ttype}) this Hearth does not know.",
                "Update Hearth, or choose a more common quantization such as Q4_K_M.",
                detail=f"ggml type {ttype}",
            )
        block, type_size = quant_sizes[ttype]
        nbytes = n_elements // block * type_size
        data_end = max(data_end, header.data_offset + offset + nbytes)
        header.n_params += n_elements
        tname = qtype(ttype).name
        header.tensor_types[tname] = header.tensor_types.get(tname, 0) + nbytes
    header.data_end = data_end
    if data_end > cur.size:
        raise ModelFileError(
            f"{path.name} is incomplete: it is {mb(cur.size)} but its weights need {mb(data_end)}.",
            "The download or copy was cut off. " + HINT_REDOWNLOAD,
            detail=f"data_end={data_end} file_size={cur.size}",
        )
    return header


def mb(n: int) -> str:
    return f"{n / 1024**3:.2f} GB" if n >= 1024**3 else f"{n / 1024**2:.1f} MB"


def _quant_name(header: GgufHeader) -> str:
    from gguf.constants import LlamaFileType

    ftype = header.metadata.get("general.file_type")
    if isinstance(ftype, int):
        try:
            name = LlamaFileType(ftype).name
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if header.tensor_types:  # no declared file type: the type holding most of the bytes
        return max(header.tensor_types.items(), key=lambda kv: kv[1])[0]
    return "unknown"


def _int_meta(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    if isinstance(value, list):  # per-layer values (some architectures): the largest counts
        value = max((v for v in value if isinstance(v, int | float)), default=0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


_info_cache: dict[tuple[str, int, int], ModelInfo] = {}
_info_lock = threading.Lock()


def read_model_info(path: str | Path, *, with_hash: bool = False, name: str | None = None) -> ModelInfo:
    """What a GGUF says about itself, read from its header without loading the model."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
        key: tuple[str, int, int] | None = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    info = _info_cache.get(key) if key else None
    if info is None:
        info = _read_info(path)
        if key:
            with _info_lock:
                _info_cache[key] = info
    if name:
        info = replace(info, name=name)
    if with_hash and info.sha256 is None:
        info = replace(info, sha256=file_sha256(path))
        if key:
            with _info_lock:
                _info_cache[key] = replace(info, name=default_name(path))
    return info


def default_name(path: Path) -> str:
    return path.name.removesuffix(".gguf")


def _read_info(path: Path) -> ModelInfo:
    header = read_header(path)
    meta = header.metadata
    arch = str(meta.get("general.architecture") or "unknown")
    template = meta.get("tokenizer.chat_template")
    if not isinstance(template, str):
        template = None
    lic = meta.get("general.license")
    return ModelInfo(
        path=str(path),
        name=default_name(path),
        architecture=arch,
        file_size=path.stat().st_size,
        n_params=header.n_params or None,
        quantization=_quant_name(header),
        context_length=_int_meta(meta, f"{arch}.context_length"),
        n_layers=_int_meta(meta, f"{arch}.block_count"),
        n_embd=_int_meta(meta, f"{arch}.embedding_length"),
        n_head=_int_meta(meta, f"{arch}.attention.head_count"),
        n_head_kv=_int_meta(meta, f"{arch}.attention.head_count_kv")
        or _int_meta(meta, f"{arch}.attention.head_count"),
        chat_template=template,
        license=lic if isinstance(lic, str) else None,
    )


def file_sha256(path: str | Path, on_progress: Callable[[Progress], None] | None = None) -> str:
    """The file's sha256, streamed (never the whole file in memory), with progress in bytes."""
    from desktop.services.files import sha256_file

    name = Path(path).name
    on_read = (lambda d, t: on_progress(Progress(d, t, f"checking {name}", "bytes"))) if on_progress else None
    return sha256_file(path, on_read, COPY_CHUNK)

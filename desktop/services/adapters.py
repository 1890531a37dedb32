"""LoRA adapters (GGUF) on a base model: what an adapter file is, and whether it fits a base.

A LoRA adapter is a small GGUF (`general.type = "adapter"`, `adapter.type = "lora"`) holding, for
some of the base model's weight matrices W, two thin matrices A and B: the model then computes
with W + scale · (alpha / rank) · B·A. It is made for one base: the same architecture and the same
matrix shapes. llama.cpp checks both when it applies one and, on a mismatch, only says that it
failed; here the check runs on the two headers first, and a mismatch is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop.core.errors import ModelFileError

_HINT_BASE = "Choose the base model the adapter was trained on (its model card names it), or another adapter."


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    path: str
    name: str
    architecture: str
    rank: int
    alpha: float
    targets: tuple[str, ...]  # the base tensors it changes ("blk.0.attn_q.weight", …)
    base_name: str = ""  # the base model's name, when the adapter's header gives it
    shapes: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()  # per target: A's and B's dims


def is_adapter(metadata: dict[str, object]) -> bool:
    return metadata.get("general.type") == "adapter"


def read_adapter(path: str | Path) -> AdapterInfo:
    """What a LoRA adapter GGUF says about itself; ModelFileError if the file is not one."""
    from desktop.services.gguf_header import default_name, read_header

    path = Path(path).expanduser()
    header = read_header(path)
    meta = header.metadata
    if not is_adapter(meta):
        raise ModelFileError(
            f"{path.name} is a model, not a LoRA adapter.",
            "An adapter is a small GGUF made for one base model; choose the model itself as the model.",
            detail=str(path),
        )
    if meta.get("adapter.type") != "lora":
        raise ModelFileError(
            f"{path.name} is a {meta.get('adapter.type')!r} adapter; Hearth applies LoRA adapters only.",
            _HINT_BASE,
            detail=str(path),
        )
    dims = header.tensor_dims
    pairs = {n.removesuffix(".lora_a") for n in dims if n.endswith(".lora_a")}
    if not pairs or any(f"{t}.lora_b" not in dims or len(dims[f"{t}.lora_a"]) < 2 for t in pairs):
        raise ModelFileError(
            f"{path.name} is a damaged LoRA adapter (its A and B matrices do not pair up).",
            "Download the adapter again.",
            detail=str(path),
        )
    first = sorted(pairs)[0]
    alpha = meta.get("adapter.lora.alpha")
    return AdapterInfo(
        path=str(path),
        name=default_name(path),
        architecture=str(meta.get("general.architecture") or "unknown"),
        rank=int(dims[f"{first}.lora_a"][1]),
        alpha=float(alpha) if isinstance(alpha, int | float) and not isinstance(alpha, bool) else 0.0,
        targets=tuple(sorted(pairs)),
        base_name=str(meta.get("general.base_model.0.name") or ""),
        shapes=tuple((dims[f"{t}.lora_a"], dims[f"{t}.lora_b"]) for t in sorted(pairs)),
    )


def check_adapter(base_path: str | Path, adapter_path: str | Path) -> AdapterInfo:
    """The adapter, if it was made for this base; otherwise ModelFileError saying why not."""
    from desktop.services.gguf_header import read_header

    adapter = read_adapter(adapter_path)
    base_path = Path(base_path).expanduser()
    base = read_header(base_path)
    base_arch = str(base.metadata.get("general.architecture") or "unknown")
    a, b = Path(adapter.path).name, base_path.name
    if adapter.architecture != base_arch:
        raise ModelFileError(
            f"{a} is an adapter for {adapter.architecture!r} models, and {b} is a {base_arch!r} model: "
            "it was made for another base.",
            _HINT_BASE,
            detail=f"adapter architecture {adapter.architecture}; base architecture {base_arch}",
        )
    for target, (lora_a, lora_b) in zip(adapter.targets, adapter.shapes, strict=True):
        dims = base.tensor_dims.get(target)
        if dims is None:
            raise ModelFileError(
                f"{a} changes a weight ({target}) that {b} does not have: it was made for another base.",
                _HINT_BASE,
                detail=f"missing tensor {target}",
            )
        # llama.cpp's own rule: A reads the weight's input width, B writes its output width.
        if len(dims) < 2 or len(lora_b) < 2 or (lora_a[0], lora_b[1], lora_a[1]) != (*dims[:2], lora_b[0]):
            raise ModelFileError(
                f"{a} was made for a model of another size than {b} ({target}: the adapter expects "
                f"{lora_a[0]}×{lora_b[-1]}, the model has {'×'.join(map(str, dims))}).",
                _HINT_BASE,
                detail=f"{target} base {dims}, lora_a {lora_a}, lora_b {lora_b}",
            )
    return adapter

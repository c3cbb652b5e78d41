"""How big a model is: bytes a device would ship, and parameters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def size_on_disk(path: str | os.PathLike) -> int:
    """Bytes of a file, or of every file under a folder (recursively; links are not followed)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"cannot measure {path}: it does not exist (save or export the model first)")
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def param_count(model: Any, trainable_only: bool = False) -> int:
    """Number of parameters of a torch module; tied/shared parameters are counted once."""
    if not hasattr(model, "parameters"):
        raise TypeError(f"param_count needs a torch.nn.Module, got {type(model).__name__}")
    # Module.parameters() already yields each Parameter object once; also dedupe by storage, so
    # two Parameter objects viewing the same memory (manually tied weights) count once too
    seen: set[tuple[int, int]] = set()
    total = 0
    for p in model.parameters():
        if trainable_only and not p.requires_grad:
            continue
        key = (p.untyped_storage().data_ptr(), p.storage_offset()) if p.device.type != "meta" else (id(p), 0)
        if key in seen:
            continue
        seen.add(key)
        total += p.numel()
    return total


def human_bytes(n: int) -> str:
    """Bytes in decimal units (1 MB = 10**6 bytes, as file sizes are usually quoted): '21.9 MB'."""
    if n < 0:
        raise ValueError(f"a size cannot be negative, got {n}")
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"

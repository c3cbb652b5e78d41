"""FLOPs of a forward pass as PyTorch counts them, with fused attention counted too.

`torch.utils.flop_counter.FlopCounterMode` has formulas for matrix products, convolutions and the
CUDA attention kernels, but none for the CPU flash kernel that `scaled_dot_product_attention` runs
on a CPU (torch 2.13): every ViT or BERT using SDPA would be counted without its attention. The
counter here adds that formula (the same one PyTorch uses for its CUDA kernels), so a model counts
the same whether it runs fused or eager attention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

_aten = torch.ops.aten
# CPU kernels of SDPA with no formula in torch's registry (checked at import: absent ops are skipped)
_CPU_ATTENTION = [name for name in ("_scaled_dot_product_flash_attention_for_cpu",)
                  if hasattr(_aten, name)]


@dataclass(frozen=True)
class FlopCount:
    """Total FLOPs of one forward pass and their split by operator (e.g. 'mm', 'bmm', 'attention')."""

    total: int
    by_op: Mapping[str, int]

    @property
    def gflops(self) -> float:
        """The total in GFLOP."""
        return self.total / 1e9

    def share(self, *ops: str) -> float:
        """The fraction of the total spent in the named operators."""
        return sum(self.by_op.get(op, 0) for op in ops) / self.total if self.total else 0.0


def _cpu_sdpa_flops(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any) -> int:
    """The two matrix products of attention, as torch counts its CUDA SDPA kernels."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _op_name(op: Any) -> str:
    """A short name for an aten operator: 'mm', 'bmm', 'convolution', or 'attention' for SDPA kernels."""
    name = str(op).split(".")[-1] if "." in str(op) else str(op)
    name = name.removeprefix("aten::")
    return "attention" if "scaled_dot_product" in name or name.endswith("attention_forward") else name


def count_flops(model: torch.nn.Module, *args: Any, **kwargs: Any) -> FlopCount:
    """FLOPs of `model(*args, **kwargs)` under inference_mode, fused CPU attention included."""
    if not callable(model):
        raise TypeError(f"model must be a callable torch module, got {type(model).__name__}")
    mapping = {getattr(_aten, name): _cpu_sdpa_flops for name in _CPU_ATTENTION}
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        model(*args, **kwargs)
    by_op: dict[str, int] = {}
    for op, flops in counter.get_flop_counts()["Global"].items():
        key = _op_name(op)
        by_op[key] = by_op.get(key, 0) + int(flops)
    return FlopCount(total=int(counter.get_total_flops()), by_op=by_op)

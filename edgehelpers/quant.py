"""The book's quantization recipes for ONNX models, and a fake quantizer that matches one of them.

- `int8_dynamic`: ONNX Runtime dynamic INT8 with per-channel weights: the recipe later chapters reuse.
- `int8_static`: ONNX Runtime static QDQ INT8 calibrated on sample inputs (chapter 2's recipe, reused
  by the vision chapter).
- `weight_only`: ONNX Runtime's block-wise n-bit weight-only MatMulNBits (2, 4 or 8 bits).
- `fake_quantize_blockwise` / `BlockwiseFakeQuant`: the exact grid of `weight_only(symmetric)`, in
  PyTorch and differentiable (straight-through), for quantization-aware training.
- `smoothing_scales` / `SmoothedLinear`: SmoothQuant's migration of activation outliers into the
  weights (Xiao et al., 2023), so a per-tensor activation scale fits the smoothed input better.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from edgehelpers.cache import atomic_path
from edgehelpers.quiet import loggers_below_error


def has_standard_attention(path: str | Path) -> bool:
    """Whether the ONNX graph holds ONNX's own `Attention` operator (opset 23+), not ORT's contrib one."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return any(n.op_type == "Attention" and n.domain in ("", "ai.onnx") for n in graph.node)


def int8_dynamic(src: str | Path, dst: str | Path, *, per_channel: bool = True,
                 exclude_nodes: Iterable[str] = ()) -> Path:
    """Dynamic INT8 (int8 weights, uint8 activations scaled at run time) of every MatMul/Gather.

    A standard ONNX `Attention` node stays FP32: ORT's quantizer (1.32) takes it for its own contrib
    `Attention` and writes a `QAttention` that fails to load.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    only = {"op_types_to_quantize": ["MatMul", "Gather"]} if has_standard_attention(src) else {}
    with atomic_path(dst) as tmp, loggers_below_error(""):
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=per_channel,
                         nodes_to_exclude=list(exclude_nodes), **only)
    return dst



def int8_static(src: str | Path, dst: str | Path, calibration: Iterable[Mapping[str, Any]], *,
                per_channel: bool = True, method: str = "MinMax", op_types: Iterable[str] = ("MatMul", "Gemm", "Conv"),
                exclude_nodes: Iterable[str] = ()) -> Path:
    """Static QDQ INT8 (int8 weights, uint8 activations with ranges calibrated on `calibration` feeds)."""
    import contextlib
    import io

    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    feeds = [{k: np.asarray(v) for k, v in feed.items()} for feed in calibration]
    if not feeds:
        raise ValueError("static INT8 needs calibration inputs: pass a list of {input name: array} feeds")
    methods = {m.name: m for m in CalibrationMethod}
    if method not in methods:
        raise ValueError(f"unknown calibration method {method!r}; choose from {sorted(methods)}")

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.it, None)

    dst = Path(dst)
    with atomic_path(dst) as tmp, loggers_below_error(""), contextlib.redirect_stdout(io.StringIO()):
        pre = tmp.with_name(tmp.name + ".pre.onnx")  # shape-inferred copy: the quantizer needs the shapes
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(tmp), Feeds(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=methods[method], op_types_to_quantize=list(op_types),
                            nodes_to_exclude=list(exclude_nodes))
        finally:
            pre.unlink(missing_ok=True)
    return dst

def weight_only(src: str | Path, dst: str | Path, *, bits: int = 4, block_size: int = 32,
                nodes: Iterable[str] | None = None, accuracy_level: int = 4,
                embedding_bits: int | None = None) -> Path:
    """Symmetric block-wise `bits`-bit weights for the MatMuls in `nodes` (all when None).

    accuracy_level=4 lets the kernel quantize activations to int8 and use integer dot products;
    embedding_bits also stores the embedding tables (Gather) block-wise, else they stay FP32.
    """
    import onnx

    if bits not in (2, 4, 8):
        raise ValueError(f"bits must be 2, 4 or 8 (what MatMulNBits stores), not {bits}")
    if embedding_bits not in (None, 4):
        raise ValueError(f"embedding_bits must be 4 or None: ONNX Runtime's GatherBlockQuantized stores "
                         f"only 4-bit blocks, not {embedding_bits}")
    model = onnx.load(str(src))
    if embedding_bits is not None:
        model = _nbits(model, bits=embedding_bits, block_size=block_size, accuracy_level=accuracy_level,
                       op_types_to_quantize=("Gather",), quant_axes=(("Gather", 1),))
    # MatMulNBitsQuantizer's nodes_to_include *adds* to its op types, so restrict by excluding the rest
    keep = None if nodes is None else set(nodes)
    others = [] if keep is None else [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name not in keep]
    model = _nbits(model, bits=bits, block_size=block_size, accuracy_level=accuracy_level, nodes_to_exclude=others)
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        onnx.save(model, str(tmp))
    return dst


def _nbits(model: Any, **kwargs: Any) -> Any:
    """One MatMulNBitsQuantizer pass over an in-memory ModelProto."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    with loggers_below_error("onnxruntime.quantization.matmul_nbits_quantizer"):
        quantizer = MatMulNBitsQuantizer(model, is_symmetric=True, **kwargs)
        quantizer.process()
    return quantizer.model.model


def fake_quantize_blockwise(weight: torch.Tensor, bits: int, block_size: int) -> torch.Tensor:
    """`weight` (out, in) rounded to MatMulNBits' symmetric grid in blocks along `in`; straight-through.

    Per block, the weight of largest magnitude maps to -2^(bits-1); the others round to the nearest step.
    """
    out_features, in_features = weight.shape
    pad = (-in_features) % block_size
    w = F.pad(weight, (0, pad)).reshape(out_features, -1, block_size)
    extreme = w.gather(-1, w.abs().argmax(dim=-1, keepdim=True))  # signed value of largest |w|
    half = 2 ** (bits - 1)
    scale = extreme / -half
    scale = scale.masked_fill(scale == 0, 1.0)  # an all-zero block stays zero
    q = (w / scale).round().clamp(-half, half - 1)
    dequantized = (q * scale).reshape(out_features, -1)[:, :in_features]
    return weight + (dequantized - weight).detach()  # forward: quantized; backward: identity


class BlockwiseFakeQuant(torch.nn.Module):
    """A torch parametrization: register it on a Linear's weight to train through the quantizer."""

    def __init__(self, bits: int, block_size: int) -> None:
        super().__init__()
        self.bits, self.block_size = bits, block_size

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quantize_blockwise(weight, self.bits, self.block_size)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, block_size={self.block_size}"


def smoothing_scales(act_absmax: torch.Tensor, weight: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """SmoothQuant's per-input-channel scales s_j = max|X_j|^alpha / max|W_:,j|^(1 - alpha).

    Dividing the input by s and multiplying the weight columns by s leaves X W^T unchanged, and
    moves the outliers of the input's channels (the hard part for INT8) into the weights.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha is the migration strength, between 0 (none) and 1 (all), got {alpha}")
    if weight.ndim != 2 or act_absmax.shape != (weight.shape[1],):
        raise ValueError(f"need one activation max per input channel: weight {tuple(weight.shape)} takes "
                         f"{weight.shape[-1]} inputs, got act_absmax of shape {tuple(act_absmax.shape)}")
    w_max = weight.detach().abs().amax(dim=0).clamp_min(1e-5)
    a_max = act_absmax.detach().float().clamp_min(1e-5)
    return (a_max.pow(alpha) / w_max.pow(1.0 - alpha)).clamp_min(1e-5)


class SmoothedLinear(torch.nn.Module):
    """A Linear whose input is divided by `scales` and whose weight columns are multiplied by them.

    Mathematically the same layer; exported to ONNX it becomes a Mul before the MatMul, so a static
    quantizer sees (and calibrates) the smoothed input.
    """

    def __init__(self, linear: torch.nn.Linear, scales: torch.Tensor) -> None:
        super().__init__()
        if scales.shape != (linear.in_features,):
            raise ValueError(f"need {linear.in_features} scales (one per input channel), got {tuple(scales.shape)}")
        self.linear = torch.nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(linear.weight * scales)
            if linear.bias is not None:
                self.linear.bias.copy_(linear.bias)
        self.register_buffer("inv_scales", 1.0 / scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inv_scales)

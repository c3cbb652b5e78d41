"""Where a forward pass spends its time, by kind of operator (torch.profiler, CPU self time).

FLOPs say how much arithmetic a model does; the profile says where the milliseconds go. Operators
are grouped into the kinds that behave differently on a CPU: dense matrix products and
convolutions (compute-bound, near the GEMM peak), depthwise convolutions, normalisation, elementwise
activations and data movement (few FLOPs per byte they read and write, so likely memory-bound; the
profile measures their time, not the bytes), and views and allocations (no bytes copied: their self
time is per-call overhead). Each operator's *self* time is used, so a wrapper (aten::linear) and its
kernel (aten::addmm) are not counted twice, and a reshape that has to copy shows its copy as data
movement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

CATEGORIES = ("matmul", "attention", "dense conv", "depthwise conv", "norm", "elementwise",
              "data movement", "views, allocation", "other")
_MATMUL = ("addmm", "mm", "bmm", "baddbmm", "matmul", "linear", "einsum")
_CONV = ("convolution", "conv2d", "conv1d", "_slow_conv2d_forward", "mkldnn_convolution", "thnn_conv",
         "_convolution", "conv_depthwise2d", "_nnpack_spatial_convolution")
_NORM = ("layer_norm", "batch_norm", "group_norm", "native_layer_norm", "native_batch_norm", "rms_norm",
         "_native_batch_norm_legit", "_native_batch_norm_legit_no_training", "instance_norm")
_ELEMENTWISE = ("add", "add_", "mul", "mul_", "div", "div_", "sub", "rsub", "gelu", "silu", "silu_",
                "relu", "relu_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "sigmoid",
                "tanh", "softmax", "_softmax", "clamp", "clamp_", "exp", "pow", "sqrt", "rsqrt", "neg",
                "mean", "sum", "amax", "max", "erf", "where", "masked_fill", "hardtanh", "hardtanh_",
                "leaky_relu", "abs", "reciprocal", "adaptive_avg_pool2d", "avg_pool2d", "mean.dim",
                "_adaptive_avg_pool2d", "max_pool2d", "max_pool2d_with_indices", "ceil", "floor")
_MOVEMENT = ("copy_", "cat", "clone", "contiguous", "constant_pad_nd", "pad", "im2col", "col2im",
             "unfold", "index", "index_select", "gather", "roll", "flip", "stack", "repeat", "fill_", "zero_",
             "_to_copy", "pixel_shuffle", "upsample_bilinear2d", "upsample_nearest2d", "tile")  # bytes copied
_VIEWS = ("_unsafe_view", "reshape", "permute", "transpose", "view", "as_strided", "expand", "empty",
          "empty_like", "zeros", "split", "chunk", "narrow", "slice", "select", "unsqueeze", "squeeze",
          "flatten", "t", "to", "_reshape_alias", "resize_", "unbind", "alias", "detach", "new_empty",
          "empty_strided")  # metadata only (or a fresh buffer): a copy they need runs as its own operator


def op_category(name: str, input_shapes: Sequence[Any] = ()) -> str:
    """The kind of an aten operator (one of CATEGORIES); a convolution with one input channel per group is depthwise."""
    op = name.split("::")[-1]
    if "scaled_dot_product" in op or "flash_attention" in op or "efficient_attention" in op:
        return "attention"
    if op in _MATMUL:
        return "matmul"
    if op in _CONV:
        weight = input_shapes[1] if len(input_shapes) > 1 else None
        # a depthwise kernel's weight is (channels, 1, kh, kw): one input channel per output channel
        if weight is not None and len(weight) == 4 and weight[1] == 1 and weight[0] > 1:
            return "depthwise conv"
        return "dense conv"
    if op in _NORM:
        return "norm"
    if op in _ELEMENTWISE:
        return "elementwise"
    if op in _MOVEMENT:
        return "data movement"
    if op in _VIEWS:
        return "views, allocation"
    return "other"


@dataclass(frozen=True)
class OpProfile:
    """Milliseconds per forward pass, by operator kind, and the slowest operators."""

    ms: dict[str, float]
    top: list[tuple[str, str, float]] = field(default_factory=list)  # (operator, kind, ms)

    @property
    def total_ms(self) -> float:
        """The profiled self time of one forward pass."""
        return sum(self.ms.values())

    def share(self, *kinds: str) -> float:
        """The fraction of the time spent in the named kinds."""
        unknown = set(kinds) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {CATEGORIES}")
        return sum(self.ms.get(k, 0.0) for k in kinds) / self.total_ms if self.total_ms else 0.0


def op_profile(model: torch.nn.Module, *inputs: Any, runs: int = 5, warmup: int = 2,
               threads: int | None = 1, top: int = 8) -> OpProfile:
    """Profile `runs` forward passes of `model(*inputs)` and group operator self time by kind."""
    from torch.profiler import ProfilerActivity, profile

    from edgehelpers.quiet import native_stderr as quiet_native_stderr
    from edgehelpers.timing import threads as use_threads

    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    with use_threads(threads or torch.get_num_threads()), torch.inference_mode():
        for _ in range(warmup):
            model(*inputs)
        with quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(runs):
                model(*inputs)
    ms = dict.fromkeys(CATEGORIES, 0.0)
    ops: list[tuple[str, str, float]] = []
    for event in prof.key_averages(group_by_input_shape=True):
        if not event.key.startswith("aten::"):
            continue
        kind = op_category(event.key, event.input_shapes or ())
        t = event.self_cpu_time_total / 1e3 / runs
        ms[kind] += t
        ops.append((event.key, kind, t))
    ops.sort(key=lambda o: -o[2])
    return OpProfile(ms=ms, top=ops[:top])

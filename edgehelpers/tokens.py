"""Fewer tokens at inference: Token Merging and EViT for timm Vision Transformers, no retraining.

A ViT's cost grows with its token count (linearly in the MLPs, quadratically in attention), and
neighbouring patches of an image often say the same thing. Two training-free ways to drop them:

- `"tome"`: Token Merging (Bolya et al., ICLR 2023). Split the patch tokens alternately into sets
  A and B, match every A token to its most similar B token (cosine of the attention keys, averaged
  over heads), and merge the most similar pairs as size-weighted averages.
- `"evit"`: EViT (Liang et al., ICLR 2022). Keep the patch tokens the CLS token attends to most,
  in their original order, and fuse the rest into one token, their attention-weighted average.

`reduce_tokens` returns a copy of the model whose blocks reduce after attention and before the
MLP (as both papers do: the MLP of the same block already runs on fewer tokens). Every block tracks
how many patches each token stands for ("size") and adds log(size) to the attention logits of its
keys (ToMe's proportional attention), so a merged token draws the attention its patches would
have. Prefix tokens (CLS, DeiT's distillation token, registers) are never merged or dropped.
`token_counts` counts the tokens leaving each block. `bipartite_merge` and `keep_top_attended` are
the two reductions on plain tensors: x (batch, n, dim), sizes (batch, n, 1).
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor
METHODS = ("tome", "evit")


def _kept(n: int, keep: float) -> int:
    """How many of n tokens a fraction `keep` keeps: rounded half up, at least 1."""
    return max(1, min(n, math.floor(keep * n + 0.5)))


def _check_prefix(x: Tensor, sizes: Tensor, prefix: int) -> None:
    """Raise a ValueError naming the fix when x, sizes and prefix do not fit together."""
    if x.dim() != 3 or tuple(sizes.shape) != (*x.shape[:2], 1):
        raise ValueError(f"x must be (batch, n, dim) and sizes (batch, n, 1); got {tuple(x.shape)} and "
                         f"{tuple(sizes.shape)}: start with sizes = x.new_ones(b, n, 1)")
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not 0 <= prefix <= x.shape[1]:
        raise ValueError(f"prefix must be a whole number from 0 to n = {x.shape[1]}, got {prefix!r}")


def bipartite_merge(x: Tensor, sizes: Tensor, metric: Tensor, r: int,
                    prefix: int = 0) -> tuple[Tensor, Tensor]:
    """ToMe's bipartite soft matching: merge r tokens; returns x and sizes with n - r tokens.

    The first `prefix` tokens pass through. Of the others, the even ones (A) are each matched to
    their most cosine-similar odd one (B, by `metric`, (batch, n, d)); the r best-matched A tokens
    are merged into their match as size-weighted averages, so sum(size * x) and sum(size) are
    conserved. Only A tokens merge, so r is capped at |A| (and at 0 when B is empty): one block
    can at most about halve the tokens. Output order: prefix, unmerged A (in order), B.
    """
    _check_prefix(x, sizes, prefix)
    if metric.shape[:2] != x.shape[:2]:
        raise ValueError(f"metric must be (batch, n, d) for the same tokens as x {tuple(x.shape[:2])}, "
                         f"got {tuple(metric.shape)}")
    n_a, n_b = (x.shape[1] - prefix + 1) // 2, (x.shape[1] - prefix) // 2
    r = min(max(int(r), 0), n_a if n_b else 0)
    if r == 0:
        return x, sizes
    pre, x, s, metric = x[:, :prefix], x[:, prefix:], sizes[:, prefix:], metric[:, prefix:]
    metric = F.normalize(metric, dim=-1)
    best, match = (metric[:, ::2] @ metric[:, 1::2].transpose(1, 2)).max(dim=-1)  # (b, |A|) each
    order = best.argsort(dim=-1, descending=True)
    merged, kept = order[:, :r], order[:, r:].sort(dim=-1).values  # sorted: kept A stay in order
    dst = match.gather(1, merged)  # the B token each merged A token goes to
    dim = x.shape[-1]
    src, dst = merged[..., None].expand(-1, -1, dim), dst[..., None].expand(-1, -1, dim)
    # sum the mass (size * x) and the sizes into B, then divide: the size-weighted average
    mass = x * s
    mass_b = mass[:, 1::2].scatter_add(1, dst, mass[:, ::2].gather(1, src))
    s_b = s[:, 1::2].scatter_add(1, dst[..., :1], s[:, ::2].gather(1, src[..., :1]))
    s_a = s[:, ::2].gather(1, kept[..., None])
    out = torch.cat([pre, x[:, ::2].gather(1, kept[..., None].expand(-1, -1, dim)), mass_b / s_b], dim=1)
    return out, torch.cat([sizes[:, :prefix], s_a, s_b], dim=1)


def keep_top_attended(x: Tensor, sizes: Tensor, scores: Tensor, k: int,
                      prefix: int = 1) -> tuple[Tensor, Tensor]:
    """EViT: keep the k highest-scoring tokens in order, fuse the rest into one token appended last.

    The first `prefix` tokens (the CLS token first) pass through. `scores` (batch, n - prefix) is
    the attention the CLS token pays each other token; the fused token is the score-weighted
    average of the dropped tokens and its size their total size. k >= the token count keeps all.
    """
    _check_prefix(x, sizes, prefix)
    n = x.shape[1] - prefix
    if tuple(scores.shape) != (x.shape[0], n):
        raise ValueError(f"scores must be (batch, n - prefix) = {(x.shape[0], n)}, got "
                         f"{tuple(scores.shape)}: the CLS token's attention to the non-prefix tokens")
    k = max(int(k), 1)
    if k >= n:
        return x, sizes
    pre, x, s = x[:, :prefix], x[:, prefix:], sizes[:, prefix:]
    order = scores.argsort(dim=-1, descending=True)
    top, rest = order[:, :k].sort(dim=-1).values, order[:, k:]
    dim = x.shape[-1]
    weights = scores.gather(1, rest)[..., None]  # (b, n - k, 1)
    total = weights.sum(1, keepdim=True)
    dropped = x.gather(1, rest[..., None].expand(-1, -1, dim))
    # scores that all underflow to 0 give a plain mean rather than 0 / 0
    fused = torch.where(total > 0, (weights * dropped).sum(1, keepdim=True) / total.clamp_min(1e-30),
                        dropped.mean(1, keepdim=True))
    out = torch.cat([pre, x.gather(1, top[..., None].expand(-1, -1, dim)), fused], dim=1)
    s_fused = s.gather(1, rest[..., None]).sum(1, keepdim=True)
    return out, torch.cat([sizes[:, :prefix], s.gather(1, top[..., None]), s_fused], dim=1)


class TokenBlock(nn.Module):
    """A timm ViT `Block` that takes and returns (x, sizes) and may reduce tokens after attention.

    It owns the block's own submodules under the same names, so a state_dict loads unchanged.
    sizes is None until the first reduction: attention then runs exactly as timm's does.
    """

    def __init__(self, block: nn.Module, method: str | None, keep: float, prefix: int) -> None:
        super().__init__()
        for name in ("norm1", "attn", "ls1", "drop_path1", "norm2", "mlp", "ls2", "drop_path2"):
            setattr(self, name, getattr(block, name))
        self.method, self.keep, self.prefix = method, keep, prefix

    def extra_repr(self) -> str:
        """The reduction this block runs, shown by print(model)."""
        return f"method={self.method}, keep={self.keep}, prefix={self.prefix}"

    def _attention(self, x: Tensor, sizes: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """timm's Attention forward with proportional attention; also returns what the reduction ranks by."""
        attn, (b, n, _) = self.attn, x.shape
        gate = attn.gate(x).sigmoid() if getattr(attn, "gate", None) is not None else None
        q, k, v = attn.qkv(x).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = attn.q_norm(q), attn.k_norm(k)
        bias = None if sizes is None else sizes.log()[:, None, None, :, 0]  # (b, 1, 1, n): per key
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=attn.scale,
                                             dropout_p=attn.attn_drop.p if self.training else 0.0)
        out = attn.norm(out.transpose(1, 2).reshape(b, n, attn.num_heads * attn.head_dim))
        if gate is not None:
            out = out * gate
        out = attn.proj_drop(attn.proj(out))
        if self.method == "tome":
            return out, k.mean(dim=1)  # (b, n, head_dim): ToMe's similarity metric
        if self.method == "evit":  # only the CLS query's row of attention: O(n), not n x n
            logits = (q[:, :, :1] @ k.transpose(-2, -1)) * attn.scale  # (b, heads, 1, n)
            if bias is not None:
                logits = logits + bias
            return out, logits.softmax(dim=-1).mean(dim=1)[:, 0, self.prefix:]  # (b, n - prefix)
        return out, None

    def forward(self, x: Tensor, sizes: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Attention, then the reduction, then the MLP on the tokens that are left."""
        y, ranking = self._attention(self.norm1(x), sizes)
        x = x + self.drop_path1(self.ls1(y))
        n = x.shape[1] - self.prefix
        kept = n if self.method is None else _kept(n, self.keep)
        if kept < n:
            sizes = x.new_ones(x.shape[0], x.shape[1], 1) if sizes is None else sizes
            if self.method == "tome":
                x, sizes = bipartite_merge(x, sizes, ranking, n - kept, self.prefix)
            else:
                x, sizes = keep_top_attended(x, sizes, ranking, kept, self.prefix)
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x, sizes


class TokenBlocks(nn.Sequential):
    """The model's `blocks`, passing the token sizes along; keeps the last sizes for pooling."""

    sizes: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        """Run every block on (x, sizes); sizes start as None (every token one patch)."""
        sizes = None
        for block in self:
            x, sizes = block(x, sizes)
        self.sizes = sizes  # read by the model's pool() for a size-weighted average
        return x


class _SizeWeightedPool:
    """Mixin for a reduced ViT: 'avg' and 'avgmax' pooling weight each token by its size."""

    def pool(self, x: Tensor, pool_type: str | None = None) -> Tensor:
        """timm's pool, with the mean weighted by how many patches each token stands for."""
        pool_type = self.global_pool if pool_type is None else pool_type
        sizes = self.blocks.sizes
        if (self.attn_pool is not None or pool_type not in ("avg", "avgmax") or sizes is None
                or sizes.shape[:2] != x.shape[:2]):
            return super().pool(x, pool_type)  # tokens, max, attention pools: sizes do not apply
        start = 0 if getattr(self, "pool_include_prefix", False) else self.num_prefix_tokens
        x, sizes = x[:, start:], sizes[:, start:]
        mean = (x * sizes).sum(dim=1) / sizes.sum(dim=1)
        return mean if pool_type == "avg" else 0.5 * (x.amax(dim=1) + mean)


@functools.cache
def _reduced_class(cls: type) -> type:
    """A subclass of the model's class with size-weighted pooling (one per class)."""
    return type(f"TokenReduced{cls.__name__}", (_SizeWeightedPool, cls), {"__module__": __name__})


def default_layers(method: str, depth: int) -> list[int]:
    """The blocks that reduce by default: every one for ToMe; depth/4, depth/2, 3 depth/4 for EViT."""
    _check_method(method)
    if method == "tome":
        return list(range(depth))  # ToMe merges in every block
    return sorted({depth // 4, depth // 2, 3 * depth // 4})  # EViT's 4th, 7th and 10th of 12 blocks


def _check_method(method: str) -> None:
    """Raise a ValueError listing the methods when `method` is not one of them."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(map(repr, METHODS))}")


def _check_keep(keep: Any) -> float:
    """keep as a float, or a ValueError naming the accepted range."""
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or math.isnan(keep) or not 0 < keep <= 1:
        raise ValueError("keep must be a number in (0, 1], the fraction of tokens each reducing block "
                         f"keeps; got {keep!r}")
    return float(keep)


def _check_vit(model: Any) -> None:
    """Raise a TypeError naming the supported models unless `model` is a plain timm ViT."""
    try:
        from timm.layers import Attention
        from timm.models.vision_transformer import Block, VisionTransformer
    except ImportError as err:
        raise TypeError("reduce_tokens needs timm (pip install timm) and a timm VisionTransformer") from err
    if not isinstance(model, VisionTransformer):
        raise TypeError(f"reduce_tokens supports timm VisionTransformer models (ViT, DeiT incl. distilled, "
                        f"DINOv2, ...), got {type(model).__name__}")
    if isinstance(model.blocks, TokenBlocks):
        raise TypeError("this model's tokens are already reduced: call reduce_tokens on the original model")
    for i, block in enumerate(model.blocks):
        if type(block) is not Block or not isinstance(block.attn, Attention):
            raise TypeError(f"block {i} is a {type(block).__name__} with {type(block.attn).__name__}: "
                            "reduce_tokens supports timm's pre-norm Block with its standard Attention")


def reduce_tokens(model: nn.Module, method: str, keep: float,
                  layers: Sequence[int] | None = None) -> nn.Module:
    """A copy of a timm ViT whose `layers` blocks keep only a fraction `keep` of their patch tokens.

    method: "tome" (merge similar tokens) or "evit" (keep the tokens the CLS token attends to,
    fuse the rest into one). keep in (0, 1] is per reducing block, so it compounds: ToMe's default
    of every block at keep=0.9 leaves about 0.9**12 = 28% of a 12-block ViT's patches. ToMe cannot
    merge more than the even half of the tokens in one block, so keep < 0.5 acts as about 0.5 there.
    layers default: `default_layers(method, depth)`. `model` itself is left untouched.

    The copy runs forward, forward_features and forward_head ('avg' pooling weights each token by
    its size), not forward_intermediates: its blocks pass (x, sizes) along.
    """
    _check_method(method)
    keep = _check_keep(keep)
    _check_vit(model)
    depth = len(model.blocks)
    if method == "evit" and not getattr(model, "has_class_token", model.cls_token is not None):
        raise ValueError("EViT ranks tokens by the CLS token's attention and this model has no class "
                         "token: use method='tome'")
    layers = default_layers(method, depth) if layers is None else list(layers)
    for i in layers:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < depth:
            raise ValueError(f"layers must be block indices from 0 to {depth - 1}, got {i!r}")
    reduced = copy.deepcopy(model)
    prefix = reduced.num_prefix_tokens
    # every block gets proportional attention, reducing or not: later blocks see merged tokens
    reduced.blocks = TokenBlocks(*(TokenBlock(block, method if i in layers else None, keep, prefix)
                                   for i, block in enumerate(reduced.blocks)))
    reduced.__class__ = _reduced_class(type(model))
    return reduced


def token_counts(model: nn.Module, images: Tensor) -> list[int]:
    """The number of tokens (prefix tokens included) leaving each block in one forward pass."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential):
        raise TypeError(f"token_counts needs a timm VisionTransformer (a model with .blocks), got "
                        f"{type(model).__name__}")
    counts: list[int] = []

    def record(module: nn.Module, args: Any, output: Any) -> None:
        counts.append((output[0] if isinstance(output, tuple) else output).shape[1])

    hooks = [block.register_forward_hook(record) for block in blocks]
    try:
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return counts

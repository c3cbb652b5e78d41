"""Attention kernels, exact and approximate, and a way to put one inside a transformers model.

Every kernel takes queries, keys and values shaped (batch, heads, n, head_dim) like
`torch.nn.functional.scaled_dot_product_attention`, an optional key padding mask (batch, n) that is
True for real tokens (the tokenizer's `attention_mask`), and returns (batch, heads, n, head_dim).
They are written for reading, in plain torch (the window kernel runs PyTorch's fused SDPA on each
block's slice of keys): chapter 5 measures what each costs against the fused kernel on the whole
sequence; chapters 7 and 9 reuse them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
KINDS = ("naive", "sdpa", "tiled", "linear", "random-feature", "window")


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None) -> None:
    """Raise a ValueError that names the fix when Q, K, V or the mask do not fit together."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k and v must be 4-D (batch, heads, n, head_dim); got {q.dim()}-D, "
                         f"{k.dim()}-D and {v.dim()}-D: reshape with .view(b, n, h, d).transpose(1, 2)")
    if q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"mismatched shapes q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}: "
                         "q and k need the same batch, heads and head_dim; k and v the same batch, heads "
                         "and length")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (k.shape[0], k.shape[2]):
        raise ValueError(f"key_padding_mask must be (batch, n_keys) = {(k.shape[0], k.shape[2])}, got "
                         f"{tuple(key_padding_mask.shape)}: pass the tokenizer's attention_mask")


def _positive(name: str, value: int) -> int:
    """value as an int, or a ValueError when it is not a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _keep(key_padding_mask: Tensor | None) -> Tensor | None:
    """The padding mask as (batch, 1, 1, n_keys) booleans, ready to broadcast over scores."""
    return None if key_padding_mask is None else key_padding_mask.bool()[:, None, None, :]


def naive_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
                    scale: float | None = None, allowed: Tensor | None = None) -> Tensor:
    """softmax(QK^T * scale) V with the full n x n score matrix in memory (the reference)."""
    _check_qkv(q, k, v, key_padding_mask)
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5 if scale is None else scale)
    keep = _keep(key_padding_mask)
    if allowed is not None:  # an (n_q, n_k) boolean pattern, e.g. band_mask(): still an n x n matrix
        keep = allowed if keep is None else keep & allowed
    if keep is not None:
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) @ v


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
                   scale: float | None = None) -> Tensor:
    """PyTorch's fused scaled_dot_product_attention, with the same arguments as the others."""
    _check_qkv(q, k, v, key_padding_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=_keep(key_padding_mask), scale=scale)


def sdpa_backend(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> str:
    """The kernel PyTorch's SDPA picks for these inputs on this machine (e.g. FLASH_ATTENTION)."""
    from torch.nn.attention import SDPBackend

    _check_qkv(q, k, v, key_padding_mask)
    try:  # a private function: the dispatcher's own choice; say "unknown" if a release drops it
        choice = torch._fused_sdp_choice(q, k, v, _keep(key_padding_mask))
        return SDPBackend(choice).name
    except (AttributeError, RuntimeError, TypeError, ValueError):
        return "unknown"


def tiled_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
                    scale: float | None = None, block: int = 256) -> Tensor:
    """Exact attention tile by tile with an online softmax: no n x n matrix, only block x block tiles."""
    _check_qkv(q, k, v, key_padding_mask)
    block = _positive("block", block)
    q = q * (q.shape[-1] ** -0.5 if scale is None else scale)
    keep = _keep(key_padding_mask)
    out = q.new_empty((*q.shape[:-1], v.shape[-1]))
    for qs in range(0, q.shape[2], block):
        q_tile = q[:, :, qs:qs + block]
        # a finite floor instead of -inf, so a tile with every key masked adds exp(...) = 0, not NaN
        running_max = q_tile.new_full((*q_tile.shape[:-1], 1), torch.finfo(q.dtype).min)
        running_sum = q_tile.new_zeros((*q_tile.shape[:-1], 1))
        acc = q_tile.new_zeros((*q_tile.shape[:-1], v.shape[-1]))
        for ks in range(0, k.shape[2], block):
            scores = q_tile @ k[:, :, ks:ks + block].transpose(-2, -1)  # one (block x block) tile per head
            if keep is not None:
                scores.masked_fill_(~keep[..., ks:ks + block], float("-inf"))
            new_max = torch.maximum(running_max, scores.amax(dim=-1, keepdim=True))
            p = scores.sub_(new_max).exp_()
            correction = (running_max - new_max).exp_()  # rescales what the earlier tiles summed
            running_sum = running_sum * correction + p.sum(dim=-1, keepdim=True)
            acc = acc * correction + p @ v[:, :, ks:ks + block]
            running_max = new_max
        out[:, :, qs:qs + block] = acc / running_sum
    return out


def elu_features(x: Tensor) -> Tensor:
    """The elu(x) + 1 feature map of Katharopoulos et al. (2020): positive, so sums stay positive."""
    return F.elu(x).add_(1.0)  # in place: one n x d tensor fewer to allocate


def _linear_from_features(phi_q: Tensor, phi_k: Tensor, v: Tensor, key_padding_mask: Tensor | None) -> Tensor:
    """phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1): attention in O(n), never an n x n matrix."""
    if key_padding_mask is not None:
        phi_k = phi_k * key_padding_mask.to(phi_k.dtype)[:, None, :, None]
    kv = phi_k.transpose(-2, -1) @ v  # (b, h, features, d): the whole sequence in a fixed-size state
    normaliser = phi_q @ phi_k.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (b, h, n, 1)
    return (phi_q @ kv).div_(normaliser.clamp_min_(torch.finfo(v.dtype).tiny))


def linear_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
    """Linear attention with the elu(x) + 1 feature map: a different attention, not softmax's."""
    _check_qkv(q, k, v, key_padding_mask)
    return _linear_from_features(elu_features(q), elu_features(k), v, key_padding_mask)


def orthogonal_features(head_dim: int, features: int, seed: int = 0,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """(features, head_dim) Gaussian projections, orthogonal in blocks of head_dim (Performer's ORF)."""
    features, head_dim = _positive("features", features), _positive("head_dim", head_dim)
    gen = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(math.ceil(features / head_dim)):
        square, upper = torch.linalg.qr(torch.randn(head_dim, head_dim, generator=gen, dtype=torch.float64))
        # fixing the signs by R's diagonal makes the rotation uniformly random (Haar); without it
        # the directions are biased and the estimate of exp(q.k) with them
        blocks.append((square * torch.sign(torch.diagonal(upper))).T)
    directions = torch.cat(blocks)[:features]
    # rows of a Gaussian matrix have chi-distributed norms; orthogonal rows get the same norms
    norms = torch.randn(features, head_dim, generator=gen, dtype=torch.float64).norm(dim=1, keepdim=True)
    return (directions * norms).to(dtype)


def random_feature_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
                             scale: float | None = None, features: int = 256, seed: int = 0) -> Tensor:
    """Softmax attention approximated in O(n) by positive orthogonal random features (FAVOR+)."""
    _check_qkv(q, k, v, key_padding_mask)
    features = _positive("features", features)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    projection = orthogonal_features(q.shape[-1], features, seed, q.dtype)
    # exp(q.k * scale) = exp((q s^1/2).(k s^1/2)): split the scale between queries and keys
    qs, ks = q * scale**0.5, k * scale**0.5
    # A per-query factor cancels in the normaliser, so queries drop their -|q|^2/2 and take any
    # shift; the keys share one shift (over real keys only). In place: these are n x features.
    q_logits = qs @ projection.T
    phi_q = q_logits.sub_(q_logits.amax(dim=-1, keepdim=True)).exp_()
    k_logits = (ks @ projection.T).sub_((ks * ks).sum(dim=-1, keepdim=True) / 2)
    if key_padding_mask is not None:
        k_logits.masked_fill_(~key_padding_mask.bool()[:, None, :, None], float("-inf"))
    phi_k = k_logits.sub_(k_logits.amax(dim=(-2, -1), keepdim=True)).exp_()
    return _linear_from_features(phi_q, phi_k, v, key_padding_mask)


def band_mask(n: int, window: int, global_tokens: int = 0) -> Tensor:
    """(n, n) booleans: True where |i - j| <= window // 2, or i or j is one of the first global tokens."""
    n, window = _positive("n", n), _positive("window", window)
    pos = torch.arange(n)
    allowed = (pos[:, None] - pos[None, :]).abs() <= window // 2
    if global_tokens:
        allowed[:global_tokens, :] = True
        allowed[:, :global_tokens] = True
    return allowed


def window_attention(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
                     scale: float | None = None, window: int = 256, global_tokens: int = 0,
                     block: int | None = None) -> Tensor:
    """Sliding-window attention (|i - j| <= window // 2) in O(n * window), one query block at a time.

    The first `global_tokens` tokens (Longformer's [CLS]) attend to every token and every token
    attends to them. Each block of `block` queries (default window // 4, at least 16) runs PyTorch's
    fused SDPA on only the slice of keys its windows can reach, with a small band mask, so no
    n x n matrix is ever made.
    """
    _check_qkv(q, k, v, key_padding_mask)
    window = _positive("window", window)
    if isinstance(global_tokens, bool) or not isinstance(global_tokens, int) or global_tokens < 0:
        raise ValueError(f"global_tokens must be a whole number >= 0, got {global_tokens!r}")
    if q.shape[2] != k.shape[2]:
        raise ValueError(f"window attention is self-attention: q has {q.shape[2]} positions, k {k.shape[2]}")
    n = q.shape[2]
    half, g = window // 2, min(global_tokens, n)
    block = _positive("block", block) if block is not None else max(16, window // 4)
    real = None if key_padding_mask is None else key_padding_mask.bool()
    pos = torch.arange(n, device=q.device)
    out = q.new_empty((*q.shape[:-1], v.shape[-1]))
    for qs in range(g, n, block):  # the global rows are done below
        qe = min(qs + block, n)
        ks, ke = max(g, qs - half), min(n, qe + half)  # the keys this block can reach, globals apart
        allowed = (pos[qs:qe, None] - pos[None, ks:ke]).abs() <= half  # (block, keys): the band
        k_part, v_part = k[:, :, ks:ke], v[:, :, ks:ke]
        if g:  # every token also sees the global tokens
            allowed = torch.cat([allowed.new_ones(qe - qs, g), allowed], dim=1)
            k_part, v_part = torch.cat([k[:, :, :g], k_part], dim=2), torch.cat([v[:, :, :g], v_part], dim=2)
        if real is not None:
            keys_real = torch.cat([real[:, :g], real[:, ks:ke]], dim=1)[:, None, :]  # (b, 1, keys)
            # a padded query keeps its band, so that no row is fully masked (which would give NaN)
            allowed = allowed & (keys_real | ~real[:, qs:qe, None])
            allowed = allowed[:, None]  # (b, 1, block, keys)
        out[:, :, qs:qe] = F.scaled_dot_product_attention(q[:, :, qs:qe], k_part, v_part, attn_mask=allowed,
                                                          scale=scale)
    if g:  # the global tokens see everything: g full rows, O(g * n)
        out[:, :, :g] = sdpa_attention(q[:, :, :g], k, v, key_padding_mask, scale)
    return out


def attend(kind: str, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None,
           scale: float | None = None, **params: Any) -> Tensor:
    """Run the attention named `kind` (one of KINDS) with its parameters."""
    if kind not in KINDS:
        raise ValueError(f"unknown attention {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "linear":
        if scale is not None:
            raise ValueError("linear (elu + 1) attention has no softmax scale; leave scale=None")
        return linear_attention(q, k, v, key_padding_mask, **params)
    fn = {"naive": naive_attention, "sdpa": sdpa_attention, "tiled": tiled_attention,
          "random-feature": random_feature_attention, "window": window_attention}[kind]
    return fn(q, k, v, key_padding_mask, scale, **params)


def _padding_from_4d(mask: Tensor | None, n_keys: int) -> Tensor | None:
    """The key padding mask (batch, n_keys) inside a transformers 4-D boolean mask, or None."""
    if mask is None:
        return None
    if mask.dtype != torch.bool:
        mask = mask > torch.finfo(mask.dtype).min / 2  # an additive mask: 0 keeps, a large negative drops
    if mask.shape[-2] > 1 and not bool((mask.all(dim=-2) == mask.any(dim=-2)).all()):
        raise ValueError("this attention supports padding masks only, not causal or per-query masks: "
                         "swap the attention of encoders (BERT-like models), not decoders")
    return mask[:, 0, 0, :].expand(mask.shape[0], n_keys) if mask.shape[-1] == n_keys else None


def attention_function(kind: str, **params: Any) -> Callable[..., tuple[Tensor, None]]:
    """An attention function in transformers' AttentionInterface signature, running `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown attention {kind!r}; choose one of {', '.join(KINDS)}")

    def forward(module: torch.nn.Module, query: Tensor, key: Tensor, value: Tensor,
                attention_mask: Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                **kwargs: Any) -> tuple[Tensor, None]:
        padding = _padding_from_4d(attention_mask, key.shape[2])
        scale = None if kind == "linear" else scaling
        out = attend(kind, query, key, value, padding, scale, **params)
        return out.transpose(1, 2).contiguous(), None  # transformers wants (batch, n, heads, head_dim)

    return forward


def swap_attention(model: Any, kind: str, **params: Any) -> str:
    """Make a transformers model run `kind` attention in every layer; returns the registered name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "_attn_implementation") or \
            not getattr(model, "_supports_attention_backend", False):
        raise ValueError(f"{type(model).__name__} does not route attention through transformers' "
                         "AttentionInterface, so its attention cannot be swapped: use a model class that "
                         "supports attention backends (BERT, Llama, ... in transformers >= 4.48)")
    if getattr(config, "is_decoder", False) or getattr(config, "is_causal", False):
        raise ValueError("swap_attention supports encoders (bidirectional attention with padding masks); "
                         f"{type(model).__name__} is configured as a decoder")
    name = "edge-" + "-".join([kind] + [f"{k}{v}" for k, v in sorted(params.items())])
    AttentionInterface.register(name, attention_function(kind, **params))
    if name not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionMaskInterface.register(name, sdpa_mask)  # boolean masks, True = attend
    model.set_attn_implementation(name)
    return name

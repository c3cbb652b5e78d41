"""Pruning for BERT-style classifiers and timm ViTs: sparsity, structure importance and removal, movement masks.

- `encoder_linears`, `sparsity`: the Linear layers unstructured pruning targets, and their zeros.
- `cubic_sparsity`: the gradual schedule of Zhu & Gupta (2017), used for iterative and movement pruning.
- `structure_importance`: gradient importance of every attention head and FFN neuron (Michel et
  al., 2019): the size of the loss's gradient with respect to a gate on each one.
- `lowest`, `prune_heads`, `prune_ffn`: remove the least important ones as smaller dense matrices
  (transformers 5 dropped `prune_heads`; its building block `prune_linear_layer` remains).
- `vit_head_importance`, `prune_vit_heads`: the same gradient importance and head removal for timm
  Vision Transformers, whose attention keeps query, key and value in one fused `qkv` layer.
- `TopKMask`, `attach_movement`, `set_density`, `bake`: movement pruning (Sanh et al., 2020): a mask
  that keeps the largest learned scores, trained with a straight-through gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


def _layers(model: Any) -> nn.ModuleList:
    """The transformer layers of a BERT-style model (`model.base_model.encoder.layer`)."""
    try:
        return model.base_model.encoder.layer
    except AttributeError as err:
        raise TypeError(f"{type(model).__name__} is not a BERT-style encoder (no base_model.encoder.layer)") from err


def encoder_linears(model: Any) -> dict[str, nn.Linear]:
    """The Linear layers inside the transformer layers (not the embeddings, pooler or classifier)."""
    return {f"layer.{i}.{name}": module for i, layer in enumerate(_layers(model))
            for name, module in layer.named_modules() if isinstance(module, nn.Linear)}


def sparsity(modules: Iterable[nn.Module]) -> float:
    """Fraction of exact zeros among the `weight`s of `modules`."""
    zeros = total = 0
    for module in modules:
        zeros += int((module.weight == 0).sum())
        total += module.weight.numel()
    if total == 0:
        raise ValueError("no weights given: pass the Linear layers to measure (e.g. encoder_linears(model).values())")
    return zeros / total


def cubic_sparsity(step: int, total: int, final: float, *, start: float = 0.1, end: float = 0.7) -> float:
    """Sparsity at `step` of `total`: 0 until start*total, cubic rise to `final` at end*total, then flat."""
    if not 0.0 <= final < 1.0 or not 0.0 <= start < end <= 1.0:
        raise ValueError(f"need 0 <= final < 1 and 0 <= start < end <= 1, got {final}, {start}, {end}")
    progress = (step / max(1, total) - start) / (end - start)
    progress = min(1.0, max(0.0, progress))
    return final * (1.0 - (1.0 - progress) ** 3)


@dataclass
class Importance:
    """Importance of every head, shape (layers, heads), and of every FFN neuron, one tensor per layer."""

    heads: torch.Tensor
    neurons: list[torch.Tensor]


def structure_importance(model: Any, tokenizer: Any, data: Any, *, max_length: int = 64,
                         batch_size: int = 32) -> Importance:
    """|dLoss/dgate| of a gate on each head's output and on each FFN neuron, summed over batches of `data`."""
    from edgehelpers.batching import encode, pad_batch, pad_id

    if len(data) == 0:
        raise ValueError(f"{data.name} {data.split} is empty: importance needs labelled examples")
    layers = _layers(model)
    head_gates = [torch.ones(layer.attention.self.num_attention_heads, requires_grad=True) for layer in layers]
    neuron_gates = [torch.ones(layer.intermediate.dense.out_features, requires_grad=True) for layer in layers]
    heads = torch.zeros(len(layers), max(len(g) for g in head_gates))
    neurons = [torch.zeros(len(g)) for g in neuron_gates]

    def gate_heads(gate: torch.Tensor, size: int):
        return lambda module, args, out: (out[0] * gate.repeat_interleave(size), *out[1:])

    def gate_neurons(gate: torch.Tensor):
        return lambda module, args, out: out * gate

    hooks = []
    for layer, hg, ng in zip(layers, head_gates, neuron_gates):
        hooks.append(layer.attention.self.register_forward_hook(gate_heads(hg, layer.attention.self.attention_head_size)))
        hooks.append(layer.intermediate.register_forward_hook(gate_neurons(ng)))
    encoded = encode(tokenizer, data.texts, max_length)
    labels = torch.tensor(list(data.labels))
    was_training = model.training
    model.eval()  # no dropout: the gradient should reflect the model as it will run
    try:
        for start in range(0, len(data), batch_size):
            rows = list(range(start, min(start + batch_size, len(data))))
            loss = F.cross_entropy(model(**pad_batch(encoded, rows, pad_id(tokenizer))).logits, labels[rows])
            grads = torch.autograd.grad(loss, head_gates + neuron_gates)
            for i, g in enumerate(grads[: len(layers)]):
                heads[i, : len(g)] += g.abs()
            for i, g in enumerate(grads[len(layers) :]):
                neurons[i] += g.abs()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return Importance(heads=heads, neurons=neurons)


def lowest(scores: torch.Tensor, fraction: float) -> list[int]:
    """Indices of the lowest ceil(fraction * len(scores)) scores (at least that share), ascending."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1) (something must stay), got {fraction}")
    k = math.ceil(fraction * len(scores) - 1e-9)  # the tolerance keeps 1/3 of 12 at 4, not 5
    return sorted(torch.argsort(scores)[:k].tolist())


def _check_indices(drop: Sequence[int], n: int, what: str, layer: int) -> list[int]:
    """`drop` as a sorted list of distinct indices in 0..n-1 that leaves at least one; else ValueError."""
    unique = sorted(set(int(i) for i in drop))
    if any(not 0 <= i < n for i in unique):
        raise ValueError(f"layer {layer} has {n} {what} (0..{n - 1}); cannot remove {unique}")
    if len(unique) == n:
        raise ValueError(f"removing all {n} {what} of layer {layer} would cut the layer in two; keep at least one")
    return unique


def prune_heads(model: Any, heads: Mapping[int, Sequence[int]]) -> None:
    """Remove attention heads in place: {layer: [head, ...]}, indices among the layer's current heads."""
    from transformers.pytorch_utils import prune_linear_layer

    layers = _layers(model)
    for i, drop in heads.items():
        attention = layers[i].attention
        self_att, size = attention.self, attention.self.attention_head_size
        unique = _check_indices(drop, self_att.num_attention_heads, "heads", i)
        if not unique:
            continue
        keep = [h for h in range(self_att.num_attention_heads) if h not in unique]
        index = torch.tensor([h * size + j for h in keep for j in range(size)])
        self_att.query = prune_linear_layer(self_att.query, index)
        self_att.key = prune_linear_layer(self_att.key, index)
        self_att.value = prune_linear_layer(self_att.value, index)
        attention.output.dense = prune_linear_layer(attention.output.dense, index, dim=1)
        self_att.num_attention_heads = len(keep)
        self_att.all_head_size = len(keep) * size



def prune_structures(model: Any, importance: Importance, *, heads: float, ffn: float) -> Any:
    """A copy of `model` without the least important `heads` share of every layer's heads and `ffn` share of its FFN neurons."""
    import copy

    if not (0.0 <= heads < 1.0 and 0.0 <= ffn < 1.0):
        raise ValueError(f"heads and ffn are the shares to remove, in [0, 1); got {heads}, {ffn}")
    if importance.heads.shape[0] != len(_layers(model)):
        raise ValueError(f"importance covers {importance.heads.shape[0]} layers, the model has {len(_layers(model))}: "
                         "score this model with structure_importance first")
    pruned = copy.deepcopy(model)
    layers = range(len(importance.neurons))
    prune_heads(pruned, {i: lowest(importance.heads[i], heads) for i in layers})
    prune_ffn(pruned, {i: lowest(importance.neurons[i], ffn) for i in layers})
    return pruned.eval()


def _vit_blocks(model: Any) -> nn.Sequential:
    """The blocks of a timm Vision Transformer, each with a standard `attn` (fused qkv) module."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not all(hasattr(getattr(b, "attn", None), "qkv") for b in blocks):
        raise TypeError(f"{type(model).__name__} is not a timm Vision Transformer (no blocks with attn.qkv)")
    return blocks


def vit_head_importance(model: Any, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """|dLoss/dgate| of a gate on each attention head's output of a timm ViT, shape (blocks, heads)."""
    blocks = _vit_blocks(model)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"importance needs labelled images: got {len(x)} images and {len(y)} labels")
    gates = [torch.ones(b.attn.num_heads, requires_grad=True) for b in blocks]
    scores = torch.zeros(len(blocks), max(len(g) for g in gates))

    def gate(g: torch.Tensor, head_dim: int):
        # the input of attn.proj is the heads' outputs side by side: scale each head's slice
        return lambda module, args: (args[0] * g.repeat_interleave(head_dim),)

    hooks = [b.attn.proj.register_forward_pre_hook(gate(g, b.attn.head_dim)) for b, g in zip(blocks, gates, strict=True)]
    was_training = model.training
    model.eval()  # no dropout: the gradient should reflect the model as it will run
    try:
        for start in range(0, len(x), batch_size):
            loss = F.cross_entropy(model(x[start:start + batch_size]), torch.as_tensor(y[start:start + batch_size]).long())
            for i, g in enumerate(torch.autograd.grad(loss, gates)):
                scores[i, : len(g)] += g.abs()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return scores


def prune_vit_heads(model: Any, heads: Mapping[int, Sequence[int]]) -> None:
    """Remove attention heads of a timm ViT in place: {block: [head, ...]}, among the block's current heads."""
    from transformers.pytorch_utils import prune_linear_layer

    blocks = _vit_blocks(model)
    for i, drop in heads.items():
        if not 0 <= int(i) < len(blocks):
            raise ValueError(f"the model has {len(blocks)} blocks (0..{len(blocks) - 1}); there is no block {i}")
        attn = blocks[i].attn
        unique = _check_indices(drop, attn.num_heads, "heads", i)
        if not unique:
            continue
        keep = [h for h in range(attn.num_heads) if h not in unique]
        size, width = attn.head_dim, attn.num_heads * attn.head_dim
        rows = [h * size + j for h in keep for j in range(size)]
        # qkv stacks the query, key and value rows of every head: keep the same heads in all three
        attn.qkv = prune_linear_layer(attn.qkv, torch.tensor([part * width + r for part in range(3) for r in rows]))
        attn.proj = prune_linear_layer(attn.proj, torch.tensor(rows), dim=1)
        attn.num_heads = len(keep)
        attn.attn_dim = len(keep) * size  # timm reshapes the heads' outputs to attn_dim before proj

def prune_ffn(model: Any, neurons: Mapping[int, Sequence[int]]) -> None:
    """Remove FFN neurons in place: {layer: [neuron, ...]}; both FFN matrices become smaller."""
    from transformers.pytorch_utils import prune_linear_layer

    layers = _layers(model)
    for i, drop in neurons.items():
        layer = layers[i]
        unique = _check_indices(drop, layer.intermediate.dense.out_features, "FFN neurons", i)
        if not unique:
            continue
        keep = torch.tensor([n for n in range(layer.intermediate.dense.out_features) if n not in set(unique)])
        layer.intermediate.dense = prune_linear_layer(layer.intermediate.dense, keep)
        layer.output.dense = prune_linear_layer(layer.output.dense, keep, dim=1)


class TopKMask(nn.Module):
    """Parametrization W -> W * mask, mask = the `density` share of largest movement scores.

    Each backward pass adds -dLoss/dW' * W to the scores (W' = W * mask): the score of a weight grows
    while training moves it away from zero. This is the straight-through score gradient of Sanh et
    al. (2020), summed as plain gradient descent would sum it; an adaptive optimizer would rescale
    every score's step to about the same size and lose the magnitude of the signal.
    """

    def __init__(self, shape: torch.Size) -> None:
        super().__init__()
        self.register_buffer("scores", torch.zeros(shape))  # all equal: nothing is preferred yet
        self.density = 1.0

    def mask(self) -> torch.Tensor:
        """The hard 0/1 mask that keeps the round(density * n) largest scores."""
        flat = self.scores.flatten()
        keep = round(self.density * flat.numel())
        if keep == flat.numel():
            return torch.ones_like(self.scores)
        mask = torch.zeros_like(flat)
        if keep:
            mask[torch.topk(flat, keep, sorted=False).indices] = 1.0
        return mask.view_as(self.scores)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        masked = weight * self.mask()
        if masked.requires_grad:
            plain = weight.detach()

            def move(grad: torch.Tensor) -> None:  # returns None: the gradient itself passes unchanged
                self.scores.sub_(grad * plain)

            masked.register_hook(move)
        return masked


def attach_movement(modules: Iterable[nn.Linear]) -> list[TopKMask]:
    """Give every module's weight a learnable TopKMask (density 1 to start); return the masks."""
    masks = []
    for module in modules:
        mask = TopKMask(module.weight.shape)
        parametrize.register_parametrization(module, "weight", mask)
        masks.append(mask)
    return masks


def set_density(masks: Iterable[TopKMask], density: float) -> None:
    """Keep the `density` share of each mask's weights from the next forward pass on."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    for mask in masks:
        mask.density = density


def bake(modules: Iterable[nn.Module]) -> None:
    """Replace each parametrized weight by its masked value and drop the scores (for export)."""
    for module in modules:
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)

"""Fine-tuning and evaluating a sequence classifier on TextData, with dynamic padding.

Batches are padded only to their longest member, texts of similar length together
(`edgehelpers.batching`, whose names are re-exported here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from edgehelpers.batching import (  # noqa: F401 (length_sorted_batches: re-exported)
    batched_outputs,
    encode,
    length_sorted_batches,
    pad_batch,
    pad_id,
)

if TYPE_CHECKING:
    from edgehelpers.accuracy import Accuracy
    from edgehelpers.data import TextData

# loss_fn(outputs, labels, rows): the model's output (logits, and hidden_states when asked for), the
# batch's labels, and the batch's row numbers in the training data (to look up e.g. teacher targets)
LossFn = Callable[[Any, torch.Tensor, list[int]], torch.Tensor]


def predict_logits(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64,
                   max_length: int = 64, progress: bool = False) -> np.ndarray:
    """Logits of shape (len(texts), num_labels), in the order of `texts`."""
    if len(texts) == 0:
        return np.zeros((0, model.config.num_labels), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return batched_outputs(lambda batch: model(**batch).logits.float().numpy(), tokenizer, texts,
                                   batch_size=batch_size, max_length=max_length, progress=progress, desc="predict")
    finally:
        model.train(was_training)


def evaluate(model: torch.nn.Module, tokenizer: Any, data: TextData, **kw: Any) -> Accuracy:
    """Accuracy (with its confidence interval) of `model` on `data`; `kw` go to predict_logits."""
    from edgehelpers.accuracy import accuracy_ci

    if len(data) == 0:
        raise ValueError(f"{data.name} {data.split} is empty: there is nothing to evaluate on")
    predictions = predict_logits(model, tokenizer, data.texts, **kw).argmax(axis=1)
    return accuracy_ci(predictions.tolist(), list(data.labels))


def _batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of similar-length examples: sort within chunks of 16 batches, shuffle batches."""
    order = rng.permutation(len(lengths))
    chunk = 16 * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk].tolist(), key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the peak rate over `warmup` steps, then linear decay to zero at `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _param_groups(model: torch.nn.Module, weight_decay: float, lr: float,
                  head_lr: float | None = None) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and LayerNorm weights (the BERT recipe); with head_lr,
    the classifier head (parameters named classifier.*) learns at its own rate."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            head = head_lr is not None and name.startswith("classifier.")
            groups.setdefault((param.ndim < 2 or "LayerNorm" in name, head), []).append(param)
    return [{"params": params, "weight_decay": 0.0 if no_decay else weight_decay,
             "lr": head_lr if head else lr} for (no_decay, head), params in groups.items()]


def adamw(params: Any, lr: float, **kwargs: Any) -> torch.optim.AdamW:
    """AdamW with PyTorch's fused kernel: on a CPU the default steps through every tensor in Python,
    about ten times slower (over 100 ms a step for MiniLM's 23 M parameters on two cores, ~10 fused)."""
    try:
        return torch.optim.AdamW(params, lr=lr, fused=True, **kwargs)
    except (RuntimeError, TypeError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(params, lr=lr, **kwargs)


def fine_tune(model: torch.nn.Module, tokenizer: Any, data: TextData, *, epochs: int, batch_size: int,
              lr: float, max_length: int, seed: int, warmup_ratio: float = 0.1,
              weight_decay: float = 0.01, progress: bool = True,
              loss_fn: LossFn | None = None, hidden_states: bool = False,
              on_step: Callable[[int, int], None] | None = None, head_lr: float | None = None,
              batch_inputs: Callable[[list[int]], dict[str, torch.Tensor]] | None = None) -> list[float]:
    """Train `model` on `data` with AdamW and a linear schedule; return the loss of every step.

    Without loss_fn the loss is cross-entropy on the labels; hidden_states=True also returns every
    layer's hidden states to loss_fn (feature distillation); on_step(step, total) runs before each
    step (e.g. to raise the sparsity on a schedule while training); head_lr gives a fresh classifier
    head its own (higher) peak rate; batch_inputs(rows) gives the model's inputs for a batch of rows
    instead of the tokenized, padded texts (e.g. FrozenPrefix.inputs: cached features).
    """
    from tqdm import tqdm  # text bars: no ipywidgets needed, same in a terminal and a notebook

    if len(data) == 0:
        raise ValueError(f"{data.name} {data.split} is empty: there is nothing to train on")
    torch.manual_seed(seed)  # dropout masks and any fresh weights
    rng = np.random.default_rng(seed)  # batch order
    encoded = encode(tokenizer, data.texts, max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    labels = torch.tensor(data.labels)
    steps_per_epoch = -(-len(data) // batch_size)
    total = epochs * steps_per_epoch
    optimizer = adamw(_param_groups(model, weight_decay, lr, head_lr), lr=lr)
    schedule = _linear_schedule(optimizer, max(1, round(warmup_ratio * total)), total)
    losses: list[float] = []
    model.train()
    # a slow refresh: without widgets a notebook keeps every refresh as a line of output
    with tqdm(total=total, desc="fine-tune", disable=not progress, mininterval=5.0) as bar:
        for _ in range(epochs):
            for rows in _batches(lengths, batch_size, rng):
                if on_step is not None:
                    on_step(len(losses), total)
                batch = batch_inputs(rows) if batch_inputs is not None else pad_batch(encoded, rows, pad_id(tokenizer))
                outputs = model(**batch, output_hidden_states=True) if hidden_states else model(**batch)
                targets = labels[rows]
                if loss_fn is None:
                    loss = F.cross_entropy(outputs.logits, targets)
                else:
                    loss = loss_fn(outputs, targets, rows)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # keeps early steps stable
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


# ---------------------------------------------------------------------------------------------
# a frozen bottom, computed once


class _Passthrough(torch.nn.Module):
    """Stands in for a BERT embedding layer: hands `inputs_embeds` (cached features) on unchanged."""

    def forward(self, inputs_embeds: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        if inputs_embeds is None:
            raise ValueError("the model's bottom is cached: pass its features as inputs_embeds (FrozenPrefix.inputs)")
        return inputs_embeds


class FrozenPrefix:
    """The embeddings and the first `layers` encoder layers of a BERT-style classifier, frozen and run once.

    Fine-tuning only the layers above a frozen bottom still runs that bottom for every batch, and
    again when the trained model labels its own training text. Its output depends on nothing but
    the text when it runs in eval mode (no dropout), so `features` computes it once per text and the
    top layers train and predict on the cache (`top_only`, `inputs`, `logits`). The top modules are
    the model's own: training them trains the model.
    """

    def __init__(self, model: torch.nn.Module, layers: int) -> None:
        bert = getattr(model, "bert", None)
        if bert is None or not hasattr(bert, "encoder"):
            raise TypeError(f"FrozenPrefix needs a BERT-style classifier (model.bert.encoder), not {type(model).__name__}")
        n = len(bert.encoder.layer)
        if not 0 < layers < n:
            raise ValueError(f"layers must leave at least one layer to train: 1 to {n - 1}, got {layers}")
        self.model, self.layers = model, layers
        for module in (bert.embeddings, *bert.encoder.layer[:layers]):
            module.requires_grad_(False)

    def features(self, tokenizer: Any, texts: Sequence[str], *, max_length: int,
                 batch_size: int = 64) -> list[torch.Tensor]:
        """The frozen bottom's output for each text, (tokens, hidden) without padding, in eval mode."""
        bert = self.model.bert
        full, was_training = bert.encoder.layer, self.model.training
        out: list[torch.Tensor] = [torch.empty(0)] * len(texts)
        bert.encoder.layer = full[: self.layers]
        self.model.eval()
        try:
            with torch.no_grad():  # not inference_mode: the top's backward saves these tensors
                for rows, batch in length_sorted_batches(tokenizer, texts, batch_size=batch_size, max_length=max_length):
                    hidden = bert(**batch).last_hidden_state
                    for j, i in enumerate(rows):
                        out[i] = hidden[j, : int(batch["attention_mask"][j].sum())].clone()
        finally:
            bert.encoder.layer = full
            self.model.train(was_training)
        return out

    @staticmethod
    def inputs(features: Sequence[torch.Tensor], rows: Sequence[int]) -> dict[str, torch.Tensor]:
        """A batch of cached features, padded with zeros to its longest (padding is masked out)."""
        width = max(features[i].shape[0] for i in rows)
        x = features[rows[0]].new_zeros((len(rows), width, features[rows[0]].shape[1]))
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, i in enumerate(rows):
            x[j, : features[i].shape[0]] = features[i]
            mask[j, : features[i].shape[0]] = 1
        return {"inputs_embeds": x, "attention_mask": mask}

    @contextlib.contextmanager
    def top_only(self) -> Iterator[torch.nn.Module]:
        """The model with its bottom taken out: it takes `inputs(...)` and runs the top layers and head."""
        bert = self.model.bert
        embeddings, layers = bert.embeddings, bert.encoder.layer
        bert.embeddings, bert.encoder.layer = _Passthrough(), layers[self.layers:]
        try:
            yield self.model
        finally:
            bert.embeddings, bert.encoder.layer = embeddings, layers

    def logits(self, features: Sequence[torch.Tensor], *, batch_size: int = 64) -> np.ndarray:
        """The whole model's logits (eval mode) for cached features, in their order."""
        order = sorted(range(len(features)), key=lambda i: -features[i].shape[0])
        out = np.empty((len(features), self.model.config.num_labels), dtype=np.float32)
        was_training = self.model.training
        with self.top_only() as top, torch.inference_mode():
            top.eval()
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = top(**self.inputs(features, rows)).logits.float().numpy()
        self.model.train(was_training)
        return out

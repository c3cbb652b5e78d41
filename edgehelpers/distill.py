"""Knowledge distillation for BERT-style classifiers: students made from a teacher, and the losses.

- `layer_subset_student`: DistilBERT-style, a student that keeps some of the teacher's layers.
- `narrow_student`: fewer, narrower layers from scratch; word embeddings start as the teacher's,
  projected onto their top principal components (a few thousand headlines cannot teach 30k vectors).
- `teacher_targets`: the teacher's logits and mean-pooled hidden states over a transfer set, once.
- `kd_loss`, `masked_mean`: response distillation (Hinton et al., 2015) and feature matching.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
            temperature: float, alpha: float, labelled: torch.Tensor | None = None) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross-entropy on the labelled rows.

    T^2 keeps the soft term's gradients on the same scale as the hard term's when T changes;
    `labelled` (bool per row) marks rows whose label the student may see (all when None).
    """
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need temperature > 0 and 0 <= alpha <= 1, got {temperature}, {alpha}")
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.softmax(teacher_logits / temperature, dim=-1), reduction="batchmean")
    loss = alpha * temperature**2 * soft
    if alpha < 1.0:
        mask = torch.ones_like(labels, dtype=torch.bool) if labelled is None else labelled
        if mask.any():
            loss = loss + (1.0 - alpha) * F.cross_entropy(student_logits[mask], labels[mask])
    return loss


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real (mask == 1) tokens of each row: (batch, seq, dim) -> (batch, dim)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def layer_subset_student(teacher: Any, layers: Sequence[int]) -> Any:
    """A copy of `teacher` (BertForSequenceClassification) that keeps only the encoder `layers`."""
    n = teacher.config.num_hidden_layers
    if not layers or any(not 0 <= i < n for i in layers) or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be distinct indices in 0..{n - 1}, got {list(layers)}")
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = torch.nn.ModuleList(copy.deepcopy(teacher.bert.encoder.layer[i]) for i in layers)
    student.config.num_hidden_layers = len(layers)
    return student


def narrow_student(teacher: Any, *, hidden: int, layers: int, heads: int, intermediate: int) -> Any:
    """A fresh narrower BERT classifier; embeddings = the teacher's projected by PCA to `hidden` dims."""
    from transformers import BertForSequenceClassification

    if hidden % heads:
        raise ValueError(f"hidden size {hidden} must be a multiple of the number of heads {heads}")
    config = copy.deepcopy(teacher.config)
    config.update({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                   "intermediate_size": intermediate})
    student = BertForSequenceClassification(config)
    emb = teacher.bert.embeddings
    words = emb.word_embeddings.weight.detach()
    mean = words.mean(dim=0)
    _, _, v = torch.pca_lowrank(words - mean, q=hidden, center=False, niter=4)
    projection = v[:, :hidden]  # (teacher width, hidden): the top principal directions
    with torch.no_grad():
        student.bert.embeddings.word_embeddings.weight.copy_((words - mean) @ projection)
        student.bert.embeddings.position_embeddings.weight.copy_(emb.position_embeddings.weight @ projection)
        student.bert.embeddings.token_type_embeddings.weight.copy_(emb.token_type_embeddings.weight @ projection)
    return student


@torch.no_grad()
def teacher_targets(teacher: Any, tokenizer: Any, texts: Sequence[str], *, layers: Sequence[int] = (),
                    max_length: int = 64, batch_size: int = 64) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The teacher's logits for `texts` and, for each of `layers`, its mean-pooled hidden states.

    Layer 0 is the embedding output, layer i the output of encoder layer i. Rows follow `texts`.
    """
    from edgehelpers.batching import batched_outputs

    if len(texts) == 0:
        raise ValueError("no texts: the transfer set is empty")

    def run(batch: Any) -> np.ndarray:  # logits, then each layer's pooled states, side by side
        out = teacher(**batch, output_hidden_states=bool(layers))
        pooled = [masked_mean(out.hidden_states[layer], batch["attention_mask"]) for layer in layers]
        return torch.cat([out.logits, *pooled], dim=1).float().numpy()

    was_training = teacher.training
    teacher.eval()
    try:
        with torch.inference_mode():
            joined = batched_outputs(run, tokenizer, texts, batch_size=batch_size, max_length=max_length,
                                     progress=True, desc="teacher targets")
    finally:
        teacher.train(was_training)
    labels, hidden = teacher.config.num_labels, teacher.config.hidden_size
    part = lambda start, width: np.ascontiguousarray(joined[:, start:start + width])  # noqa: E731
    return part(0, labels), {layer: part(labels + i * hidden, hidden) for i, layer in enumerate(layers)}


def recover(student: Any, tokenizer: Any, data: Any, teacher_logits: Any, *, lr: float, max_length: int,
            epochs: int = 1, temperature: float = 2.0, alpha: float = 0.5, batch_size: int = 32, seed: int = 0,
            on_step: Any = None, progress: bool = False) -> Any:
    """Fine-tune a compressed `student` towards the teacher's logits on `data` (kd_loss), embeddings frozen.

    `teacher_logits` holds one row per example of `data`, in order (from `teacher_targets`). The
    embedding table is frozen: compression did not touch it, and a frozen table makes each step cheaper.
    """
    from .train import fine_tune

    logits = torch.as_tensor(np.asarray(teacher_logits, dtype=np.float32))
    if logits.ndim != 2 or len(logits) != len(data):
        raise ValueError(f"teacher_logits must be [len(data), classes] = [{len(data)}, ...]; got {tuple(logits.shape)}: "
                         "compute them with teacher_targets(teacher, tokenizer, data.texts)")

    def loss_fn(outputs: Any, labels: torch.Tensor, rows: Any) -> torch.Tensor:
        return kd_loss(outputs.logits, logits[rows], labels, temperature=temperature, alpha=alpha)

    embeddings = student.base_model.embeddings
    embeddings.requires_grad_(False)
    try:
        fine_tune(student, tokenizer, data, epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length,
                  seed=seed, loss_fn=loss_fn, on_step=on_step, progress=progress)
    finally:
        embeddings.requires_grad_(True)
    return student.eval()

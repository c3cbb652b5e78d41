"""Batches of token ids for the book's classifiers: truncated, padded only to the longest member.

Headlines are ~20 tokens: padding every batch to a fixed 128 would cost 3-5x, so batches are padded
only to their longest member, and texts of similar length are batched together. Training
(`edgehelpers.train`), pruning's importance scores and every runtime's batched logits use these;
`batched_outputs` is the one loop that runs a model over many texts and puts the rows back in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, list[list[int]]]:
    """Token ids (truncated, not padded) of every text."""
    return dict(tokenizer(list(texts), truncation=True, max_length=max_length))


def pad_batch(encoded: dict[str, list[list[int]]], rows: Sequence[int], pad_id: int) -> dict[str, torch.Tensor]:
    """A batch of `rows`, padded to its longest member."""
    width = max(len(encoded["input_ids"][i]) for i in rows)
    batch = {}
    for key, values in encoded.items():
        fill = pad_id if key == "input_ids" else 0
        batch[key] = torch.tensor([values[i] + [fill] * (width - len(values[i])) for i in rows])
    return batch


def pad_id(tokenizer: Any) -> int:
    """The tokenizer's padding id (0 when it has none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def length_sorted_batches(tokenizer: Any, texts: Sequence[str], *, batch_size: int,
                          max_length: int) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """(rows, batch) over `texts`, longest first, each batch padded only to its longest member.

    Longest first: batches hold similar lengths (little padding) and a too-big batch fails at once.
    """
    encoded = encode(tokenizer, texts, max_length)
    order = sorted(range(len(texts)), key=lambda i: -len(encoded["input_ids"][i]))
    pad = pad_id(tokenizer)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield rows, pad_batch(encoded, rows, pad)


def batched_outputs(run: Callable[[dict[str, torch.Tensor]], Any], tokenizer: Any, texts: Sequence[str], *,
                    batch_size: int, max_length: int, progress: bool = False, desc: str = "batches") -> np.ndarray:
    """run(batch) for every length-sorted batch of `texts`, its rows put back in the order of `texts`.

    `run` gets a padded batch of torch tensors and returns an array with one row per text in it (a
    PyTorch model's logits, an ONNX Runtime session's output, any runtime's).
    """
    from tqdm import tqdm  # text bars: no ipywidgets needed, same in a terminal and a notebook

    if len(texts) == 0:
        raise ValueError("no texts to run: pass at least one")
    parts, order = [], []
    batches = length_sorted_batches(tokenizer, texts, batch_size=batch_size, max_length=max_length)
    for rows, batch in tqdm(batches, total=-(-len(texts) // batch_size), desc=desc, disable=not progress,
                            leave=False, mininterval=5.0):
        parts.append(np.asarray(run(batch)))
        order += rows
    out = np.empty((len(texts),) + parts[0].shape[1:], dtype=parts[0].dtype)
    out[order] = np.concatenate(parts)
    return out

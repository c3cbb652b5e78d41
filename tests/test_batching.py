"""batching: the one loop that runs a model over many texts, batches padded only to their longest."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from edgehelpers.batching import batched_outputs, length_sorted_batches  # noqa: E402

TEXTS = ["a", "a much longer headline with many more words in it", "mid length text", "b c", "x y z w"]


def test_rows_come_back_in_the_order_of_the_texts(tokenizer):
    seen = []

    def run(batch):  # each row's real length, so the order can be checked against the texts
        seen.append(batch["input_ids"].shape)
        return batch["attention_mask"].sum(1, keepdim=True).numpy()

    out = batched_outputs(run, tokenizer, TEXTS, batch_size=2, max_length=32)
    want = [len(tokenizer(t)["input_ids"]) for t in TEXTS]
    assert out[:, 0].tolist() == want and out.dtype == np.int64
    assert len(seen) == 3 and seen[0][1] == max(want), "longest first, each batch padded to its longest"


def test_it_is_the_loop_length_sorted_batches_describes(tokenizer):
    rows = [r for r, _ in length_sorted_batches(tokenizer, TEXTS, batch_size=2, max_length=32)]
    calls = iter(rows)
    out = batched_outputs(lambda b: np.array([[r] for r in next(calls)]), tokenizer, TEXTS, batch_size=2,
                          max_length=32)
    assert out[:, 0].tolist() == list(range(len(TEXTS)))


def test_no_texts_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="no texts"):
        batched_outputs(lambda b: b, tokenizer, [], batch_size=2, max_length=8)

"""edgehelpers.train: a tiny random BERT learns a separable toy task; predictions keep their order."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from edgehelpers.data import TextData  # noqa: E402
from edgehelpers.train import evaluate, fine_tune, length_sorted_batches, predict_logits  # noqa: E402

FILLERS = ["the market opened", "a new report says", "officials said on monday", "in the city today",
           "experts warn that", "after the meeting", "sources confirm", "late on friday"]


def toy_data(n: int, seed: int = 0) -> TextData:
    """Headline-like texts whose class is decided by one keyword (apple vs cricket)."""
    rng = np.random.default_rng(seed)
    labels = [i % 2 for i in range(n)]
    texts = [f"{FILLERS[rng.integers(len(FILLERS))]} {('apple', 'cricket')[y]} "
             f"{' '.join(rng.choice(FILLERS, size=rng.integers(0, 3)))}" for y in labels]
    return TextData(texts, labels, ["tech", "sports"], "toy", "train")


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def tiny_model(tokenizer, num_labels: int = 2, seed: int = 0):
    """A 2-layer, 32-wide BERT classifier with random weights and the MiniLM vocabulary."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=64, num_labels=num_labels)
    return transformers.BertForSequenceClassification(config)


def test_tiny_bert_learns_a_separable_task(tokenizer) -> None:
    model = tiny_model(tokenizer)
    losses = fine_tune(model, tokenizer, toy_data(64), epochs=10, batch_size=16, lr=5e-3,
                       max_length=32, seed=0, progress=False)
    assert len(losses) == 10 * 4
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])
    acc = evaluate(model, tokenizer, toy_data(64, seed=1), max_length=32)
    assert acc.n == 64 and acc.value > 0.9  # chance is 0.5
    assert not model.training


def test_fine_tune_is_deterministic(tokenizer) -> None:
    runs = []
    for _ in range(2):
        model = tiny_model(tokenizer)
        runs.append(fine_tune(model, tokenizer, toy_data(32), epochs=1, batch_size=8, lr=1e-3,
                              max_length=32, seed=3, progress=False))
    assert runs[0] == runs[1]


def test_loss_fn_hook_gets_outputs_and_row_numbers(tokenizer) -> None:
    seen: list[int] = []

    def loss_fn(outputs, labels, rows):
        seen.extend(rows)
        assert outputs.logits.shape == (len(rows), 2) and labels.shape == (len(rows),)
        assert len(outputs.hidden_states) == 3  # embeddings + 2 layers, because hidden_states=True
        return torch.nn.functional.cross_entropy(outputs.logits, labels)

    fine_tune(tiny_model(tokenizer), tokenizer, toy_data(20), epochs=1, batch_size=8, lr=1e-3,
              max_length=32, seed=0, progress=False, loss_fn=loss_fn, hidden_states=True)
    assert sorted(seen) == list(range(20))  # every example exactly once per epoch


def test_predict_logits_keeps_the_order_of_texts(tokenizer) -> None:
    model = tiny_model(tokenizer, num_labels=3)
    texts = ["short", "a much longer headline with many more words in it than the others",
             "medium length headline here", "x", "another fairly long headline about the markets"]
    batched = predict_logits(model, tokenizer, texts, batch_size=2)
    one_by_one = np.concatenate([predict_logits(model, tokenizer, [t], batch_size=1) for t in texts])
    assert batched.shape == (5, 3) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert predict_logits(model, tokenizer, []).shape == (0, 3)


def test_empty_data_is_an_error(tokenizer) -> None:
    empty = TextData([], [], ["a", "b"], "toy", "train")
    with pytest.raises(ValueError, match="nothing to train"):
        fine_tune(tiny_model(tokenizer), tokenizer, empty, epochs=1, batch_size=8, lr=1e-3,
                  max_length=32, seed=0, progress=False)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate(tiny_model(tokenizer), tokenizer, empty)


def test_on_step_runs_before_every_step_with_the_total(tokenizer) -> None:
    calls: list[tuple[int, int]] = []
    fine_tune(tiny_model(tokenizer), tokenizer, toy_data(20), epochs=2, batch_size=8, lr=1e-3,
              max_length=32, seed=0, progress=False, on_step=lambda step, total: calls.append((step, total)))
    assert calls == [(i, 6) for i in range(6)]  # 3 batches a epoch, 2 epochs


def test_length_sorted_batches_cover_every_text_once_longest_first(tokenizer) -> None:
    texts = ["a", "a much longer headline than the rest", "mid length one", "b c"]
    batches = list(length_sorted_batches(tokenizer, texts, batch_size=3, max_length=32))
    assert sorted(r for rows, _ in batches for r in rows) == [0, 1, 2, 3]
    assert batches[0][0][0] == 1  # the longest text comes first
    for rows, batch in batches:  # padded to the batch's longest member, mask marks the real tokens
        lengths = [len(tokenizer(texts[r])["input_ids"]) for r in rows]
        assert batch["input_ids"].shape == (len(rows), max(lengths))
        assert batch["attention_mask"].sum(1).tolist() == lengths


def test_head_lr_gives_the_classifier_its_own_rate(tokenizer) -> None:
    from edgehelpers.train import _param_groups

    model = tiny_model(tokenizer)
    groups = _param_groups(model, 0.01, 1e-4, head_lr=3e-3)
    head = {id(p) for p in model.classifier.parameters()}
    for group in groups:
        ids = {id(p) for p in group["params"]}
        assert ids <= head or not ids & head  # a group is all head or no head
        assert group["lr"] == (3e-3 if ids <= head else 1e-4)
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)
    assert {g["lr"] for g in _param_groups(model, 0.01, 1e-4)} == {1e-4}

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


def test_adamw_uses_the_fused_kernel() -> None:
    from edgehelpers.train import adamw

    opt = adamw([torch.nn.Parameter(torch.zeros(3))], lr=1e-3, weight_decay=0.01)
    assert opt.defaults["fused"] and opt.defaults["weight_decay"] == 0.01


def three_layer_model(tokenizer):
    """A 3-layer tiny BERT classifier: a bottom to freeze and layers above it."""
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=3,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                                     num_labels=2)
    return transformers.BertForSequenceClassification(config)


def test_frozen_prefix_features_give_the_whole_model_s_logits(tokenizer) -> None:
    from edgehelpers.train import FrozenPrefix

    model = three_layer_model(tokenizer).eval()
    texts = toy_data(20).texts
    prefix = FrozenPrefix(model, 2)
    feats = prefix.features(tokenizer, texts, max_length=32, batch_size=8)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=32)["input_ids"]]
    assert [f.shape for f in feats] == [(n, 32) for n in lengths]  # one unpadded (tokens, hidden) per text
    np.testing.assert_allclose(prefix.logits(feats, batch_size=8), predict_logits(model, tokenizer, texts, max_length=32),
                               atol=1e-5)
    assert type(model.bert.embeddings).__name__ == "BertEmbeddings" and len(model.bert.encoder.layer) == 3  # restored
    frozen = [p for m in (model.bert.embeddings, *model.bert.encoder.layer[:2]) for p in m.parameters()]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in model.bert.encoder.layer[2].parameters())
    with prefix.top_only() as top, pytest.raises(ValueError, match="inputs_embeds"):
        top(input_ids=torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="1 to 2"):
        FrozenPrefix(model, 3)
    with pytest.raises(TypeError, match="BERT-style"):
        FrozenPrefix(torch.nn.Linear(2, 2), 1)


def test_fine_tune_on_cached_features_equals_fine_tuning_above_a_frozen_bottom(tokenizer) -> None:
    from edgehelpers.train import FrozenPrefix

    def model_without_dropout():
        model = three_layer_model(tokenizer)
        model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        return model

    data = toy_data(64)
    kw = dict(epochs=2, batch_size=16, lr=5e-3, max_length=32, seed=0, progress=False)
    plain = model_without_dropout()  # the bottom frozen and run at every step
    for module in (plain.bert.embeddings, *plain.bert.encoder.layer[:2]):
        module.requires_grad_(False)
    plain_losses = fine_tune(plain, tokenizer, data, **kw)
    cached = model_without_dropout()
    prefix = FrozenPrefix(cached, 2)
    feats = prefix.features(tokenizer, data.texts, max_length=32)
    bottom = [p.detach().clone() for p in cached.bert.encoder.layer[0].parameters()]
    with prefix.top_only() as view:
        cached_losses = fine_tune(view, tokenizer, data, batch_inputs=lambda rows: prefix.inputs(feats, rows), **kw)
    np.testing.assert_allclose(cached_losses, plain_losses, rtol=1e-4)  # the same batches, the same steps
    for a, b in zip(plain.parameters(), cached.parameters()):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(bottom, cached.bert.encoder.layer[0].parameters()))
    assert cached_losses[-1] != cached_losses[0]  # it trained

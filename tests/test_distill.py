"""edgehelpers.distill: the loss reduces to its parts, students keep what they should of the teacher."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from edgehelpers.data import TextData  # noqa: E402
from edgehelpers.distill import (  # noqa: E402
    kd_loss,
    layer_subset_student,
    masked_mean,
    narrow_student,
    recover,
    teacher_targets,
)

TEXTS = ["rain expected in pune", "cricket team wins", "new phone launched", "markets fall", "a"]


@pytest.fixture(scope="module")
def teacher(tokenizer):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=3,
                                     num_attention_heads=4, intermediate_size=128, num_labels=3)
    return transformers.BertForSequenceClassification(config).eval()


def test_kd_loss_is_cross_entropy_at_alpha_zero_and_zero_for_a_perfect_copy():
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 4), torch.randn(6, 4), torch.randint(0, 4, (6,))
    assert torch.allclose(kd_loss(s, t, y, temperature=3.0, alpha=0.0), torch.nn.functional.cross_entropy(s, y))
    assert kd_loss(t, t, y, temperature=3.0, alpha=1.0).abs() < 1e-6
    assert kd_loss(s, t, y, temperature=2.0, alpha=1.0) > 0


def test_kd_loss_uses_labels_only_where_allowed():
    torch.manual_seed(1)
    s, t, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    none = torch.zeros(4, dtype=torch.bool)
    assert torch.allclose(kd_loss(s, t, y, temperature=1.0, alpha=0.5, labelled=none),
                          kd_loss(s, t, y, temperature=1.0, alpha=1.0) * 0.5)
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(s, t, y, temperature=0.0, alpha=0.5)


def test_masked_mean_ignores_padding():
    h = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    assert torch.equal(masked_mean(h, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 2.0]]))


def test_all_layers_subset_is_the_teacher_and_a_subset_is_smaller(teacher, tokenizer):
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    same = layer_subset_student(teacher, [0, 1, 2]).eval()
    with torch.no_grad():
        assert torch.allclose(same(**enc).logits, teacher(**enc).logits, atol=1e-6)
    small = layer_subset_student(teacher, [2])
    assert len(small.bert.encoder.layer) == 1 and small.config.num_hidden_layers == 1
    assert teacher.config.num_hidden_layers == 3  # the teacher is untouched
    assert torch.equal(small.bert.encoder.layer[0].output.dense.weight, teacher.bert.encoder.layer[2].output.dense.weight)
    with pytest.raises(ValueError, match="distinct indices"):
        layer_subset_student(teacher, [3])


def test_narrow_student_projects_the_teachers_embeddings(teacher):
    s = narrow_student(teacher, hidden=16, layers=2, heads=2, intermediate=32)
    assert s.bert.embeddings.word_embeddings.weight.shape == (teacher.config.vocab_size, 16)
    assert s.config.num_hidden_layers == 2 and teacher.config.hidden_size == 64
    words = teacher.bert.embeddings.word_embeddings.weight.detach()
    kept = s.bert.embeddings.word_embeddings.weight.detach().var(0).sum() / words.var(0).sum()
    assert 16 / 64 < kept < 1.0  # the top principal directions keep more than their share of variance
    with pytest.raises(ValueError, match="multiple"):
        narrow_student(teacher, hidden=18, layers=1, heads=4, intermediate=32)


def test_teacher_targets_follow_the_order_of_texts(teacher, tokenizer):
    logits, pooled = teacher_targets(teacher, tokenizer, TEXTS, layers=(0, 3), batch_size=2)
    assert logits.shape == (5, 3) and pooled[3].shape == (5, 64)
    one, _ = teacher_targets(teacher, tokenizer, TEXTS[3:4])
    np.testing.assert_allclose(logits[3], one[0], atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        teacher_targets(teacher, tokenizer, [])


# ---- recover: fine-tuning a compressed student towards the teacher's logits ----------------------


def _transfer_set(n: int = 16) -> TextData:
    texts = [f"{TEXTS[i % 4]} number {i}" for i in range(n)]
    return TextData(texts, [i % 3 for i in range(n)], ["a", "b", "c"], "toy", "train")


def _teacher_logits(n: int = 16) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32) * 3


def _embedding_state(model) -> dict:
    return {k: v.clone() for k, v in model.bert.embeddings.state_dict().items()}


@pytest.mark.usefixtures("one_thread")
def test_recover_trains_the_encoder_and_returns_the_model_in_eval_mode(tiny_bert, tokenizer):
    student = tiny_bert()
    before = student.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    head = student.classifier.weight.detach().clone()
    out = recover(student, tokenizer, _transfer_set(), _teacher_logits(), lr=1e-3, max_length=16, batch_size=8)
    assert out is student and not student.training
    assert not torch.equal(student.bert.encoder.layer[0].attention.self.query.weight, before)
    assert not torch.equal(student.classifier.weight, head)


@pytest.mark.usefixtures("one_thread")
def test_recover_freezes_the_embeddings_while_training_and_thaws_them_after(tiny_bert, tokenizer):
    student = tiny_bert()
    embeddings = _embedding_state(student)
    frozen_at_step = []

    def on_step(step, total):
        frozen_at_step.append(not any(p.requires_grad for p in student.bert.embeddings.parameters()))

    recover(student, tokenizer, _transfer_set(), _teacher_logits(), lr=1e-2, max_length=16, batch_size=8,
            on_step=on_step)
    assert frozen_at_step == [True, True]  # 16 examples in batches of 8
    assert all(p.requires_grad for p in student.bert.embeddings.parameters())
    after = _embedding_state(student)
    assert after.keys() == embeddings.keys()
    assert all(torch.equal(after[k], embeddings[k]) for k in embeddings)


@pytest.mark.usefixtures("one_thread")
def test_recover_thaws_the_embeddings_even_when_training_fails(tiny_bert, tokenizer):
    student = tiny_bert()

    def stop(step, total):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        recover(student, tokenizer, _transfer_set(), _teacher_logits(), lr=1e-3, max_length=16, on_step=stop)
    assert all(p.requires_grad for p in student.bert.embeddings.parameters())


@pytest.mark.parametrize("logits", [np.zeros((15, 3)), np.zeros((17, 3)), np.zeros(16)])
def test_recover_needs_one_row_of_teacher_logits_per_example(tiny_bert, tokenizer, logits):
    student = tiny_bert()
    weight = student.bert.encoder.layer[0].output.dense.weight.detach().clone()
    with pytest.raises(ValueError, match=r"teacher_logits must be \[len\(data\), classes\] = \[16"):
        recover(student, tokenizer, _transfer_set(), logits, lr=1e-3, max_length=16)
    assert torch.equal(student.bert.encoder.layer[0].output.dense.weight, weight)  # refused before training

"""edgehelpers.distill: the loss reduces to its parts, students keep what they should of the teacher."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from edgehelpers.distill import (  # noqa: E402
    kd_loss,
    layer_subset_student,
    masked_mean,
    narrow_student,
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

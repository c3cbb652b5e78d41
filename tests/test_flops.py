"""edgehelpers.flops: fused CPU attention is counted, so SDPA and eager models count the same."""

import pytest
import torch
import torch.nn.functional as F

from edgehelpers.flops import count_flops


class _Attention(torch.nn.Module):
    def __init__(self, fused: bool):
        super().__init__()
        self.fused = fused

    def forward(self, q, k, v):
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v)
        return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v


def test_fused_attention_counts_like_its_eager_twin():
    q = k = v = torch.randn(2, 3, 17, 8)
    fused, eager = count_flops(_Attention(True), q, k, v), count_flops(_Attention(False), q, k, v)
    expected = 2 * (2 * 2 * 3 * 17 * 17 * 8)  # two batched products of 2*b*h*n*n*d each
    assert fused.total == eager.total == expected
    assert fused.share("attention") == 1.0 and eager.share("bmm") == 1.0


def test_a_bert_with_sdpa_counts_its_attention():
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    ids = torch.randint(0, 50, (1, 40))
    counts = {}
    for impl in ("sdpa", "eager"):
        config._attn_implementation = impl
        counts[impl] = count_flops(BertModel(config, add_pooling_layer=False).eval(), input_ids=ids)
    assert counts["sdpa"].total == counts["eager"].total
    assert counts["sdpa"].by_op["attention"] == counts["eager"].by_op["bmm"] == 2 * 2 * (2 * 40 * 40 * 32)
    assert counts["sdpa"].gflops == pytest.approx(counts["sdpa"].total / 1e9)


def test_bad_model_is_a_type_error():
    with pytest.raises(TypeError, match="callable"):
        count_flops("resnet18")

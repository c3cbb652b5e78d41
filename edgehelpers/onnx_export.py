"""Export a Hugging Face encoder or classifier to ONNX and check that ONNX Runtime reproduces it.

The legacy TorchScript exporter (`dynamo=False`) runs without error on transformers 5 but produces a
graph whose logits are wrong (accuracy falls to chance), so only the dynamo exporter is used, and
every export is checked against PyTorch before anyone measures it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgehelpers.cache import atomic_path

INPUT_NAMES = ("input_ids", "attention_mask")
_LINEAR = ": torch.nn.modules.linear.Linear"


class ExportMismatchError(RuntimeError):
    """The exported ONNX graph does not reproduce the PyTorch model's outputs."""


def export_onnx(model: Any, tokenizer: Any, path: str | Path, *, output_name: str = "logits",
                max_batch: int = 64, max_seq: int = 512, atol: float = 1e-4, opset: int | None = None) -> Path:
    """Export `model` (ids, mask -> first output) with dynamic batch and length; raise if ORT disagrees.

    `opset` None is the exporter's default; 23 or later writes SDPA as ONNX's standard `Attention` node.
    """
    import warnings

    import torch
    from torch.export import Dim

    path = Path(path)
    sample = tokenizer(["an example headline", "a second, somewhat longer example headline here"],
                       padding=True, return_tensors="pt")
    kwargs = {name: sample[name] for name in INPUT_NAMES}
    batch, seq = Dim("batch", max=max_batch), Dim("seq", max=max_seq)
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # both inputs share one batch and one length dimension: the exporter says so once per name
        warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)", category=FutureWarning)
        program = torch.onnx.export(model, (), kwargs=kwargs, dynamo=True, verbose=False, opset_version=opset,
                                    input_names=list(INPUT_NAMES), output_names=[output_name],
                                    dynamic_shapes={name: {0: batch, 1: seq} for name in INPUT_NAMES})
    with atomic_path(path) as tmp:
        program.save(str(tmp))
        check_logits(model, tokenizer, tmp, atol=atol)  # a file that fails never takes the final name
    return path


def check_logits(model: Any, tokenizer: Any, path: str | Path, *, atol: float = 1e-4) -> float:
    """Largest |difference| of the first output between PyTorch and ORT at two shapes; raise above `atol`."""
    import torch

    from edgehelpers.onnxrt import session

    sess = session(path, threads=1)
    worst = 0.0
    for texts, length in ((["one short headline"], 8), (["a batch of three", "headlines of", "several sizes"], 40)):
        enc = tokenizer(texts, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
        with torch.no_grad():
            expected = model(**{n: enc[n] for n in INPUT_NAMES})[0].float().numpy()
        got = sess.run(None, {n: enc[n].numpy().astype(np.int64) for n in INPUT_NAMES})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > atol:
        raise ExportMismatchError(f"{path}: ONNX Runtime's outputs differ from PyTorch's by {worst:.3g} "
                                  f"(> {atol}); do not measure this file. Re-export with the dynamo exporter.")
    return worst


def linear_node_names(path: str | Path) -> dict[str, str]:
    """{ONNX node name: PyTorch module name} for every node the dynamo exporter made from an nn.Linear."""
    import onnx

    names = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        scope = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        module = [part[: -len(_LINEAR)] for part in scope.split("/") if part.endswith(_LINEAR)]
        if module and node.op_type in ("MatMul", "Gemm"):
            names[node.name] = module[-1]
    return names

"""Convert a Hugging Face classifier (ids, mask -> logits) for each runtime of `edgehelpers.runtimes`.

One function per target, each a few calls of the real library: OpenVINO (from the ONNX file),
NNCF INT8, ExecuTorch with XNNPACK (FP32 or 8-bit dynamic), LiteRT via litert-torch (FP32) and
ai-edge-quantizer (dynamic INT8), Core ML via coremltools. Every file is written atomically. The
slow converters also run as a command, so a notebook can run them in a background process:

    python -m edgehelpers.convert executorch MODEL_DIR OUT.pte [--int8]
    python -m edgehelpers.convert litert MODEL_DIR OUT.tflite --seq 32
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .cache import atomic_dir, atomic_path
from .deps import require
from .quiet import converters as _quiet
from .quiet import native_stderr as quiet_native_stderr


def logits_only(model: Any) -> Any:
    """`model` as a module with positional (input_ids, attention_mask) -> logits: what exporters trace."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    return LogitsOnly(model).eval()


def _example(seq: int, dtype: Any) -> tuple[Any, Any]:
    """Batch-1 ids and mask of `seq` tokens: the shape exporters trace."""
    import torch

    ids = torch.full((1, seq), 1000, dtype=dtype)
    ids[0, 0], ids[0, -1] = 101, 102  # [CLS] ... [SEP]
    return ids, torch.ones(1, seq, dtype=dtype)


# ---- OpenVINO ---------------------------------------------------------------------------------

def to_openvino(onnx_path: str | Path, xml_path: str | Path, *, fp16_weights: bool = False) -> Path:
    """Convert an ONNX file to OpenVINO IR (.xml + .bin); weights stay FP32 unless fp16_weights.

    `openvino.save_model` stores FP16 weights by default (compress_to_fp16=True): half the file,
    and a silent change of the numbers, so the book asks for it explicitly.
    """
    ov = require("openvino", "openvino==2026.4.1", purpose="OpenVINO")
    model = ov.convert_model(str(onnx_path))
    return _save_openvino(ov, model, xml_path, fp16_weights)


def _save_openvino(ov: Any, model: Any, xml_path: str | Path, fp16_weights: bool) -> Path:
    """Save IR (.xml + .bin) in a temporary folder beside it, then move the weights, then the graph."""
    import shutil
    import tempfile

    xml_path = Path(xml_path)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{xml_path.stem}.", suffix=".part", dir=xml_path.parent))
    try:
        ov.save_model(model, str(tmp / xml_path.name), compress_to_fp16=fp16_weights)
        (tmp / xml_path.name).with_suffix(".bin").replace(xml_path.with_suffix(".bin"))
        (tmp / xml_path.name).replace(xml_path)  # last: a reader never finds a graph without its weights
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return xml_path


def openvino_int8(xml_path: str | Path, dst: str | Path, calibration: Iterable[Mapping[str, np.ndarray]],
                  *, subset_size: int = 300) -> Path:
    """INT8 post-training quantization with NNCF (transformer preset: SmoothQuant, FFN outputs kept safe)."""
    ov = require("openvino", "openvino==2026.4.1", purpose="OpenVINO")
    nncf = require("nncf", "nncf==3.4.0", purpose="INT8 quantization for OpenVINO")
    model = ov.Core().read_model(str(xml_path))
    wanted = [p.get_any_name() for p in model.inputs]
    items = [{k: np.asarray(f[k] if k in f else np.zeros_like(f["input_ids"])).astype(np.int64) for k in wanted}
             for f in calibration]
    if not items:
        raise ValueError("calibration is empty: pass a few hundred tokenized inputs (one dict per headline)")
    with _quiet():
        quantized = nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=min(subset_size, len(items)))
    return _save_openvino(ov, quantized, dst, fp16_weights=False)


# ---- ExecuTorch -------------------------------------------------------------------------------

def _xnnpack_dynamic_int8_quantizer() -> Any:
    """XNNPACK's 8-bit dynamic quantizer (per-channel weights), patched for transformers 5 graphs.

    Its `transform_for_annotation` lifts every scalar of add/mul to a float32 constant, which turns
    transformers 5's int64 position arithmetic into floats and breaks indexing (executorch#22062,
    fixed after 1.5.1). Dynamic quantization annotates only Linear layers, so skipping that step
    loses nothing.
    """
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)

    class FloatSafeXNNPACKQuantizer(XNNPACKQuantizer):  # type: ignore[misc]
        def transform_for_annotation(self, model: Any) -> Any:
            return model

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)
    return FloatSafeXNNPACKQuantizer().set_global(config)


def to_executorch(model: Any, path: str | Path, *, int8: bool = False, max_seq: int = 128,
                  max_batch: int = 64) -> Path:
    """Export to an ExecuTorch program delegated to XNNPACK: any batch and length up to the maxima."""
    import torch
    from torch.export import Dim, export

    require("executorch", "executorch==1.5.1", purpose="ExecuTorch")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    module = logits_only(model)
    example = tuple(t.repeat(2, 1) for t in _example(16, torch.long))  # batch 2: 1 would be specialised
    batch, seq = Dim("batch", min=1, max=max_batch), Dim("seq", min=2, max=max_seq)
    shapes = ({0: batch, 1: seq}, {0: batch, 1: seq})
    with _quiet(), torch.no_grad():
        if int8:
            from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

            prepared = prepare_pt2e(export(module, example, dynamic_shapes=shapes).module(),
                                    _xnnpack_dynamic_int8_quantizer())
            prepared(*example)  # dynamic quantization: one pass records the weights' ranges
            module = convert_pt2e(prepared)
        program = export(module, example, dynamic_shapes=shapes)
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        buffer = lowered.to_executorch().buffer
    with atomic_path(Path(path).with_suffix(".json")) as tmp:  # what XNNPACK took and what it left out
        tmp.write_text(json.dumps(delegation(lowered.exported_program())))
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer)
    return Path(path)


def delegation(program: Any) -> dict:
    """{"delegated": calls into a backend, "outside": {op: count}} of a lowered ExportedProgram.

    Each backend call is one partition: a run of operators the backend took as a block. Operators
    outside run in ExecuTorch's portable kernels, and every boundary costs a hand-over.
    """
    outside: Counter[str] = Counter()
    delegated = 0
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "executorch_call_delegate" in name:
            delegated += 1
        elif name not in ("getitem", "_assert_tensor_metadata", "sym_size"):
            outside[name.split(".")[0].removeprefix("aten_")] += 1
    return {"delegated": delegated, "outside": dict(outside.most_common())}


# ---- LiteRT -----------------------------------------------------------------------------------

def to_litert(model: Any, path: str | Path, *, seq_len: int) -> Path:
    """Convert with litert-torch to a .tflite of static shape [1, seq_len] with int32 ids and mask.

    litert-torch 0.10 fails on this model with a dynamic length, so each length is its own file.
    """
    import torch

    with quiet_native_stderr():  # its import logs TensorFlow's start-up notices from C++
        litert_torch = require("litert_torch", "litert-torch==0.10.0", purpose="LiteRT conversion")
    config = litert_torch._config.config
    shown = config.show_progress
    config.show_progress = False  # its rich console draws a notebook widget per step otherwise
    try:
        with _quiet(), quiet_native_stderr():  # its C++ converter logs op counts to stderr
            edge = litert_torch.convert(logits_only(model), _example(seq_len, torch.int32))
        with atomic_path(path) as tmp, _quiet(), quiet_native_stderr():
            edge.export(str(tmp))
    finally:
        config.show_progress = shown
    return Path(path)


def litert_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic INT8 with ai-edge-quantizer: INT8 weights, activations quantized on the fly (XNNPACK)."""
    require("ai_edge_quantizer", "ai-edge-quantizer", purpose="LiteRT quantization")
    from ai_edge_quantizer import quantizer, recipe

    with _quiet():
        q = quantizer.Quantizer(str(src))
        q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
        result = q.quantize()
    with atomic_path(dst) as tmp, _quiet():
        result.export_model(str(tmp), overwrite=True)
    return Path(dst)


# ---- Core ML ----------------------------------------------------------------------------------

def to_coreml(model: Any, path: str | Path, *, seq_len: int) -> Path:
    """Convert to a Core ML ML Program (.mlpackage, FP16 compute) of static shape [1, seq_len].

    coremltools takes the ExportedProgram after `run_decompositions()` (the core ATen op set); the
    un-decomposed graph fails on ops such as new_ones. Predictions need macOS; conversion runs anywhere.
    """
    import torch
    from torch.export import export

    ct = require("coremltools", "coremltools==9.0", purpose="Core ML conversion")
    with _quiet(), torch.no_grad():
        program = export(logits_only(model), _example(seq_len, torch.long)).run_decompositions()
        mlmodel = ct.convert(program, minimum_deployment_target=ct.target.iOS17)
    with atomic_dir(path) as tmp:
        target = tmp / Path(path).name
        mlmodel.save(str(target))
        for part in target.iterdir():  # the package's contents become the folder's
            part.replace(tmp / part.name)
        target.rmdir()
    return Path(path)


# ---- the cached edge conversions of a saved classifier, and the command line that makes them -----

def conversion_dir(model_dir: str | Path) -> Path:
    """Where the slow conversions of a saved model are cached: keyed by its folder and the converters' versions."""
    from .cache import cache_dir
    from .machine import lib_versions

    versions = lib_versions(("torch", "transformers", "executorch", "litert-torch", "ai-edge-quantizer", "coremltools"))
    key = hashlib.sha1(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir("models") / f"{Path(model_dir).name}.edge-{key}"


def edge_conversions(model_dir: str | Path, *, static: int, seq: int) -> dict[str, list[tuple[Path, list[str]]]]:
    """The ExecuTorch, LiteRT and Core ML conversions of a saved classifier, as two chains of commands.

    {chain name: [(output file, arguments of `python -m edgehelpers.convert`), ...]}: the chains are
    independent (two processes can run them at once); within one, later steps read earlier outputs.
    The two ExecuTorch lowerings take longest, so each chain gets one of them (their times balance).
    """
    out, src = conversion_dir(model_dir), str(model_dir)

    def lite(n: int) -> list[tuple[Path, list[str]]]:
        fp32, int8 = out / f"lt{n}.tflite", out / f"lt{n}-int8.tflite"
        return [(fp32, ["litert", src, str(fp32), "--seq", str(n)]), (int8, ["litert-int8", str(fp32), str(int8)])]

    return {
        "ExecuTorch FP32 and LiteRT": [(out / "et.pte", ["executorch", src, str(out / "et.pte"), "--seq", str(seq)]),
                                       *lite(static)],
        "ExecuTorch INT8, LiteRT and Core ML": [
            (out / "et-int8.pte", ["executorch", src, str(out / "et-int8.pte"), "--int8", "--seq", str(seq)]),
            *lite(seq),
            (out / "classifier.mlpackage", ["coreml", src, str(out / "classifier.mlpackage"), "--seq", str(static)])],
    }


@functools.lru_cache(maxsize=2)
def _load(model_dir: str) -> Any:
    """A saved Hugging Face classifier folder, offline (loaded once per process for several steps)."""
    from .classifiers import load_classifier_model

    return load_classifier_model(model_dir)


THEN = "--then"  # separates the steps of one command: they run in one process, importing the converters once


def chain_command(steps: list[list[str]]) -> list[str]:
    """One `python -m edgehelpers.convert` command line that runs `steps` in turn, in one process."""
    argv: list[str] = []
    for step in steps:
        argv += ([THEN] if argv else []) + list(step)
    return [sys.executable, "-m", "edgehelpers.convert", *argv]


def _step(argv: list[str]) -> None:
    """One conversion: TARGET SOURCE OUT [--int8] [--seq N]; an existing OUT is kept."""
    parser = argparse.ArgumentParser(prog="python -m edgehelpers.convert", description=main.__doc__)
    parser.add_argument("target", choices=["executorch", "litert", "litert-int8", "coreml"])
    parser.add_argument("source", help="a saved classifier folder (litert-int8: an FP32 .tflite file)")
    parser.add_argument("out")
    parser.add_argument("--int8", action="store_true", help="executorch: the 8-bit dynamic program")
    parser.add_argument("--seq", type=int, default=128, help="static length (LiteRT, Core ML) or maximum (ExecuTorch)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():  # written atomically: if it is there, it is whole
        print("kept", out)
        return
    start = time.perf_counter()
    if args.target == "litert-int8":
        litert_int8(args.source, out)
        print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
        return
    import torch

    torch.set_num_threads(1)  # often a background job: leave the other cores to the notebook
    model = _load(args.source)
    if args.target == "executorch":
        to_executorch(model, out, int8=args.int8, max_seq=args.seq)
    elif args.target == "litert":
        to_litert(model, out, seq_len=args.seq)
    else:
        to_coreml(model, out, seq_len=args.seq)
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> None:
    """`python -m edgehelpers.convert TARGET SOURCE OUT [--int8] [--seq N] [--then TARGET ...]`;
    an existing OUT is kept; steps joined by --then run in turn in this one process."""
    argv = list(sys.argv[1:] if argv is None else argv)
    step: list[str] = []
    for arg in argv + [THEN]:
        if arg != THEN:
            step.append(arg)
            continue
        if not step:
            raise SystemExit(f"an empty step in {argv}: {THEN} must separate two steps")
        _step(step)
        step = []


if __name__ == "__main__":
    main()

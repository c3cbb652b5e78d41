"""One small interface over every inference runtime the book measures.

`load(kind, path, threads=...)` returns a `Runtime`: `name`, `path`, `size_bytes`, `run(feed)` (logits
as a float32 array) and `bind(feed)` (a no-argument callable for timing, with the input converted
once). Feeds are what the tokenizer gives: {"input_ids": int64 [batch, seq], "attention_mask": ...}.
Each adapter converts them to what its runtime wants (int32 for LiteRT, padding for static shapes).
A runtime that is not installed raises `MissingPackageError` naming the pip package; one that cannot
run on this machine (Core ML off macOS, TensorRT without CUDA) raises `RuntimeUnavailable` with the
reason, so a notebook can print it and go on.

Timing goes through here too: `as_callable(obj, feed)` turns a `Runtime`, a torch module, an ONNX
Runtime session, a LiteRT interpreter or a plain callable into the no-argument call that
`timing.compare_latency` times (text or image inputs), `compare_at` times variants on several
inputs, and `threads_by_input` builds the book's thread-by-input table.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import timing
from .deps import require
from .fresh import peak_bytes, run_marked, tail
from .onnxrt import ort_feed
from .quiet import native_stderr as quiet_native_stderr  # re-exported: its old home
from .size import size_on_disk

# kind -> (module to import, pip package with the version the book is tested with)
KINDS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch==2.13.0"),
    "onnxruntime": ("onnxruntime", "onnxruntime==1.32.0"),
    "openvino": ("openvino", "openvino==2026.4.1"),
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert==2.3.0"),
    "executorch": ("executorch.runtime", "executorch==1.5.1"),
    "coreml": ("coremltools", "coremltools==9.0"),
    "tensorrt": ("tensorrt", "tensorrt"),
}


class RuntimeUnavailable(RuntimeError):
    """The runtime is installed (or installable) but cannot run on this machine; the message says why."""


def _import(kind: str) -> Any:
    """Import the runtime behind `kind`, or raise MissingPackageError with the pip command."""
    if kind not in KINDS:
        raise ValueError(f"unknown runtime kind {kind!r}; choose one of {', '.join(KINDS)}")
    module, pip_name = KINDS[kind]
    return require(module, pip_name, purpose=f"the {kind} runtime")


def _as_int64(feed: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """ids and mask as int64 numpy arrays of shape [batch, seq], checked."""
    missing = [k for k in ("input_ids", "attention_mask") if k not in feed]
    if missing:
        raise ValueError(f"the feed needs input_ids and attention_mask (from the tokenizer); missing {missing}")
    out = {k: np.asarray(feed[k]).astype(np.int64) for k in ("input_ids", "attention_mask")}
    if out["input_ids"].ndim != 2 or out["input_ids"].shape != out["attention_mask"].shape:
        raise ValueError(f"input_ids and attention_mask must both be [batch, seq]; got "
                         f"{out['input_ids'].shape} and {out['attention_mask'].shape}")
    return out


class Runtime:
    """A loaded model: `run(feed)` returns its first output (logits) as float32."""

    kind = ""
    max_batch: int | None = None  # None: any batch; 1: the model was converted for batch 1
    seq_len: int | None = None  # a static-shape model's sequence length (shorter inputs are padded)

    def __init__(self, name: str, path: str | Path | None) -> None:
        self.name = name
        self.path = Path(path) if path is not None else None

    @property
    def size_bytes(self) -> int:
        """Bytes of the model artifact on disk (a file or a folder)."""
        if self.path is None:
            raise ValueError(f"{self.name} has no file on disk")
        return size_on_disk(self.path)

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        """Convert a tokenizer feed once into what `_call` takes."""
        raise NotImplementedError

    def _call(self, prepared: Any) -> np.ndarray:
        """Run the model on a prepared input; return the first output."""
        raise NotImplementedError

    def bind(self, feed: Mapping[str, Any]) -> Callable[[], np.ndarray]:
        """A no-argument callable that runs the model on `feed` (converted once): what timing calls."""
        prepared = self._prepare(feed)
        return lambda: self._call(prepared)

    def run(self, feed: Mapping[str, Any]) -> np.ndarray:
        """Logits for one feed, as float32 [batch, classes]."""
        return np.asarray(self._call(self._prepare(feed)), dtype=np.float32)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.path or ''}>"


class TorchRuntime(Runtime):
    """An nn.Module (eager, or wrapped by torch.compile) called on tensors under inference mode."""

    kind = "torch"

    def __init__(self, model: Any, name: str = "PyTorch eager", path: str | Path | None = None) -> None:
        super().__init__(name, path)
        self.model = model

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        import torch

        return {k: torch.from_numpy(v) for k, v in _as_int64(feed).items()}

    def _call(self, prepared: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model(**prepared)
        out = out[0] if isinstance(out, (tuple, list)) else getattr(out, "logits", out)
        return out.float().numpy()


class OrtRuntime(Runtime):
    """An ONNX Runtime CPU session with fixed intra-op threads."""

    kind = "onnxruntime"

    def __init__(self, path: str | Path, threads: int = 1, name: str = "ONNX Runtime", **session_kwargs: Any) -> None:
        from .onnxrt import session

        super().__init__(name, path)
        _import("onnxruntime")
        self.session = session(path, threads, **session_kwargs)
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        return ort_feed(self.session, _as_int64(feed))

    def _call(self, prepared: Any) -> np.ndarray:
        return self.session.run(None, prepared)[0]


class OpenVinoRuntime(Runtime):
    """An OpenVINO model compiled for the CPU plugin with a fixed thread count and precision hint.

    precision: "f32" (exact), "bf16" (the default on CPUs with AVX512_BF16 or AMX: OpenVINO picks it
    silently unless told), or None to keep the plugin's own choice. static_seq: reshape every input
    to [1, static_seq] before compiling, so the plugin plans for one shape (inputs must be padded to it).
    """

    kind = "openvino"

    def __init__(self, path: str | Path, threads: int = 1, precision: str | None = "f32",
                 name: str = "OpenVINO", static_seq: int | None = None) -> None:
        super().__init__(name, path)
        ov = _import("openvino")
        if not Path(path).exists():
            raise FileNotFoundError(f"no OpenVINO model at {path}: convert it first (openvino.convert_model)")
        config: dict[str, Any] = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        core = ov.Core()
        model = core.read_model(str(path))
        if static_seq:
            model.reshape({p.get_any_name(): [1, static_seq] for p in model.inputs})
        self.compiled = core.compile_model(model, "CPU", config)
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # e.g. "f32", "bf16"
        self.request = self.compiled.create_infer_request()
        self.inputs = [p.get_any_name() for p in self.compiled.inputs]

    @property
    def size_bytes(self) -> int:
        """The .xml graph plus its .bin weights."""
        assert self.path is not None
        return sum(size_on_disk(p) for p in (self.path, self.path.with_suffix(".bin")) if p.exists())

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        arrays = _as_int64(feed)
        arrays["token_type_ids"] = np.zeros_like(arrays["input_ids"])
        return {k: arrays[k] for k in self.inputs}

    def _call(self, prepared: Any) -> np.ndarray:
        return self.request.infer(prepared)[0]


class LiteRtRuntime(Runtime):
    """A LiteRT (.tflite) model in ai-edge-litert's interpreter: int32 ids, a static [1, seq] shape.

    Shorter inputs are padded to the model's length (the mask keeps the padding out of attention);
    longer ones are refused: tokenize with max_length=seq_len.
    """

    kind = "litert"
    max_batch = 1

    def __init__(self, path: str | Path, threads: int = 1, name: str = "LiteRT") -> None:
        super().__init__(name, path)
        interpreter = _import("litert")
        if not Path(path).is_file():
            raise FileNotFoundError(f"no LiteRT model at {path}: convert it first (litert_torch.convert)")
        with quiet_native_stderr():
            self.interpreter = interpreter.Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        self.details = self.interpreter.get_input_details()
        if len(self.details) != 2:
            raise ValueError(f"{path} takes {len(self.details)} inputs; this adapter expects (ids, mask)")
        self.seq_len = int(self.details[0]["shape"][1])
        self.output = self.interpreter.get_output_details()[0]["index"]

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        arrays = _as_int64(feed)
        batch, seq = arrays["input_ids"].shape
        if batch != 1:
            raise ValueError(f"{self.name} was converted for batch 1; run rows one at a time")
        if seq > self.seq_len:
            raise ValueError(f"{self.name} takes at most {self.seq_len} tokens (a static shape), got {seq}: "
                             f"tokenize with truncation=True, max_length={self.seq_len}")
        pad = ((0, 0), (0, self.seq_len - seq))
        return [(d["index"], np.pad(arrays[k], pad).astype(np.int32))
                for d, k in zip(self.details, ("input_ids", "attention_mask"), strict=True)]

    def _call(self, prepared: Any) -> np.ndarray:
        for index, array in prepared:
            self.interpreter.set_tensor(index, array)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


def _executorch_threads(threads: int) -> None:
    """Set the size of ExecuTorch's (process-wide) thread pool."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

    with quiet_native_stderr():
        _unsafe_reset_threadpool(threads)


class ExecuTorchRuntime(Runtime):
    """An ExecuTorch program (.pte) run by its Python runtime, at any batch and length its export allowed.

    ExecuTorch's thread pool is shared by the whole process: the last one created sets its size.
    """

    kind = "executorch"

    def __init__(self, path: str | Path, threads: int = 1, name: str = "ExecuTorch") -> None:
        super().__init__(name, path)
        runtime = _import("executorch")
        if not Path(path).is_file():
            raise FileNotFoundError(f"no ExecuTorch program at {path}: export it first (to_executorch)")
        self.threads = threads
        with quiet_native_stderr():
            _executorch_threads(threads)
            self.method = runtime.Runtime.get().load_program(str(path)).load_method("forward")

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        import torch

        arrays = _as_int64(feed)
        return [torch.from_numpy(arrays["input_ids"]), torch.from_numpy(arrays["attention_mask"])]

    def bind(self, feed: Mapping[str, Any]) -> Callable[[], np.ndarray]:
        """As Runtime.bind, and the pool gets this runtime's thread count back before each timing."""
        _executorch_threads(self.threads)
        return super().bind(feed)

    def _call(self, prepared: Any) -> np.ndarray:
        return self.method.execute(prepared)[0].numpy()


class CoreMLRuntime(Runtime):
    """A Core ML package; predictions need macOS (coremltools converts anywhere, predicts only there)."""

    kind = "coreml"

    def __init__(self, path: str | Path, threads: int = 1, name: str = "Core ML") -> None:
        super().__init__(name, path)
        if sys.platform != "darwin":
            raise RuntimeUnavailable("Core ML predictions run only on macOS/iOS (coremltools converts "
                                     f"anywhere, but MLModel.predict needs Apple's framework); this is {sys.platform}")
        ct = _import("coreml")
        self.model = ct.models.MLModel(str(path))
        self.inputs = [i.name for i in self.model.get_spec().description.input]

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        arrays = _as_int64(feed)
        return dict(zip(self.inputs, (arrays["input_ids"].astype(np.int32),
                                      arrays["attention_mask"].astype(np.int32)), strict=True))

    def _call(self, prepared: Any) -> np.ndarray:
        return next(iter(self.model.predict(prepared).values()))


class TensorRTRuntime(Runtime):
    """A TensorRT engine built from an ONNX file (FP16 allowed), batch 1, lengths 1..max_seq; CUDA only."""

    kind = "tensorrt"
    max_batch = 1

    def __init__(self, path: str | Path, threads: int = 1, name: str = "TensorRT", max_seq: int = 128,
                 fp16: bool = True) -> None:
        super().__init__(name, path)
        ok, why = cuda_available()
        if not ok:
            raise RuntimeUnavailable(why)
        import tensorrt as trt
        import torch

        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(Path(path).read_bytes()):
            raise RuntimeError(f"TensorRT could not parse {path}: {parser.get_error(0)}")
        config = builder.create_builder_config()
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        self.inputs = [network.get_input(i).name for i in range(network.num_inputs)]
        for name_ in self.inputs:  # the shapes the engine is tuned for: min, typical, max
            profile.set_shape(name_, (1, 1), (1, 32), (1, max_seq))
        config.add_optimization_profile(profile)
        engine = trt.Runtime(logger).deserialize_cuda_engine(builder.build_serialized_network(network, config))
        self.context = engine.create_execution_context()
        self.output = network.get_output(0).name
        self.classes = int(network.get_output(0).shape[-1])
        self.torch = torch

    def _prepare(self, feed: Mapping[str, Any]) -> Any:
        arrays = _as_int64(feed)
        arrays["token_type_ids"] = np.zeros_like(arrays["input_ids"])
        tensors = {k: self.torch.from_numpy(arrays[k]).cuda() for k in self.inputs}
        out = self.torch.empty((1, self.classes), device="cuda")
        return tensors, out

    def _call(self, prepared: Any) -> np.ndarray:
        tensors, out = prepared
        for name_, tensor in tensors.items():
            self.context.set_input_shape(name_, tuple(tensor.shape))
            self.context.set_tensor_address(name_, tensor.data_ptr())
        self.context.set_tensor_address(self.output, out.data_ptr())
        self.context.execute_async_v3(self.torch.cuda.current_stream().cuda_stream)
        self.torch.cuda.synchronize()  # an honest timing waits for the GPU
        return out.cpu().numpy()


def cuda_available() -> tuple[bool, str]:
    """(whether an NVIDIA GPU and TensorRT are usable here, the reason if not)."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU on this machine (TensorRT runs only on NVIDIA GPUs: Jetson, desktop, cloud)"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False, f"a CUDA GPU is here but TensorRT is not installed: pip install {KINDS['tensorrt'][1]}"
    return True, ""


_ADAPTERS: dict[str, type[Runtime]] = {
    "onnxruntime": OrtRuntime, "openvino": OpenVinoRuntime, "litert": LiteRtRuntime,
    "executorch": ExecuTorchRuntime, "coreml": CoreMLRuntime, "tensorrt": TensorRTRuntime,
}


def load(kind: str, path: str | Path, *, threads: int = 1, name: str | None = None, **options: Any) -> Runtime:
    """Load the model at `path` in the runtime `kind` (see KINDS) with `threads` threads."""
    if kind == "torch":
        raise ValueError("wrap a PyTorch model in TorchRuntime(model) (it needs the module, not a path)")
    if kind not in _ADAPTERS:
        raise ValueError(f"unknown runtime kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _ADAPTERS[kind](path, threads=threads, name=name or kind, **options)


def logits(runtime: Runtime, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64,
           max_length: int = 64, progress: bool = False) -> np.ndarray:
    """The runtime's logits for every text, in order: length-sorted batches, or rows one by one.

    A static-shape runtime (LiteRT) truncates to its own length; batch-1 runtimes run row by row.
    """
    from .batching import batched_outputs

    max_length = min(max_length, runtime.seq_len or max_length)
    size = 1 if runtime.max_batch == 1 else batch_size
    return batched_outputs(lambda batch: runtime.run({k: v.numpy() for k, v in batch.items()}).astype(np.float32),
                           tokenizer, texts, batch_size=size, max_length=max_length, progress=progress,
                           desc=runtime.name)


# ---------------------------------------------------------------------------------------------
# timing any model: the one place that feeds a runtime (a `Runtime`, or the libraries' own objects)


def _bind(fn: Callable[..., object], inputs: Any) -> Callable[[], object]:
    """Bind inputs to fn: a mapping as keywords, a tuple/list as positionals, else one argument."""
    if inputs is None:
        return fn
    if isinstance(inputs, Mapping):
        return functools.partial(fn, **dict(inputs))
    if isinstance(inputs, (tuple, list)):
        return functools.partial(fn, *inputs)
    return functools.partial(fn, inputs)


def _is_torch_module(obj: Any) -> bool:
    """Whether obj is a torch.nn.Module (without importing torch if nobody has)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_ort_session(obj: Any) -> bool:
    """Duck-typed check for an onnxruntime.InferenceSession."""
    return all(hasattr(obj, a) for a in ("run", "get_inputs", "get_outputs"))


def _is_litert_interpreter(obj: Any) -> bool:
    """Duck-typed check for an ai_edge_litert (or TFLite) Interpreter."""
    return all(hasattr(obj, a) for a in ("get_input_details", "set_tensor", "invoke", "get_tensor"))


def _torch_callable(model: Any, inputs: Any) -> Callable[[], object]:
    """Call a torch module on `inputs` under inference_mode (no autograd bookkeeping).

    numpy arrays in a dict of inputs become tensors once, here, so one feed serves every runtime.
    """
    import torch

    if isinstance(inputs, Mapping):
        inputs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    call = _bind(model, inputs)

    def run() -> object:
        with torch.inference_mode():
            return call()

    return run


def _ort_callable(sess: Any, inputs: Any) -> Callable[[], object]:
    """Call an ONNX Runtime session on a dict of numpy arrays keyed by input name (converted once)."""
    return functools.partial(sess.run, None, ort_feed(sess, inputs))


def _litert_callable(interp: Any, inputs: Any) -> Callable[[], object]:
    """Call a LiteRT interpreter: set every input tensor, invoke, read every output tensor."""
    details = interp.get_input_details()
    if isinstance(inputs, Mapping):
        names = [d["name"] for d in details]
        unknown = [k for k in inputs if k not in names]
        if unknown or len(inputs) != len(details):
            raise ValueError(f"inputs do not match the LiteRT model: got {list(inputs)}, it takes {names} "
                             "(or pass a list in that order)")
        arrays = [np.asarray(inputs[d["name"]]) for d in details]
    elif isinstance(inputs, (list, tuple)):
        if len(inputs) != len(details):
            raise ValueError(f"the LiteRT model takes {len(details)} inputs "
                             f"({[d['name'] for d in details]}), got {len(inputs)}")
        arrays = [np.asarray(a) for a in inputs]
    else:
        raise TypeError("a LiteRT interpreter needs inputs as a dict {name: array} or a list in "
                        "get_input_details() order")
    for d, arr in zip(details, arrays, strict=True):
        if arr.dtype != d["dtype"]:
            raise ValueError(f"LiteRT input {d['name']!r} expects {np.dtype(d['dtype'])}, got {arr.dtype}: "
                             f"cast it with .astype(np.{np.dtype(d['dtype'])})")
        if tuple(arr.shape) != tuple(d["shape"]):
            interp.resize_tensor_input(d["index"], list(arr.shape))
    interp.allocate_tensors()  # needed before the first set_tensor and after any resize; cheap otherwise
    out_idx = [d["index"] for d in interp.get_output_details()]
    pairs = [(d["index"], arr) for d, arr in zip(details, arrays, strict=True)]

    def run() -> list[np.ndarray]:
        for index, arr in pairs:
            interp.set_tensor(index, arr)  # each call, as an app would feed a new input
        interp.invoke()
        return [interp.get_tensor(i) for i in out_idx]

    return run


def as_callable(obj: Any, inputs: Any = None) -> Callable[[], object]:
    """Wrap a torch module, ONNX Runtime session, LiteRT interpreter, `runtimes.Runtime` or callable as `fn()`."""
    if isinstance(obj, Runtime):
        return obj.bind(inputs)
    if _is_torch_module(obj):
        return _torch_callable(obj, inputs)
    if _is_ort_session(obj):
        return _ort_callable(obj, inputs)
    if _is_litert_interpreter(obj):
        return _litert_callable(obj, inputs)
    if callable(obj):
        return _bind(obj, inputs)
    raise TypeError(
        f"cannot time a {type(obj).__module__}.{type(obj).__name__}: pass a torch.nn.Module, an "
        "onnxruntime.InferenceSession, an ai_edge_litert Interpreter or a callable"
    )


def compare_at(inputs: Mapping[str, Any], variants: Mapping[str, Any],
               **kwargs: Any) -> dict[str, dict[str, timing.LatencyStats]]:
    """compare_latency of every variant on each input in turn: {input label: {variant: stats}}.

    `variants` maps names to `Runtime`s, torch modules, ONNX Runtime sessions, LiteRT interpreters
    or callables taking the input; `inputs` maps labels (e.g. "p50 (22 tok)") to one input each (a
    dict of numpy arrays serves torch and ONNX Runtime alike); `kwargs` go to compare_latency.
    """
    if not inputs:
        raise ValueError("compare_at needs at least one input: {'label': feed, ...}")
    return {label: timing.compare_latency({name: as_callable(obj, feed) for name, obj in variants.items()}, **kwargs)
            for label, feed in inputs.items()}


def threads_by_input(pools: Mapping[str, str], inputs: Mapping[str, Any], make: Callable[[str, int, str], Any], *,
                     threads: Sequence[int], budget_s: Mapping[str, float], many_threads_budget: float = 1.0,
                     one_thread_only: Iterable[str] = (), warmup: int = 2, progress: bool = True) -> timing.ThreadTable:
    """The book's main latency table: every variant on every input at each thread count.

    `pools` maps each variant to its thread pool (its runtime). On one thread all variants run in
    one interleaved loop per input; on more, only the variants of one pool among themselves, since
    two runtimes' thread pools timed in turn fight over the cores. make(variant, threads, label)
    gives what to time (a model, session, runtime or callable of the input); budget_s[label] is the
    seconds per loop, times `many_threads_budget` on more than one thread.
    """
    if not pools or not inputs or not threads:
        raise ValueError("threads_by_input needs variants, inputs and thread counts")
    missing = [label for label in inputs if label not in budget_s]
    if missing:
        raise ValueError(f"no time budget for inputs {missing}: give budget_s a value for every input label")
    alone = set(one_thread_only)
    loops = []
    for n in threads:
        if n == 1:
            loops.append((n, list(pools)))
        else:
            for pool in dict.fromkeys(pools.values()):
                names = [v for v, p in pools.items() if p == pool and v not in alone]
                if names:
                    loops.append((n, names))
    table: timing.ThreadTable = {v: {} for v in pools}
    steps = [(n, names, label) for n, names in loops for label in inputs]
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="timing, per thread pool and input")
    for n, names, label in steps:
        fns = {v: as_callable(make(v, n, label), inputs[label]) for v in names}
        share = 1.0 if n == 1 else many_threads_budget
        for v, st in timing.compare_latency(fns, warmup=warmup, budget_s=budget_s[label] * share, threads=n).items():
            table[v][(n, label)] = st
    return table


@dataclass(frozen=True)
class Fidelity:
    """How closely a variant's logits follow the reference's, row by row."""

    cos_mean: float
    cos_min: float
    max_abs: float
    agreement: float  # share of rows with the same top class

    def __str__(self) -> str:
        return (f"cosine mean {self.cos_mean:.5f}, min {self.cos_min:.4f}; max |diff| {self.max_abs:.3g}; "
                f"same class {100 * self.agreement:.1f}%")


def fidelity(got: np.ndarray, reference: np.ndarray) -> Fidelity:
    """Cosine similarity per row, largest absolute difference and top-1 agreement against `reference`."""
    got, reference = np.asarray(got, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if got.shape != reference.shape or got.ndim != 2 or len(got) == 0:
        raise ValueError(f"compare two [rows, classes] arrays of one shape; got {got.shape} and {reference.shape}")
    cos = (got * reference).sum(1) / np.maximum(np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1), 1e-30)
    return Fidelity(float(cos.mean()), float(cos.min()), float(np.abs(got - reference).max()),
                    float((got.argmax(1) == reference.argmax(1)).mean()))


# ---- cold start: import + load + first inference in a fresh process ----------------------------

@dataclass(frozen=True)
class ColdStart:
    """Seconds to import the runtime, load the model and run the first inference; the process's peak RSS."""

    import_s: float
    load_s: float
    first_run_s: float
    peak_bytes: int

    @property
    def total_s(self) -> float:
        """What a user waits from launching the process to the first answer (Python start excluded)."""
        return self.import_s + self.load_s + self.first_run_s


def _import_torch_stack() -> None:
    """The imports a saved PyTorch classifier needs (timed as the "torch" runtime's import)."""
    import torch  # noqa: F401
    from transformers import AutoModelForSequenceClassification  # noqa: F401


def _load_torch_folder(path: str, threads: int, compile: bool = False) -> TorchRuntime:
    """A saved classifier folder (the teacher, chapter 8's models) as a TorchRuntime, maybe compiled."""
    import torch

    from .classifiers import load_classifier_model

    torch.set_num_threads(threads)
    model = load_classifier_model(path)
    return TorchRuntime(torch.compile(model, dynamic=True) if compile else model)


def _cold_start_child(job: dict) -> dict:
    """Runs in the fresh process: time import, load and the first inference of one model."""
    kind, path, threads, opts = job["kind"], job["path"], job["threads"], job.get("opts", {})
    feed = {k: np.array(v, dtype=np.int64) for k, v in job["feed"].items()}
    t0 = time.perf_counter()
    if kind == "torch":  # a saved classifier folder, not a runtime file
        _import_torch_stack()
    else:
        _import(kind)
    t1 = time.perf_counter()
    if kind == "torch":
        model = _load_torch_folder(path, threads, **opts)
    else:
        model = load(kind, path, threads=threads, **opts)
    t2 = time.perf_counter()
    model.run(feed)
    t3 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "first_run_s": t3 - t2, "peak_bytes": peak_bytes()}


def cold_start(kind: str, path: str | Path, feed: Mapping[str, Any], *, threads: int = 1,
               timeout_s: float = 300, env: Mapping[str, str] | None = None, **opts: Any) -> ColdStart:
    """Import + load + first inference of `path` in a fresh Python process, and that process's peak memory.

    kind "torch" loads a saved Hugging Face classifier folder (opts: compile=True wraps it in torch.compile).
    """
    job = {"kind": kind, "path": str(path), "threads": threads, "opts": opts,
           "feed": {k: np.asarray(v).tolist() for k, v in _as_int64(feed).items()}}
    if kind not in KINDS:
        raise ValueError(f"unknown runtime kind {kind!r}; choose one of {', '.join(KINDS)}")
    marked, stderr = run_marked([sys.executable, "-m", "edgehelpers.runtimes"], job, _MARK, timeout_s=timeout_s,
                                what=f"loading {path} in {kind}", env={**os.environ, **(env or {})})
    if not marked:
        raise RuntimeError(f"the cold-start process for {kind} ({path}) failed; the end of its stderr:\n{tail(stderr)}")
    return ColdStart(**marked[-1])


_MARK = "__edgehelpers_cold_start__ "

if __name__ == "__main__":  # the child process of cold_start
    result = _cold_start_child(json.loads(sys.stdin.read()))
    print(_MARK + json.dumps(result), flush=True)

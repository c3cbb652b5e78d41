"""The small language model in the runtimes a team would ship it with, behind one small interface.

Each variant of chapter 10's table is a `Runner`: `steps(ids, new_tokens)` gives the prefill and
decode-step functions that `decoding.time_prefill_decode` times, `logits(ids)` scores a window for
perplexity, `greedy(ids, n)` continues a prompt. Builds (ONNX Runtime GenAI's INT4 models, OpenVINO's
compressed IRs) are made once from the FP32 reference folder and cached, like every model of the book.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgehelpers.cache import build_once
from edgehelpers.deps import require
from edgehelpers.fresh import run_marked, tail

ORT_GENAI_PIP = "onnxruntime-genai==0.18.0"
OPENVINO_GENAI_PIP = "openvino-genai==2026.4.1.0"

Steps = tuple[Callable[[], Any], Callable[[Any], Any]]


class Runner:
    """One loaded variant at a fixed thread count."""

    name = ""
    threads = 1
    uses_torch = False  # True: torch's thread count is set per call (decoding.time_prefill_decode does it)

    def steps(self, ids: list[int], new_tokens: int) -> Steps:
        """(prefill, step) for greedy decoding of `new_tokens` tokens after the prompt `ids`."""
        raise NotImplementedError

    def logits(self, ids: list[int]) -> np.ndarray:
        """Logits [len(ids), vocab] of one forward pass over `ids`."""
        raise NotImplementedError

    def greedy(self, ids: list[int], new_tokens: int) -> list[int]:
        """The first `new_tokens` greedy tokens after `ids` (end-of-text does not stop it)."""
        prefill, step = self.steps(ids, new_tokens)
        state = prefill()
        out = [self.last_token(state)]
        for _ in range(new_tokens - 1):
            state = step(state)
            out.append(self.last_token(state))
        return out

    def last_token(self, state: Any) -> int:
        """The token the last prefill/step produced, from its state."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        """Bytes of the model's weights as this runtime stores them."""
        raise NotImplementedError

    def at_threads(self, threads: int) -> Runner:
        """The same model set to run at `threads` threads."""
        raise NotImplementedError


class TorchRunner(Runner):
    """A transformers model in PyTorch eager mode (FP32, BF16, or torchao-quantized weights)."""

    def __init__(self, model: Any, name: str, threads: int = 1):
        self.model, self.name, self.threads, self.uses_torch = model, name, threads, True

    def steps(self, ids: list[int], new_tokens: int) -> Steps:
        import torch

        from edgehelpers.decoding import torch_steps

        return torch_steps(self.model, torch.tensor([ids]))

    def logits(self, ids: list[int]) -> np.ndarray:
        import torch

        from edgehelpers.decoding import torch_logits
        from edgehelpers.timing import threads

        with threads(self.threads), torch.inference_mode():
            return torch_logits(self.model)(ids)

    def greedy(self, ids: list[int], new_tokens: int) -> list[int]:
        from edgehelpers.timing import threads

        with threads(self.threads):
            return super().greedy(ids, new_tokens)

    def last_token(self, state: Any) -> int:
        return int(state[1])

    def at_threads(self, threads: int) -> TorchRunner:
        return TorchRunner(self.model, self.name, threads)  # torch's threads are set per call

    def size_bytes(self) -> int:
        import io

        import torch

        # as saved: torch.save stores the tied embedding/head once, and torchao's tensors packed
        buffer = io.BytesIO()
        torch.save(self.model.state_dict(), buffer)
        return buffer.tell()


def torch_variant(kind: str, threads: int = 1) -> TorchRunner:
    """The reference in PyTorch: 'fp32', 'bf16', or torchao weight-only 'int8' / 'int4' (groups of 32)."""
    import torch

    from edgehelpers.slm import load_reference

    if kind not in ("fp32", "bf16", "int8", "int4"):
        raise ValueError(f"unknown PyTorch variant {kind!r}: choose 'fp32', 'bf16', 'int8' or 'int4'")
    model, _ = load_reference(torch.bfloat16 if kind == "bf16" else torch.float32)
    if kind in ("int8", "int4"):
        from torchao.quantization import Int8WeightOnlyConfig, IntxWeightOnlyConfig, quantize_
        from torchao.quantization.granularity import PerGroup

        # torchao 0.18 has no x86 CPU kernel for its INT4 weight-only tensors (tinygemm is CUDA, the
        # "opaque" CPU layout is gone): IntxWeightOnlyConfig keeps 4-bit values in int8 and dequantizes
        config = (Int8WeightOnlyConfig() if kind == "int8"
                  else IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32)))
        quantize_(model, config)
    names = {"fp32": "PyTorch FP32", "bf16": "PyTorch BF16", "int8": "torchao INT8 weight-only",
             "int4": "torchao INT4 weight-only"}
    return TorchRunner(model, names[kind], threads)


# ---------------------------------------------------------------------------------------------
# ONNX Runtime GenAI: the model builder's INT4 (MatMulNBits) models, run with its generator

ORT_BUILDS = {
    # the builder's default for CPU: 4-bit weights in blocks of 32, symmetric, INT8 activations
    # (accuracy_level 4), and the tied head/embedding stored once, at 4 bits
    "int4": [],
    # the output head kept at 8 bits (and the embedding its own FP32 table): what real 4-bit
    # packages do, since the head is the most sensitive matrix
    "int4-head8": ["shared_embeddings=false", "matmul_mixed_precision=last_matmul:int8"],
    "fp32": None,
}


def build_ort_genai(reference: str | Path, folder: str | Path, kind: str = "int4") -> dict:
    """Run onnxruntime-genai's model builder on the Hugging Face folder `reference` into `folder`."""
    if kind not in ORT_BUILDS:
        raise ValueError(f"unknown ONNX Runtime GenAI build {kind!r}: choose from {sorted(ORT_BUILDS)}")
    require("onnxruntime_genai", ORT_GENAI_PIP, "the INT4 ONNX models of chapter 10")
    folder = Path(folder)
    extra = ORT_BUILDS[kind] or []
    precision = "fp32" if ORT_BUILDS[kind] is None else "int4"
    argv = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(reference), "-o", str(folder),
            "-p", precision, "-e", "cpu", "-c", str(folder / "_cache")]
    if extra:
        argv += ["--extra_options", *extra]
    # offline: the builder reads the local folder; the flags stop transformers asking the hub
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not (folder / "genai_config.json").is_file():
        raise RuntimeError(f"onnxruntime-genai's model builder failed (exit {proc.returncode}):\n"
                           f"{tail(proc.stderr or proc.stdout)}")
    return {"builder": f"onnxruntime_genai.models.builder -p {precision} -e cpu {' '.join(extra)}".strip()}


def ort_genai_folder(kind: str = "int4") -> Path:
    """The cached ONNX Runtime GenAI model of `kind` (see ORT_BUILDS), built once from the reference folder."""
    from edgehelpers.slm import reference_path

    if kind not in ORT_BUILDS:
        raise ValueError(f"unknown ONNX Runtime GenAI build {kind!r}: choose from {sorted(ORT_BUILDS)}")
    reference = reference_path()
    dest = reference.parent / f"{reference.name}.ortgenai" / kind
    build_once(dest, lambda folder: build_ort_genai(reference, folder, kind),
               what=f"SmolLM2-135M for ONNX Runtime GenAI ({kind})")
    return dest


class OrtGenaiRunner(Runner):
    """An ONNX Runtime GenAI model run with its own generator (greedy), at fixed threads."""

    def __init__(self, folder: str | Path, name: str, threads: int = 1):
        og = require("onnxruntime_genai", ORT_GENAI_PIP, "the INT4 ONNX models of chapter 10")
        config = og.Config(str(folder))
        options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        self.og, self.model, self.name, self.threads = og, og.Model(config), name, threads
        self.folder = Path(folder)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("model.onnx*"))

    def at_threads(self, threads: int) -> OrtGenaiRunner:
        return OrtGenaiRunner(self.folder, self.name, threads)  # ORT fixes threads when the model loads

    def _generator(self, length: int) -> Any:
        params = self.og.GeneratorParams(self.model)
        # min_length = max_length: end-of-text is masked, every run makes the same number of tokens;
        # the KV buffer is allocated for max_length, so it is kept to what is needed
        params.set_search_options(do_sample=False, max_length=length, min_length=length)
        return self.og.Generator(self.model, params)

    def steps(self, ids: list[int], new_tokens: int) -> Steps:
        prompt = np.asarray(ids, dtype=np.int32)

        def prefill() -> Any:
            gen = self._generator(len(ids) + new_tokens + 1)
            gen.append_tokens(prompt)  # the prompt's forward pass
            gen.generate_next_token()  # picks the first token from the prompt's logits
            return gen

        def step(gen: Any) -> Any:
            gen.generate_next_token()  # one decode forward pass and its argmax
            return gen

        return prefill, step

    def last_token(self, state: Any) -> int:
        return int(state.get_next_tokens()[0])

    def logits(self, ids: list[int]) -> np.ndarray:
        gen = self._generator(len(ids))
        gen.append_tokens(np.asarray(ids, dtype=np.int32))
        return np.asarray(gen.get_output("logits"))[0]


# ---------------------------------------------------------------------------------------------
# OpenVINO: the model as a *stateful* IR (the KV cache lives inside the compiled model, as
# openvino-genai's LLMPipeline requires), its weights compressed by NNCF

OV_BUILDS = ("fp32", "int8", "int4")


def _stateful_ir(reference: Path) -> Any:
    """The reference traced to an OpenVINO model whose KV cache is internal state (optimum-intel's recipe)."""
    import openvino as ov
    import torch
    from openvino import opset13
    from openvino._offline_transformations import apply_make_stateful_transformation
    from transformers import DynamicCache, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(reference, dtype=torch.float32, attn_implementation="sdpa").eval()
    config = model.config
    layers, kv_heads = config.num_hidden_layers, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads

    class WithCache(torch.nn.Module):
        """Past keys/values in, logits and present keys/values out: a graph the converter can trace."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, *past: Any) -> tuple:
            cache = DynamicCache(config=config)
            for i, layer in enumerate(cache.layers):  # set, not update(): that would concatenate onto a constant
                layer.lazy_initialization(past[2 * i], past[2 * i + 1])
                layer.keys, layer.values = past[2 * i], past[2 * i + 1]
            q, kv = input_ids.shape[1], attention_mask.shape[1]
            # an explicit 4-D causal mask: transformers' own mask code does not trace
            allowed = (torch.arange(kv)[None] <= (torch.arange(q) + kv - q)[:, None])[None, None]
            allowed = allowed & attention_mask[:, None, None, :].bool()
            mask = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
                             past_key_values=cache, use_cache=True)
            return (out.logits, *[t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)])

    past_len, new = 3, 2  # a non-empty past and two new tokens, so no branch is traced for one case only
    example = (torch.ones(1, new, dtype=torch.long), torch.ones(1, past_len + new, dtype=torch.long),
               torch.arange(past_len, past_len + new)[None],
               *[torch.zeros(1, kv_heads, past_len, head_dim) for _ in range(2 * layers)])
    with torch.no_grad():
        ir = ov.convert_model(WithCache(), example_input=example)
    past_names = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    for port, name in zip(ir.inputs, ["input_ids", "attention_mask", "position_ids", *past_names]):
        port.get_tensor().set_names({name})
    for port, name in zip(ir.outputs, ["logits", *present_names]):
        port.get_tensor().set_names({name})
    for param in ir.get_parameters():
        param.set_partial_shape(ov.PartialShape([-1] * param.get_partial_shape().rank.get_length()))
    ir.validate_nodes_and_infer_types()
    # beam_idx reorders the cache between beams (LLMPipeline feeds it); then the cache becomes state
    beam = opset13.parameter(name="beam_idx", dtype=ov.Type.i32, shape=ov.PartialShape([-1]))
    beam.output(0).get_tensor().add_names({"beam_idx"})
    ir.add_parameters([beam])
    for name in past_names:
        port = ir.input(name)
        users = port.get_target_inputs()
        reordered = opset13.gather(port, beam, opset13.constant(0))
        for user in users:
            user.replace_source_output(reordered.output(0))
    ir.validate_nodes_and_infer_types()
    apply_make_stateful_transformation(ir, dict(zip(past_names, present_names)))
    batch = opset13.gather(opset13.shape_of(ir.input("input_ids"), output_type="i64"), opset13.constant([0]),
                           opset13.constant(0))
    empty = opset13.concat([batch, opset13.constant(np.array([kv_heads, 0, head_dim], dtype=np.int64))], axis=0)
    for op in ir.get_ops():  # each state starts as an empty cache [batch, KV heads, 0, head dim]
        if op.get_type_name() == "ReadValue":
            op.set_arguments([opset13.broadcast(opset13.constant(0.0, dtype=ov.Type.f32), empty)])
    ir.validate_nodes_and_infer_types()
    return ir


def build_openvino(reference: str | Path, folder: str | Path, kind: str = "int4",
                   fp32: str | Path | None = None) -> dict:
    """Write the OpenVINO GenAI folder of `kind` for the Hugging Face folder `reference` into `folder`.

    'fp32' converts (stateful IR, tokenizer and detokenizer IRs, configs); 'int8'/'int4' compress
    the FP32 folder `fp32` with NNCF and copy the rest.
    """
    import shutil

    if kind not in OV_BUILDS:
        raise ValueError(f"unknown OpenVINO build {kind!r}: choose from {OV_BUILDS}")
    ov = require("openvino", "openvino==2026.4.1", "running chapter 10's model with OpenVINO")
    reference, folder = Path(reference), Path(folder)
    if kind == "fp32":
        require("openvino_tokenizers", "openvino-tokenizers==2026.4.1.0", "OpenVINO GenAI's tokenizer")
        from openvino_tokenizers import convert_tokenizer
        from transformers import AutoTokenizer

        ov.save_model(_stateful_ir(reference), folder / "openvino_model.xml", compress_to_fp16=False)
        tokenize, detokenize = convert_tokenizer(AutoTokenizer.from_pretrained(reference), with_detokenizer=True)
        ov.save_model(tokenize, folder / "openvino_tokenizer.xml")
        ov.save_model(detokenize, folder / "openvino_detokenizer.xml")
        for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                     "chat_template.jinja"):
            if (reference / name).is_file():
                shutil.copy(reference / name, folder)
        return {"converted": "openvino.convert_model + make_stateful"}
    if fp32 is None:
        raise ValueError("compressing needs the FP32 OpenVINO folder: pass fp32=")
    nncf = require("nncf", "nncf==3.4.0", "compressing OpenVINO weights")
    ir = ov.Core().read_model(str(Path(fp32) / "openvino_model.xml"))
    if kind == "int8":  # 8-bit per output channel, asymmetric
        ir = nncf.compress_weights(ir, mode=nncf.CompressWeightsMode.INT8_ASYM)
    else:  # 4-bit in groups of 64 (576 is not a multiple of NNCF's default 128); the tied head stays 8-bit
        ir = nncf.compress_weights(ir, mode=nncf.CompressWeightsMode.INT4_ASYM, group_size=64, ratio=1.0)
    ov.save_model(ir, folder / "openvino_model.xml")
    for path in Path(fp32).iterdir():
        if not path.name.startswith("openvino_model") and path.name != "build.json":
            shutil.copy(path, folder)
    return {"compressed": f"nncf {kind}"}


def openvino_folder(kind: str = "int4") -> Path:
    """The cached OpenVINO GenAI folder of `kind` ('fp32', 'int8', 'int4'): stateful IR, tokenizer IRs, configs."""
    from edgehelpers.slm import reference_path

    if kind not in OV_BUILDS:
        raise ValueError(f"unknown OpenVINO build {kind!r}: choose from {OV_BUILDS}")
    require("openvino_genai", OPENVINO_GENAI_PIP, "running chapter 10's model with OpenVINO")
    reference = reference_path()
    dest = reference.parent / f"{reference.name}.openvino" / kind
    fp32 = None if kind == "fp32" else openvino_folder("fp32")
    build_once(dest, lambda folder: build_openvino(reference, folder, kind, fp32),
               what=f"SmolLM2-135M for OpenVINO ({kind})")
    return dest


class OpenVINORunner(Runner):
    """The stateful IR compiled for the CPU plugin, fed step by step (the model LLMPipeline runs).

    FP32 activations (INFERENCE_PRECISION_HINT f32: the plugin's default on CPUs with BF16 would be
    BF16) and the plugin's default 8-bit KV cache, unless `kv_precision` says otherwise.
    """

    def __init__(self, folder: str | Path, name: str, threads: int = 1, kv_precision: str | None = None):
        ov = require("openvino", "openvino==2026.4.1", "running chapter 10's model with OpenVINO")
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        if kv_precision:
            config["KV_CACHE_PRECISION"] = kv_precision
        self.folder, self.name, self.threads, self.kv_precision = Path(folder), name, threads, kv_precision
        self.compiled = ov.Core().compile_model(str(self.folder / "openvino_model.xml"), "CPU", config)
        self.request = self.compiled.create_infer_request()

    def _run(self, ids: np.ndarray, start: int) -> np.ndarray:
        n = ids.shape[1]
        self.request.infer({"input_ids": ids, "attention_mask": np.ones((1, start + n), dtype=np.int64),
                            "position_ids": np.arange(start, start + n, dtype=np.int64)[None],
                            "beam_idx": np.zeros(1, dtype=np.int32)})
        return self.request.get_tensor("logits").data[0]

    def steps(self, ids: list[int], new_tokens: int) -> Steps:
        def prefill() -> Any:
            self.request.reset_state()  # a new conversation: empty KV cache
            logits = self._run(np.asarray([ids], dtype=np.int64), 0)
            return [len(ids), int(logits[-1].argmax())]

        def step(state: Any) -> Any:
            logits = self._run(np.asarray([[state[1]]], dtype=np.int64), state[0])
            return [state[0] + 1, int(logits[-1].argmax())]

        return prefill, step

    def last_token(self, state: Any) -> int:
        return int(state[1])

    def logits(self, ids: list[int]) -> np.ndarray:
        self.request.reset_state()
        return np.array(self._run(np.asarray([ids], dtype=np.int64), 0))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("openvino_model.*"))

    def at_threads(self, threads: int) -> OpenVINORunner:
        return OpenVINORunner(self.folder, self.name, threads, self.kv_precision)


# ---------------------------------------------------------------------------------------------
# one registry, and the fresh-process measurement every row gets

VARIANTS: dict[str, Callable[[int], Runner]] = {
    "PyTorch FP32": lambda t: torch_variant("fp32", t),
    "PyTorch BF16": lambda t: torch_variant("bf16", t),
    "torchao INT8 weight-only": lambda t: torch_variant("int8", t),
    "torchao INT4 weight-only": lambda t: torch_variant("int4", t),
    "ORT GenAI INT4": lambda t: OrtGenaiRunner(ort_genai_folder("int4"), "ORT GenAI INT4", t),
    "ORT GenAI INT4, 8-bit head": lambda t: OrtGenaiRunner(ort_genai_folder("int4-head8"),
                                                           "ORT GenAI INT4, 8-bit head", t),
    "OpenVINO INT8": lambda t: OpenVINORunner(openvino_folder("int8"), "OpenVINO INT8", t),
    "OpenVINO INT4": lambda t: OpenVINORunner(openvino_folder("int4"), "OpenVINO INT4", t),
}


# bits per weight each variant reads per generated token, with its scales (one per group of 32 values
# unless said): (blocks, output head, bytes per KV-cache value), for slm.DecoderShape.decode_bytes
READ_BITS: dict[str, tuple[float, float, float]] = {
    "PyTorch FP32": (32, 32, 4),
    "PyTorch BF16": (16, 16, 2),
    "torchao INT8 weight-only": (8, 8, 4),  # one scale per output channel: negligible
    # 4-bit values held in int8, an FP32 scale and an int8 zero point per group of 32
    "torchao INT4 weight-only": (9.25, 9.25, 4),
    "ORT GenAI INT4": (5, 5, 4),  # 4-bit values + an FP32 scale per block of 32
    "ORT GenAI INT4, 8-bit head": (5, 9, 4),
    # 8-bit values per output channel; 4-bit in groups of 64 with an FP16 scale and a 4-bit zero point
    # (the tied head kept 8-bit); the plugin's default KV cache is 8-bit (plus a scale per token)
    "OpenVINO INT8": (8, 8, 1),
    "OpenVINO INT4": (4.3125, 8, 1),
}


def load_variant(name: str, threads: int = 1) -> Runner:
    """The variant `name` of VARIANTS, loaded to run at `threads` threads."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}: choose from {list(VARIANTS)}")
    return VARIANTS[name](threads)


_MARK = "__edgehelpers_cold_start__ "
_CHILD = r"""
import json, sys, time
job = json.loads(sys.stdin.read())
from edgehelpers.fresh import peak_bytes
from edgehelpers.slm_runtimes import load_variant
start = time.perf_counter()
runner = load_variant(job["name"], 1)
loaded = time.perf_counter()
runner.greedy(job["ids"], 1)
first = time.perf_counter()
print(MARK + json.dumps({"load_s": loaded - start, "first_token_s": first - loaded, "peak": peak_bytes()}))
""".replace("MARK", repr(_MARK))


def fresh_start(name: str, ids: list[int], timeout_s: float = 300) -> dict:
    """In a new process (after its imports): seconds to load `name`, to its first token, and the peak RSS."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}: choose from {list(VARIANTS)}")
    reports, _ = run_marked([sys.executable, "-c", _CHILD], {"name": name, "ids": list(map(int, ids))}, _MARK,
                            timeout_s=timeout_s, what=f"loading {name}")
    if not reports:
        raise RuntimeError(f"loading {name} in a fresh process reported nothing")
    return reports[0]


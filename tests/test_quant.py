"""edgehelpers.onnx_export, onnxrt and quant on a tiny random BERT: exports are checked, recipes
shrink files, and the PyTorch fake quantizer reproduces ONNX Runtime's MatMulNBits grid exactly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from edgehelpers.onnx_export import ExportMismatchError, check_logits, export_onnx, linear_node_names  # noqa: E402
from edgehelpers.onnxrt import (benchmark_inputs, fixed_inputs, onnx_embeddings, onnx_logits,  # noqa: E402
                                ort_feed, profile_ops, real_length_inputs, session)
from edgehelpers.quant import BlockwiseFakeQuant, fake_quantize_blockwise, int8_dynamic, weight_only  # noqa: E402

TEXTS = ["rain expected in pune", "cricket team wins the final", "new phone launched today",
         "markets fall after the budget", "a", "elections announced for the state assembly next month"]


@pytest.fixture(scope="module")
def tiny(tokenizer, tiny_bert, tmp_path_factory):
    """A 2-layer random BERT classifier and its checked ONNX export."""
    model = tiny_bert()
    path = export_onnx(model, tokenizer, tmp_path_factory.mktemp("onnx") / "tiny.onnx")
    return model, path


def _matmul_model(weight: np.ndarray) -> onnx.ModelProto:
    """y = x @ weight, with the weight as an initializer (what MatMulNBits quantizes)."""
    from onnx import TensorProto, helper, numpy_helper

    k, n = weight.shape
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
                              [numpy_helper.from_array(weight, "W")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_export_reproduces_pytorch_and_names_linears(tiny, tokenizer):
    model, path = tiny
    assert check_logits(model, tokenizer, path) < 1e-4
    names = linear_node_names(path)
    assert "classifier" in names.values()
    assert sum(".attention.self.query" in m for m in names.values()) == 2  # one per layer


def test_opset_23_export_writes_standard_attention_and_int8_keeps_it_loadable(tiny, tokenizer, tmp_path):
    from edgehelpers.quant import has_standard_attention

    model, default = tiny
    path = export_onnx(model, tokenizer, tmp_path / "att.onnx", opset=23)  # checked against PyTorch
    assert has_standard_attention(path) and not has_standard_attention(default)
    ops = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["Attention"] == 2  # one per layer
    q = int8_dynamic(path, tmp_path / "att_int8.onnx")  # ORT's defaults would write an unloadable QAttention
    ref = onnx_logits(session(default, threads=1), tokenizer, TEXTS)
    got = onnx_logits(session(q, threads=1), tokenizer, TEXTS)
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max() + 1e-3


def test_check_logits_refuses_a_file_that_no_longer_matches(tiny, tokenizer):
    model, path = tiny
    changed = transformers.BertForSequenceClassification(model.config).eval()  # other random weights
    with pytest.raises(ExportMismatchError, match="differ from PyTorch"):
        check_logits(changed, tokenizer, path)


def test_an_export_that_fails_its_check_leaves_no_file(tiny, tokenizer, tmp_path):
    model, _ = tiny
    with pytest.raises(ExportMismatchError):
        export_onnx(model, tokenizer, tmp_path / "bad.onnx", atol=-1.0)  # no export can pass this
    assert list(tmp_path.iterdir()) == []


def test_onnx_logits_keep_the_order_of_the_texts(tiny, tokenizer):
    model, path = tiny
    sess = session(path, threads=1)
    batched = onnx_logits(sess, tokenizer, TEXTS, batch_size=4)
    one_by_one = np.concatenate([onnx_logits(sess, tokenizer, [t]) for t in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)  # padding is masked, order restored
    with pytest.raises(ValueError, match="no texts"):
        onnx_logits(sess, tokenizer, [])


def test_sessions_with_and_without_spinning_agree(tiny, tokenizer):
    _, path = tiny
    a = onnx_logits(session(path, threads=2, spin=False), tokenizer, TEXTS)
    np.testing.assert_allclose(a, onnx_logits(session(path, threads=2), tokenizer, TEXTS), atol=1e-5)


def test_session_says_what_to_do_about_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="export or quantize it first"):
        session(tmp_path / "nothing.onnx")


def test_fixed_inputs_pad_to_the_benchmark_length(tokenizer):
    feed = fixed_inputs(tokenizer, 128, batch=2)
    assert feed["input_ids"].shape == (2, 128) and feed["input_ids"].dtype == np.int64
    assert feed["attention_mask"].sum() < 2 * 128  # padding is masked


def test_real_length_inputs_are_real_unpadded_texts(tokenizer):
    texts = ["one", "two words", "three words here", "this one has five words", "a", "b c"]
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    tokens, feed = real_length_inputs(tokenizer, texts, 50)
    assert tokens == int(np.percentile(lengths, 50, method="nearest")) and tokens in lengths
    assert feed["input_ids"].shape == (1, tokens) and feed["attention_mask"].all()  # batch 1, no padding
    assert tokenizer.decode(feed["input_ids"][0], skip_special_tokens=True) == texts[lengths.index(tokens)]
    assert real_length_inputs(tokenizer, texts, 100)[0] == max(lengths)
    inputs = benchmark_inputs(tokenizer, texts)
    assert list(inputs) == [f"p50 ({tokens} tok)", f"p95 ({max(lengths)} tok)", "128 tok"]
    # the labels carry their lengths: the ledger reads them, nothing parses the text back
    assert [(lb.key, lb.tokens) for lb in inputs] == [("p50len", tokens), ("p95len", max(lengths)), ("128tok", 128)]
    assert inputs["128 tok"]["input_ids"].shape == (1, 128)
    p90 = int(np.percentile(lengths, 90, method="nearest"))
    assert list(benchmark_inputs(tokenizer, texts, quantiles=(90,), padded=None)) == [f"p90 ({p90} tok)"]
    with pytest.raises(ValueError, match="no texts"):
        real_length_inputs(tokenizer, [], 50)
    with pytest.raises(ValueError, match="percentile from 0 to 100"):
        real_length_inputs(tokenizer, texts, 0.95 * 1000)


def test_int8_dynamic_shrinks_the_file_and_stays_close(tiny, tokenizer, tmp_path):
    model, path = tiny
    q = int8_dynamic(path, tmp_path / "int8.onnx")
    assert q.stat().st_size < 0.5 * path.stat().st_size
    ref = onnx_logits(session(path), tokenizer, TEXTS)
    got = onnx_logits(session(q), tokenizer, TEXTS)
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max() + 0.05
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}


def test_int8_dynamic_can_leave_named_nodes_in_fp32(tiny, tmp_path):
    _, path = tiny
    keep = [node for node, module in linear_node_names(path).items() if module.endswith("output.dense")]
    q = int8_dynamic(path, tmp_path / "mixed.onnx", exclude_nodes=keep)
    float_matmuls = {n.name for n in onnx.load(str(q)).graph.node if n.op_type == "MatMul"}
    assert set(keep) <= float_matmuls


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_fake_quantizer_matches_matmulnbits_exactly(bits, tmp_path):
    rng = np.random.default_rng(bits)
    weight = rng.standard_normal((96, 5)).astype(np.float32)  # ONNX layout (in, out); 3 blocks of 32
    weight[7, 1] = -6.0  # a negative outlier: it must map to the grid's -2^(bits-1) end
    onnx.save(_matmul_model(weight), tmp_path / "mm.onnx")
    q = weight_only(tmp_path / "mm.onnx", tmp_path / "q.onnx", bits=bits, block_size=32)
    dequantized = session(q).run(None, {"x": np.eye(96, dtype=np.float32)})[0]
    ours = fake_quantize_blockwise(torch.from_numpy(weight.T.copy()), bits, 32).numpy().T
    np.testing.assert_allclose(ours, dequantized, atol=1e-5)
    assert len(np.unique(ours[:32, 0])) <= 2**bits


def test_fake_quantizer_pads_blocks_passes_gradients_and_keeps_zeros():
    w = torch.randn(3, 40, requires_grad=True)  # 40 is not a multiple of 32
    fake_quantize_blockwise(w, 4, 32).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))  # straight-through estimator
    assert torch.equal(fake_quantize_blockwise(torch.zeros(2, 32), 4, 32), torch.zeros(2, 32))


def test_parametrized_linear_trains_and_exports_latent_weights():
    from torch.nn.utils import parametrize

    layer = torch.nn.Linear(64, 4)
    parametrize.register_parametrization(layer, "weight", BlockwiseFakeQuant(bits=2, block_size=32))
    assert len(torch.unique(layer.weight[0, :32])) <= 4  # the forward sees the 2-bit grid
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    assert len(torch.unique(layer.weight[0, :32])) > 4  # the latent FP32 weights come back


def test_weight_only_refuses_an_unsupported_width(tiny, tmp_path):
    _, path = tiny
    with pytest.raises(ValueError, match="2, 4 or 8"):
        weight_only(path, tmp_path / "q.onnx", bits=3)
    with pytest.raises(ValueError, match="only 4-bit blocks"):
        weight_only(path, tmp_path / "q.onnx", embedding_bits=8)


def test_weight_only_quantizes_only_the_named_nodes(tiny, tmp_path):
    _, path = tiny
    query = [node for node, module in linear_node_names(path).items() if module.endswith("0.attention.self.query")]
    q = weight_only(path, tmp_path / "one.onnx", bits=4, nodes=query)
    ops = Counter(n.op_type for n in onnx.load(str(q)).graph.node)
    assert ops["MatMulNBits"] == 1 and ops["MatMul"] >= 10


def test_weight_only_can_store_the_embeddings_block_wise_too(tiny, tokenizer, tmp_path):
    _, path = tiny
    plain = weight_only(path, tmp_path / "w4.onnx", bits=4)
    packed = weight_only(path, tmp_path / "w4e.onnx", bits=4, embedding_bits=4)
    assert packed.stat().st_size < 0.5 * plain.stat().st_size  # the vocabulary table dominates
    ops = {n.op_type for n in onnx.load(str(packed)).graph.node}
    assert "MatMulNBits" in ops and "GatherBlockQuantized" in ops
    ref = onnx_logits(session(path), tokenizer, TEXTS)
    assert np.abs(onnx_logits(session(packed), tokenizer, TEXTS) - ref).max() < 0.2 * np.abs(ref).max() + 0.05


def test_onnx_embeddings_are_unit_vectors(tokenizer, tmp_path):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    encoder = transformers.BertModel(config).eval()
    export_onnx(encoder, tokenizer, tmp_path / "enc.onnx", output_name="last_hidden_state")
    emb = onnx_embeddings(session(tmp_path / "enc.onnx"), tokenizer, TEXTS)
    assert emb.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_smoothing_keeps_the_layer_and_flattens_its_input():
    from edgehelpers.quant import SmoothedLinear, smoothing_scales

    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 8)
    x = torch.randn(64, 16)
    x[:, 3] *= 50  # one outlier channel, as in a transformer's FFN input
    s = smoothing_scales(x.abs().amax(dim=0), linear.weight, alpha=0.5)
    smoothed = SmoothedLinear(linear, s)
    torch.testing.assert_close(smoothed(x), linear(x), rtol=1e-4, atol=1e-4)  # the same layer
    ratio = lambda t: float(t.abs().amax() / t.abs().median())  # noqa: E731
    assert ratio(x * smoothed.inv_scales) < ratio(x) / 3  # the input the quantizer sees has smaller outliers
    assert smoothing_scales(x.abs().amax(dim=0), linear.weight, alpha=0.0).shape == (16,)
    with pytest.raises(ValueError, match="migration strength"):
        smoothing_scales(x.abs().amax(dim=0), linear.weight, alpha=1.5)
    with pytest.raises(ValueError, match="one activation max per input channel"):
        smoothing_scales(torch.ones(8), linear.weight)
    with pytest.raises(ValueError, match="16 scales"):
        SmoothedLinear(linear, torch.ones(4))


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    """A small two-layer MLP exported to ONNX (input 'x' of 64 features), and the model."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 10)).eval()
    path = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    torch.onnx.export(model, (torch.randn(4, 64),), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}}, dynamo=False)
    return model, path


def test_int8_static_writes_a_qdq_graph_that_stays_close(mlp_onnx, tmp_path):
    from edgehelpers.quant import int8_static

    model, path = mlp_onnx
    rng = np.random.default_rng(0)
    calib = [{"x": rng.standard_normal((8, 64)).astype(np.float32)} for _ in range(4)]
    q = int8_static(path, tmp_path / "static.onnx", calib)
    ops = Counter(n.op_type for n in onnx.load(str(q)).graph.node)
    assert ops["QuantizeLinear"] >= 2 and ops["DequantizeLinear"] >= 2
    assert q.stat().st_size < 0.5 * path.stat().st_size
    x = rng.standard_normal((16, 64)).astype(np.float32)
    got = session(q).run(None, {"x": x})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).mean() < 0.03 * np.abs(ref).max()  # 8-bit steps: close, not equal
    assert np.corrcoef(got.ravel(), ref.ravel())[0, 1] > 0.99
    assert not list(tmp_path.glob("*.pre.onnx")) and not list(tmp_path.glob(".*part"))  # no leftovers


def test_int8_static_needs_calibration_and_a_known_method(mlp_onnx, tmp_path):
    from edgehelpers.quant import int8_static

    _, path = mlp_onnx
    with pytest.raises(ValueError, match="needs calibration inputs"):
        int8_static(path, tmp_path / "a.onnx", [])
    with pytest.raises(ValueError, match="unknown calibration method 'Median'"):
        int8_static(path, tmp_path / "a.onnx", [{"x": np.zeros((1, 64), np.float32)}], method="Median")
    assert not (tmp_path / "a.onnx").exists()


def test_profile_ops_times_each_operator_type_of_the_timed_runs_only(tiny, tokenizer):
    _, path = tiny
    feed = fixed_inputs(tokenizer, 16)
    fused = profile_ops(path, feed, runs=3, warmup=1)
    unfused = profile_ops(path, feed, runs=3, warmup=0, level="none")
    assert fused and all(ms > 0 for ms in fused.values())
    assert "MatMul" in unfused and "LayerNormalization" in unfused  # level "none" fuses nothing
    assert not {"SkipLayerNormalization", "FusedMatMul"} & set(unfused)
    assert {"SkipLayerNormalization"} & set(fused) or "FusedMatMul" in fused  # level "all" fuses
    assert not list(path.parent.glob("*profile*"))  # the traces are not left beside the model
    with pytest.raises(ValueError, match="choose from"):
        profile_ops(path, feed, level="max")
    with pytest.raises(FileNotFoundError, match="export or quantize"):
        profile_ops(path.with_name("missing.onnx"), feed)


def test_ort_feed_is_the_one_rule_for_feeding_onnx_runtime(tiny, tokenizer):
    _, path = tiny
    sess = session(path)
    feed = fixed_inputs(tokenizer, 8)
    names = [i.name for i in sess.get_inputs()]
    got = ort_feed(sess, feed)
    assert list(got) == names  # the model's order, nothing else
    if "token_type_ids" in names:  # an encoder exported with it gets zeros
        assert not got["token_type_ids"].any() and got["token_type_ids"].shape == feed["input_ids"].shape
    assert list(ort_feed(sess, {**feed, "token_type_ids": np.zeros((1, 8), np.int64)})) == names
    with pytest.raises(ValueError, match="missing \\['attention_mask'\\]"):
        ort_feed(sess, {"input_ids": feed["input_ids"]})
    with pytest.raises(ValueError, match="unexpected \\['pixels'\\]"):
        ort_feed(sess, {**feed, "pixels": np.zeros(3)})
    with pytest.raises(TypeError, match="as a dict"):
        ort_feed(sess, feed["input_ids"])

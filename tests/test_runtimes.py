"""edgehelpers.runtimes and edgehelpers.convert on a tiny random BERT classifier: every adapter
reproduces PyTorch, static shapes pad and refuse what they cannot take, missing runtimes say what to
install, and the cold-start probe reports from a fresh process."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from edgehelpers import convert, quiet, runtimes  # noqa: E402
from edgehelpers.deps import MissingPackageError  # noqa: E402
from edgehelpers.onnx_export import export_onnx  # noqa: E402
from edgehelpers.size import size_on_disk  # noqa: E402

TEXTS = ["rain expected in pune", "cricket team wins the final", "new phone launched today",
         "markets fall after the budget", "a", "elections announced for the state assembly next month"]


@pytest.fixture(scope="module")
def tiny(tokenizer, tiny_bert, tmp_path_factory):
    """A 2-layer random BERT classifier, saved, and its checked ONNX export."""
    model = tiny_bert(hidden_size=32)
    folder = tmp_path_factory.mktemp("rt")
    model.save_pretrained(folder / "hf")
    onnx_path = export_onnx(model, tokenizer, folder / "tiny.onnx")
    return model, folder, onnx_path


def _feed(tokenizer, text="cricket team wins the final"):
    return dict(tokenizer([text], return_tensors="np"))


def _reference(model, feed):
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(feed["input_ids"]),
                     attention_mask=torch.from_numpy(feed["attention_mask"])).logits.numpy()


def test_torch_and_onnxruntime_adapters_match_pytorch(tiny, tokenizer, one_thread):
    model, _, onnx_path = tiny
    feed = _feed(tokenizer)
    ref = _reference(model, feed)
    for rt in (runtimes.TorchRuntime(model), runtimes.load("onnxruntime", onnx_path)):
        np.testing.assert_allclose(rt.run(feed), ref, atol=1e-4)
        np.testing.assert_allclose(runtimes.as_callable(rt, feed)(), ref, atol=1e-4)  # what timing calls
    assert runtimes.load("onnxruntime", onnx_path).size_bytes > 0


def test_logits_keep_the_order_of_the_texts_for_batched_and_row_by_row_runtimes(tiny, tokenizer, one_thread):
    model, _, onnx_path = tiny
    ort_rt = runtimes.load("onnxruntime", onnx_path)
    batched = runtimes.logits(ort_rt, tokenizer, TEXTS, batch_size=4)
    ort_rt.max_batch = 1  # the same model, one row at a time: padding must not change the answer
    rows = runtimes.logits(ort_rt, tokenizer, TEXTS)
    single = np.concatenate([_reference(model, _feed(tokenizer, t)) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    np.testing.assert_allclose(rows, single, atol=1e-4)
    with pytest.raises(ValueError, match="no texts"):
        runtimes.logits(ort_rt, tokenizer, [])


def test_openvino_adapter_matches_and_keeps_fp32_weights_unless_asked(tiny, tokenizer, tmp_path):
    pytest.importorskip("openvino")
    model, _, onnx_path = tiny
    xml = convert.to_openvino(onnx_path, tmp_path / "m.xml")
    half = convert.to_openvino(onnx_path, tmp_path / "half.xml", fp16_weights=True)
    assert xml.with_suffix(".bin").stat().st_size > 1.8 * half.with_suffix(".bin").stat().st_size
    assert not list(tmp_path.glob("*.part"))  # the temporary folder is gone
    feed = _feed(tokenizer)
    rt = runtimes.load("openvino", xml, precision="f32")
    assert rt.precision == "f32"
    np.testing.assert_allclose(rt.run(feed), _reference(model, feed), atol=1e-4)
    assert rt.size_bytes == xml.stat().st_size + xml.with_suffix(".bin").stat().st_size


def test_static_shape_sessions_match_on_padded_input_and_refuse_other_lengths(tiny, tokenizer, tmp_path):
    pytest.importorskip("openvino")
    model, _, onnx_path = tiny
    padded = dict(tokenizer(["cricket team wins"], padding="max_length", max_length=12, return_tensors="np"))
    ref = _reference(model, padded)
    xml = convert.to_openvino(onnx_path, tmp_path / "m.xml")
    static = {"ORT": runtimes.load("onnxruntime", onnx_path, fixed_dims={"batch": 1, "seq": 12}),
              "OpenVINO": runtimes.load("openvino", xml, static_seq=12)}
    for name, rt in static.items():
        np.testing.assert_allclose(rt.run(padded), ref, atol=1e-4, err_msg=name)
        with pytest.raises(Exception):  # a static shape takes exactly its own length
            rt.run(_feed(tokenizer, "a much longer headline than twelve pieces can hold, surely"))


def test_nncf_int8_stays_close_and_refuses_empty_calibration(tiny, tokenizer, tmp_path):
    pytest.importorskip("nncf")
    model, _, onnx_path = tiny
    xml = convert.to_openvino(onnx_path, tmp_path / "m.xml")
    calibration = [_feed(tokenizer, t) for t in TEXTS * 4]
    q = convert.openvino_int8(xml, tmp_path / "q.xml", calibration)
    feed = _feed(tokenizer)
    fid = runtimes.fidelity(runtimes.load("openvino", q).run(feed), _reference(model, feed))
    assert fid.cos_min > 0.95
    with pytest.raises(ValueError, match="calibration is empty"):
        convert.openvino_int8(xml, tmp_path / "q2.xml", [])


def test_litert_pads_to_its_static_length_and_refuses_longer_inputs(tiny, tokenizer, tmp_path):
    pytest.importorskip("litert_torch")
    model, _, _ = tiny
    path = convert.to_litert(model, tmp_path / "m.tflite", seq_len=16)
    rt = runtimes.load("litert", path)
    assert rt.seq_len == 16 and rt.max_batch == 1
    feed = _feed(tokenizer)
    assert feed["input_ids"].shape[1] < 16
    np.testing.assert_allclose(rt.run(feed), _reference(model, feed), atol=1e-4)
    long_feed = dict(tokenizer([" ".join(["word"] * 30)], return_tensors="np"))
    with pytest.raises(ValueError, match="max_length=16"):
        rt.run(long_feed)
    q = runtimes.load("litert", convert.litert_int8(path, tmp_path / "q.tflite"))
    assert q.size_bytes < 0.6 * rt.size_bytes
    assert runtimes.fidelity(q.run(feed), _reference(model, feed)).cos_min > 0.95
    truncated = runtimes.logits(rt, tokenizer, [" ".join(["word"] * 30)] + TEXTS)  # logits() truncates for it
    assert truncated.shape == (len(TEXTS) + 1, 3)


def test_executorch_fp32_and_int8_run_at_several_lengths_and_batches(tiny, tokenizer, tmp_path, one_thread):
    pytest.importorskip("executorch")
    model, _, _ = tiny
    fp32 = runtimes.load("executorch", convert.to_executorch(model, tmp_path / "m.pte", max_seq=64))
    int8 = runtimes.load("executorch", convert.to_executorch(model, tmp_path / "q.pte", int8=True, max_seq=64))
    for text in ("a", "cricket team wins the final match of the season in mumbai"):
        feed = _feed(tokenizer, text)
        ref = _reference(model, feed)
        np.testing.assert_allclose(fp32.run(feed), ref, atol=1e-4)
        assert runtimes.fidelity(int8.run(feed), ref).cos_min > 0.95
    stats = json.loads((tmp_path / "m.json").read_text())
    assert stats["delegated"] >= 1 and all(count > 0 for count in stats["outside"].values())
    batch = dict(tokenizer(TEXTS, padding=True, return_tensors="np"))  # a batch pads to its longest text
    np.testing.assert_allclose(fp32.run(batch), _reference(model, batch), atol=1e-4)


def test_coreml_converts_here_and_says_why_it_cannot_predict(tiny, tmp_path):
    pytest.importorskip("coremltools")
    model, _, _ = tiny
    path = convert.to_coreml(model, tmp_path / "m.mlpackage", seq_len=16)
    assert (path / "Manifest.json").is_file() and size_on_disk(path) > 0
    if sys.platform != "darwin":
        with pytest.raises(runtimes.RuntimeUnavailable, match="macOS"):
            runtimes.load("coreml", path)


def test_unusable_or_unknown_runtimes_fail_with_what_to_do(tiny, monkeypatch):
    _, _, onnx_path = tiny
    with pytest.raises(ValueError, match="choose one of"):
        runtimes.load("tflite-micro", onnx_path)
    with pytest.raises(ValueError, match="TorchRuntime"):
        runtimes.load("torch", onnx_path)
    ok, why = runtimes.cuda_available()
    if not ok:
        with pytest.raises(runtimes.RuntimeUnavailable, match="CUDA|TensorRT"):
            runtimes.load("tensorrt", onnx_path)
    monkeypatch.setitem(runtimes.KINDS, "openvino", ("no_such_runtime_module", "openvino==2026.4.1"))
    with pytest.raises(MissingPackageError, match="pip install openvino==2026.4.1"):
        runtimes.load("openvino", onnx_path)
    with pytest.raises(FileNotFoundError, match="export or quantize"):
        runtimes.load("onnxruntime", onnx_path.with_name("missing.onnx"))


def test_fidelity_measures_cosine_difference_and_agreement():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    same = runtimes.fidelity(ref, ref)
    assert same.cos_min == pytest.approx(1.0) and same.max_abs == 0 and same.agreement == 1
    other = runtimes.fidelity(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0]]), ref)
    assert other.cos_min == pytest.approx(2 ** -0.5) and other.cos_mean == pytest.approx((1 + 2 ** -0.5) / 2)
    assert other.agreement == 1 and other.max_abs == 1  # a tie keeps the first class
    assert runtimes.fidelity(np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]), ref).agreement == 0.5
    with pytest.raises(ValueError, match="one shape"):
        runtimes.fidelity(ref, ref[:1])


def test_cold_start_reports_each_phase_from_a_fresh_process(tiny, tokenizer):
    model, folder, onnx_path = tiny
    feed = _feed(tokenizer)
    cs = runtimes.cold_start("onnxruntime", onnx_path, feed)
    assert cs.import_s > 0 and cs.load_s > 0 and cs.first_run_s > 0
    assert cs.total_s == pytest.approx(cs.import_s + cs.load_s + cs.first_run_s)
    assert 20e6 < cs.peak_bytes < 2e9
    eager = runtimes.cold_start("torch", folder / "hf", feed)
    assert eager.import_s > cs.import_s  # importing torch costs more than importing onnxruntime
    with pytest.raises(RuntimeError, match="failed"):
        runtimes.cold_start("onnxruntime", onnx_path.with_name("missing.onnx"), feed)
    with pytest.raises(ValueError, match="choose one of"):
        runtimes.cold_start("nope", onnx_path, feed)


# The converters' known limits that chapter 6 works around. Each test fails the day a new release
# lifts the limit, so the chapter's text can be updated then.

def test_litert_torch_still_needs_a_static_length(tiny):
    litert_torch = pytest.importorskip("litert_torch")
    from torch.export import Dim

    model, _, _ = tiny
    seq = Dim("seq", min=2, max=32)
    example = tuple(torch.ones(1, 8, dtype=torch.int32) for _ in range(2))
    with pytest.raises(Exception):  # noqa: B017 (any failure: the message changes between releases)
        with quiet.converters():
            litert_torch.convert(convert.logits_only(model), example, dynamic_shapes=({1: seq}, {1: seq}))


def test_executorch_quantizer_breaks_transformers_position_ids_without_the_patch(tiny):
    pytest.importorskip("executorch")
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torch.export import export
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    model, _, _ = tiny
    example = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    graph = export(convert.logits_only(model), example).module()
    stock = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))
    with pytest.raises(IndexError, match="tensors used as indices"):
        prepare_pt2e(graph, stock)(*example)
    patched = prepare_pt2e(export(convert.logits_only(model), example).module(), convert._xnnpack_dynamic_int8_quantizer())
    patched(*example)  # the workaround runs


def test_coremltools_needs_the_decomposed_program(tiny):
    ct = pytest.importorskip("coremltools")
    from torch.export import export

    model, _, _ = tiny
    example = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    program = export(convert.logits_only(model), example).run_decompositions({})  # core ATen ops kept whole
    with pytest.raises(NotImplementedError, match="new_ones"), quiet.converters():
        ct.convert(program, minimum_deployment_target=ct.target.iOS17)


def test_one_command_runs_a_chain_of_steps_in_one_process(tmp_path, capsys):
    done = [tmp_path / "a.tflite", tmp_path / "b.tflite"]
    for path in done:
        path.write_bytes(b"converted before")
    convert.main(["litert-int8", "src.tflite", str(done[0]), "--then", "litert-int8", "src.tflite", str(done[1])])
    assert capsys.readouterr().out.count("kept") == 2  # both steps ran (and kept what exists)
    command = convert.chain_command([["litert", "model", "o1"], ["litert-int8", "o1", "o2"]])
    assert command[1:3] == ["-m", "edgehelpers.convert"]
    assert command[3:] == ["litert", "model", "o1", "--then", "litert-int8", "o1", "o2"]
    with pytest.raises(SystemExit, match="empty step"):
        convert.main(["--then", "litert-int8", "src.tflite", str(done[0])])


def test_conversion_chains_and_the_command_line_keep_what_exists(tiny, tmp_path, capsys):
    _, folder, _ = tiny
    chains = convert.edge_conversions(folder / "hf", static=16, seq=64)
    outputs = [out for chain in chains.values() for out, _ in chain]
    assert len(outputs) == len(set(outputs)) == 7
    assert all(out.parent == convert.conversion_dir(folder / "hf") for out in outputs)
    existing = tmp_path / "done.tflite"
    existing.write_bytes(b"already converted")
    convert.main(["litert-int8", str(tmp_path / "missing-source.tflite"), str(existing)])
    assert "kept" in capsys.readouterr().out and existing.read_bytes() == b"already converted"

"""edgehelpers.exercises: every registered check accepts the right answer and rejects a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

from edgehelpers import exercises
from edgehelpers.roofline import Roofline
from edgehelpers.timing import LatencyStats

torch = pytest.importorskip("torch")


def test_no_answer_yet_and_unknown_exercise():
    v = exercises.check("1.1", None)
    assert v.ok is None and not v and "no answer yet" in repr(v)
    with pytest.raises(ValueError, match="no exercise '99.1'.*1.1"):
        exercises.check("99.1", 1)


def _roof(bw: float, fp32: float) -> Roofline:
    return Roofline(bandwidth_gbs=bw, peaks={"FP32": fp32, "INT8": 2 * fp32})


def test_chapter_1_checks():
    rooflines = {1: _roof(10, 100), 2: _roof(12, 190)}
    assert exercises.check("1.1", "compute", rooflines=rooflines)
    assert not exercises.check("1.1", "Bandwidth", rooflines=rooflines)
    assert exercises.check("1.1", "bandwidth", rooflines={1: _roof(10, 100), 2: _roof(20, 202)})  # a tie: either
    with pytest.raises(ValueError, match="answer one of"):
        exercises.check("1.1", "memory", rooflines=rooflines)
    roof = _roof(10, 100)  # ridge 10 FLOP/B
    enc = {8: {"intensity": 4.0}, 32: {"intensity": 9.0}, 64: {"intensity": 20.0}, 128: {"intensity": 40.0}}
    assert exercises.check("1.2", 64, enc=enc, roof=roof) and not exercises.check("1.2", 128, enc=enc, roof=roof)
    assert exercises.check("1.2", -1, enc={8: {"intensity": 1.0}}, roof=roof)
    assert exercises.check("1.3", 25.0, weight_bytes=500_000_000, roof=roof)  # 250 MB at 10 GB/s
    assert not exercises.check("1.3", 50.0, weight_bytes=500_000_000, roof=roof)
    windows = [{"stats": LatencyStats.from_samples(np.linspace(10.0, 12.0, 20))},
               {"stats": LatencyStats.from_samples(np.linspace(11.0, 13.2, 20))}]
    truth = windows[-1]["stats"].p95_ms / windows[0]["stats"].p95_ms
    assert exercises.check("1.4", truth, windows=windows) and not exercises.check("1.4", 1.0, windows=windows)


def _preds(n_right_a: int, n_right_b: int, n: int = 1000):
    labels = np.zeros(n, dtype=int)
    a, b = np.ones(n, dtype=int), np.ones(n, dtype=int)
    a[:n_right_a], b[:n_right_b] = 0, 0
    return a, b, labels


def test_chapter_2_checks():
    ref = np.eye(3)[[0, 1, 2, 0]]
    mine = np.eye(3)[[0, 1, 1, 0]]  # agrees on 3 of 4
    assert exercises.check("2.1", 0.75, logits=mine, reference=ref)
    assert not exercises.check("2.1", 0.5, logits=mine, reference=ref)
    with pytest.raises(ValueError, match="logits="):
        exercises.check("2.1", 0.75, logits=None, reference=ref)
    same, full, labels = _preds(900, 902)  # a tiny loss: no worse by one point
    assert exercises.check("2.2", True, preds_reduce=same, preds_full=full, labels=labels)
    worse, full, labels = _preds(800, 900)
    assert exercises.check("2.2", False, preds_reduce=worse, preds_full=full, labels=labels)
    better, ptq, labels = _preds(950, 850)
    assert exercises.check("2.3", True, preds_qat=better, preds_ptq=ptq, labels=labels)
    assert not exercises.check("2.3", False, preds_qat=better, preds_ptq=ptq, labels=labels)
    with pytest.raises(ValueError, match="as preds_qat, as the cell shows"):
        exercises.check("2.3", True, preds_qat=None, preds_ptq=ptq, labels=labels)
    with pytest.raises(ValueError, match="needs both prediction arrays"):  # labels missing
        exercises.check("2.3", True, preds_qat=better, preds_ptq=ptq)
    with pytest.raises(TypeError, match="takes preds_qat=, preds_ptq= and labels="):  # a misspelt keyword
        exercises.check("2.3", True, preds_qatt=better, preds_ptq=ptq, labels=labels)
    assert exercises.check("2.4", "INT8", factors=[0.97, 1.06, 1.98])
    assert not exercises.check("2.4", "runtime", factors=[0.97, 1.06, 1.98])


def test_chapter_3_checks():
    first, last, labels = _preds(700, 850)
    assert exercises.check("3.1", -15.0, preds_first=first, preds_last=last, labels=labels)
    assert not exercises.check("3.1", 15.0, preds_first=first, preds_last=last, labels=labels)
    assert exercises.check("3.2", True, accuracies=[0.80, 0.85, 0.82], n=2000)  # spread 5 pt > ~1.7 pt
    assert exercises.check("3.2", False, accuracies=[0.850, 0.852, 0.851], n=2000)
    with pytest.raises(ValueError, match="at least two seeds"):
        exercises.check("3.2", True, accuracies=[0.8], n=100)
    student, tfidf, labels = _preds(880, 860)
    verdict = exercises.check("3.3", False, preds_student=student, preds_tfidf=tfidf, labels=labels)
    assert bool(verdict) == (not exercises.check("3.3", True, preds_student=student, preds_tfidf=tfidf, labels=labels))


def test_chapter_4_checks():
    torch.manual_seed(0)
    w = torch.randn(8, 16)
    groups = w.abs().reshape(8, -1, 4)
    best = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, groups.topk(2, dim=-1).indices, True).reshape(8, 16)
    assert exercises.check("4.3", best, weight=w)
    worst = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, (-groups).topk(2, dim=-1).indices, True).reshape(8, 16)
    v = exercises.check("4.3", worst, weight=w)
    assert not v and "keeps" in v.message
    assert not exercises.check("4.3", torch.ones(8, 16), weight=w)  # not 2:4 at all
    assert not exercises.check("4.3", torch.ones(4, 4), weight=w)
    speedup = {0.5: 0.5, 0.8: 1.2, 0.9: 2.0}
    assert exercises.check("4.1", 0.8, speedup=speedup) and not exercises.check("4.1", 0.9, speedup=speedup)
    assert exercises.check("4.1", -1, speedup={0.5: 0.5})
    weights = [torch.tensor([[1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0]])]  # 8 weights, 3 non-zero
    assert exercises.check("4.2", 1 + 12, weights=weights) and not exercises.check("4.2", 32, weights=weights)


def test_chapter_5_checks():
    kw = dict(layers=24, kv_heads=2, head_dim=64, tokens=4096, bytes_per_value=2)
    assert exercises.check("5.1", 2 * 24 * 2 * 64 * 4096 * 2, **kw)
    assert not exercises.check("5.1", 24 * 2 * 64 * 4096 * 2, **kw)  # forgot that K and V are two tensors

    def causal_window(n, w):
        offset = torch.arange(n)[:, None] - torch.arange(n)[None, :]
        return (offset >= 0) & (offset < w)

    assert exercises.check("5.2", causal_window)
    v = exercises.check("5.2", lambda n, w: causal_window(n, w + 1))  # one token too many
    assert not v and "entry" in v.message
    assert not exercises.check("5.2", lambda n, w: (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() < w)
    assert not exercises.check("5.2", lambda n, w: torch.ones(n, n + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="function itself"):
        exercises.check("5.2", "causal")
    labels = np.array([0, 1] * 100)
    good, bad = labels.copy(), labels.copy()
    bad[:60] = 1 - bad[:60]
    assert exercises.check("5.3", True, pred_global=good, pred_window=bad, labels=labels)
    assert not exercises.check("5.3", False, pred_global=good, pred_window=bad, labels=labels)
    assert exercises.check("5.3", False, pred_global=bad, pred_window=bad, labels=labels)
    with pytest.raises(ValueError, match="pred_global"):
        exercises.check("5.3", True, pred_global=None, pred_window=bad, labels=labels)


def test_chapter_6_checks():
    assert exercises.check("6.1", 2.5, padded_ms=5.0, exact_ms=2.0)
    assert not exercises.check("6.1", 1.5, padded_ms=5.0, exact_ms=2.0)
    with pytest.raises(ValueError, match="latencies"):
        exercises.check("6.1", 1.0, padded_ms=0.0, exact_ms=2.0)
    assert exercises.check("6.2", "U8 ", u8_ms=10.0, s8_ms=30.0)
    assert not exercises.check("6.2", "u8", u8_ms=30.0, s8_ms=10.0)
    with pytest.raises(ValueError, match="answer one of"):
        exercises.check("6.2", "int8", u8_ms=1.0, s8_ms=2.0)
    basic, extended = {"Add": 5, "LayerNormalization": 2}, {"Add": 2, "SkipLayerNormalization": 2, "BiasGelu": 1}
    assert exercises.check("6.3", {"BiasGelu", "SkipLayerNormalization"}, basic=basic, extended=extended)
    assert not exercises.check("6.3", ["SkipLayerNormalization"], basic=basic, extended=extended)
    assert not exercises.check("6.3", "SkipLayerNormalization", basic=basic, extended=extended)
    assert exercises.check("6.3", None, basic=basic, extended=extended).ok is None



def test_chapter_7_checks():
    assert exercises.check("7.1", (2304, 768), d=384, patch=16)
    assert exercises.check("7.1", [2304, 16 * 48], d=384, patch=16)
    assert not exercises.check("7.1", (1152, 768), d=384, patch=16)
    with pytest.raises(ValueError, match="pair"):
        exercises.check("7.1", 2304, d=384, patch=16)
    achieved = {"DeiT-Ti": 99.0, "MobileNetV3-S": 14.0}
    assert exercises.check("7.2", "deit-ti", achieved=achieved)
    assert not exercises.check("7.2", "MobileNetV3-S", achieved=achieved)
    with pytest.raises(ValueError, match="answer one of"):
        exercises.check("7.2", "ResNet-50", achieved=achieved)
    assert exercises.check("7.3", 5, counts=[13, 10, 8, 5])
    assert not exercises.check("7.3", 4, counts=[13, 10, 8, 5])
    from edgehelpers.imagetrain import tiny_vit

    vit = tiny_vit()
    assert exercises.check("7.4", 3 * 32 * 96 + 3 * 32 + 32 * 96, model=vit)
    assert not exercises.check("7.4", 3 * 32 * 96, model=vit)
    assert vit.blocks[0].attn.num_heads == 3  # the check prunes a copy, not the model
    assert exercises.check("7.5", 2, agreement={0: 0.999, 1: 0.998, 2: 0.99, 3: 0.999})
    assert not exercises.check("7.5", 0, agreement={0: 0.999, 1: 0.998, 2: 0.99, 3: 0.999})
    with pytest.raises(ValueError, match="sensitivity scan"):
        exercises.check("7.5", 0, agreement={})
    labels = np.array([0, 1] * 500)
    same = labels.copy()
    assert exercises.check("7.6", True, pred_int8=same, pred_fp32=same, labels=labels)
    worse = np.where(np.arange(1000) < 100, 1 - labels, labels)
    assert exercises.check("7.6", False, pred_int8=worse, pred_fp32=same, labels=labels)
    with pytest.raises(ValueError, match="True or False"):
        exercises.check("7.6", "yes", pred_int8=same, pred_fp32=same, labels=labels)
    with pytest.raises(ValueError, match="pred_int8"):
        exercises.check("7.6", True, pred_int8=None, pred_fp32=same, labels=labels)

def test_chapter_9_1_biggest_step():
    step_ms = {"teacher": 20.0, "prune": 12.0, "distil": 14.0, "INT8": 5.0}  # saved 8, -2, 9 ms
    order = ["teacher", "prune", "distil", "INT8"]
    v = exercises.check("9.1", " int8", step_ms=step_ms, order=order)
    assert v and "INT8 saved 9.00 ms" in v.message
    assert not exercises.check("9.1", "prune", step_ms=step_ms, order=order)
    with pytest.raises(ValueError, match="answer one of 'prune', 'distil', 'INT8'"):
        exercises.check("9.1", "teacher", step_ms=step_ms, order=order)  # the start is no step


def test_chapter_9_2_harder_pruning():
    same, teacher, labels = _preds(900, 902)  # 0.2 pt behind: within one point
    assert exercises.check("9.2", True, pred=same, pred_teacher=teacher, labels=labels, margin=0.01)
    assert not exercises.check("9.2", False, pred=same, pred_teacher=teacher, labels=labels, margin=0.01)
    worse, teacher, labels = _preds(800, 900)
    assert exercises.check("9.2", False, pred=worse, pred_teacher=teacher, labels=labels, margin=0.01)
    assert not exercises.check("9.2", True, pred=worse, pred_teacher=teacher, labels=labels, margin=0.01)
    with pytest.raises(ValueError, match="exercise 9.2 needs both prediction arrays"):
        exercises.check("9.2", True, pred=None, pred_teacher=teacher, labels=labels, margin=0.01)


def test_chapter_9_3_which_order():
    better, worse, labels = _preds(950, 850)
    kw = dict(labels=labels)
    assert exercises.check("9.3", "Prune first", pred_prune_first=better, pred_quantize_first=worse, **kw)
    assert not exercises.check("9.3", "tie", pred_prune_first=better, pred_quantize_first=worse, **kw)
    assert exercises.check("9.3", "quantize first", pred_prune_first=worse, pred_quantize_first=better, **kw)
    assert not exercises.check("9.3", "prune first", pred_prune_first=worse, pred_quantize_first=better, **kw)
    assert exercises.check("9.3", " TIE ", pred_prune_first=better, pred_quantize_first=better, **kw)
    assert not exercises.check("9.3", "prune first", pred_prune_first=better, pred_quantize_first=better, **kw)
    with pytest.raises(ValueError, match="answer one of 'prune first', 'quantize first', 'tie'"):
        exercises.check("9.3", "both", pred_prune_first=better, pred_quantize_first=worse, **kw)


def test_chapter_9_4_to_9_6_numbers():
    from edgehelpers.sustain import Sustained

    ends = np.arange(1, 301) / 10  # 10 calls a second for 30 s, call k takes k ms: 100 calls in each 10 s
    run = Sustained(1, LatencyStats.from_samples([1.0]), ends, np.arange(1.0, 301.0))
    late = float(np.percentile(np.arange(201.0, 301.0), 99))  # the last 10 s: 201..300 ms
    assert exercises.check("9.4", late, run=run) and exercises.check("9.4", late * 1.04, run=run)
    assert not exercises.check("9.4", float(np.percentile(np.arange(1.0, 101.0), 99)), run=run)  # the first 10 s
    assert exercises.check("9.5", 4.0, slow=20.0, fast=5.0)
    assert not exercises.check("9.5", 0.25, slow=20.0, fast=5.0)
    p50 = {"8 tok": 2.0, "128 tok": 7.0}
    assert exercises.check("9.6", 3.5, p50_ms=p50, short="8 tok", long="128 tok")
    assert not exercises.check("9.6", 2.0 / 7.0, p50_ms=p50, short="8 tok", long="128 tok")
    assert not exercises.check("9.6", 3.8, p50_ms=p50, short="8 tok", long="128 tok")  # beyond 5%


def test_chapter_9c_browser_checks(tmp_path):
    import json

    speedup = {8: 0.8, 32: 1.1, 128: 1.6}
    assert exercises.check("9.7", 128, speedup=speedup)
    assert not exercises.check("9.7", 8, speedup=speedup)
    assert not exercises.check("9.8", 2.0, int8_page=100, work=tmp_path)  # no FP32 bundle built yet
    (tmp_path / "web-fp32").mkdir()
    files = {"lib/ort-wasm-simd-threaded.wasm": {"bytes": 100}, "lib/ort.wasm.min.mjs": {"bytes": 10},
             "models/indic/model.onnx": {"bytes": 380}, "models/indic/tokenizer.json": {"bytes": 9},
             "models/indic/tokenizer_config.json": {"bytes": 1}}
    spec = {"model": "models/indic/model.onnx", "tokenizer": "models/indic/tokenizer.json",
            "tokenizer_config": "models/indic/tokenizer_config.json"}
    (tmp_path / "web-fp32" / "models.json").write_text(json.dumps({"files": files, "models": {"indic": spec}}))
    assert exercises.check("9.8", 2.5, int8_page=200, work=tmp_path)  # 500 / 200
    assert not exercises.check("9.8", 2.7, int8_page=200, work=tmp_path)
    assert exercises.check("9.9", True, disabled_ms=12.0, default_ms=10.0)
    assert exercises.check("9.9", False, disabled_ms=10.5, default_ms=10.0)
    assert not exercises.check("9.9", True, disabled_ms=10.5, default_ms=10.0)


def test_small_language_model_checks():
    from edgehelpers import slm

    shape = slm.LLAMA_3_2_1B  # 2 x 16 x 8 x 64 x 2 = 32,768 bytes per token at FP16
    assert exercises.check("10.1", 2048, shape=shape, budget_bytes=64 * 2**20)
    assert not exercises.check("10.1", 6144, shape=shape, budget_bytes=64 * 2**20)
    rates = {"Pi": 3.0, "Phone": 9.5}
    assert exercises.check("10.2", "Phone", rates=rates)
    assert not exercises.check("10.2", "Pi", rates=rates)
    pi5 = 17.1
    four = slm.estimate_on_device(slm.LLAMA_3_2_1B, pi5, 0.5).tokens_per_s
    eight = slm.estimate_on_device(slm.LLAMA_3_2_1B, pi5, 0.5, bits=8.5, head_bits=8.5).tokens_per_s
    assert 1.3 < four / eight < 2
    assert exercises.check("10.3", four / eight, efficiency=0.5)
    assert not exercises.check("10.3", 2.0, efficiency=0.5)


def test_every_check_is_tested():
    tested = {"1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "4.1", "4.2", "4.3",
              "5.1", "5.2", "5.3", "6.1", "6.2", "6.3", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "8.1", "8.2", "8.3",
              "9.1", "9.2", "9.3", "9.4", "9.5", "9.6", "9.7", "9.8", "9.9",
              "10.1", "10.2", "10.3"}  # 8.x: tests/test_indic.py
    assert set(exercises.CHECKS) == tested, "a new check needs a test above"


def test_verdict_repr_reads_as_a_sentence():
    assert repr(exercises.Verdict("2.1", True, "ok.")) == "Exercise 2.1: right. ok."
    assert repr(exercises.Verdict("2.1", False, "no.")) == "Exercise 2.1: not quite. no."

"""Latency statistics, interleaved comparisons, thread control and the runtime adapters."""

import base64
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from edgehelpers import timing
from edgehelpers.runtimes import as_callable, compare_at, threads_by_input
from edgehelpers.timing import (InputLabel, LatencyStats, compare_latency, latency, latency_table, latency_metrics,
                                lengths_table, threads_table, throughput)


class FakeClock:
    """A clock that moves only when a fake workload says so (ns)."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def work(self, ms: float):
        """A zero-argument fn that 'takes' `ms` milliseconds."""
        def fn() -> None:
            self.now += int(ms * 1e6)
        return fn


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing, "_now_ns", fake)
    return fake


# ---------------------------------------------------------------- statistics


def test_stats_from_known_durations(clock):
    durations = iter([100.0, 100.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # two warm-up calls, then five timed

    def fn():
        clock.now += int(next(durations) * 1e6)

    s = latency(fn, warmup=2, runs=5)
    assert s.samples_ms == (1.0, 2.0, 3.0, 4.0, 5.0)  # warm-up excluded
    assert (s.n, s.p50_ms, s.mean_ms, s.min_ms, s.max_ms) == (5, 3.0, 3.0, 1.0, 5.0)
    assert s.p95_ms is None  # five runs are too few for a p95
    assert s.std_ms == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert s.threads is None


def test_p95_needs_twenty_runs():
    assert timing.MIN_RUNS_P95 == 20 == timing.min_runs_for(95)
    assert (timing.min_runs_for(50), timing.min_runs_for(90), timing.min_runs_for(99), timing.min_runs_for(100)) \
        == (1, 10, 100, 1)
    assert LatencyStats.from_samples(list(range(1, 20))).p95_ms is None
    twenty = LatencyStats.from_samples(list(range(1, 21)))
    assert twenty.p95_ms == pytest.approx(np.percentile(range(1, 21), 95)) == twenty.percentile(95)
    with pytest.raises(ValueError, match="p99 needs at least 100 timed runs, this has 20"):
        twenty.percentile(99)


def test_budget_loop_stops_after_budget_and_min_runs(clock):
    # stable=None: use the whole budget (a fake clock's identical runs are "stable" at once)
    assert latency(clock.work(100), warmup=0, budget_s=1.0, min_runs=3, stable=None).n == 10
    assert latency(clock.work(100), warmup=0, budget_s=1.0, min_runs=20, stable=None).n == 20
    assert latency(clock.work(100), warmup=0, budget_s=1.0, min_runs=4, max_runs=5, stable=None).n == 5
    assert latency(clock.work(10), warmup=0, budget_s=10.0).n == 20  # default: 20 runs, then stable


def test_loop_stops_once_the_median_is_stable(clock):
    rng = np.random.default_rng(0)

    def noisy(spread: float):
        def fn() -> None:
            clock.now += int(1e6 * (10 + spread * rng.standard_normal()))
        return fn

    calm = latency(noisy(0.05), warmup=0, budget_s=100.0)  # +-0.5% noise: stable soon after 20 runs
    assert 20 <= calm.n <= 40
    rough = latency(noisy(2.0), warmup=0, budget_s=100.0)  # +-20% noise: needs many more runs
    assert rough.n > 5 * calm.n and rough.n < 10_000
    lo, hi = timing.median_ci(rough.samples_ms)
    assert lo <= rough.p50_ms <= hi and (hi - lo) / 2 <= 0.01 * rough.p50_ms * 1.001
    # every variant of a comparison must be stable, the noisiest decides
    both = compare_latency({"calm": noisy(0.05), "rough": noisy(2.0)}, warmup=0, budget_s=100.0)
    assert both["calm"].n == both["rough"].n > 5 * calm.n
    # the budget still caps it
    assert latency(noisy(2.0), warmup=0, budget_s=0.5, min_runs=20).n == 50


def test_median_ci_from_order_statistics():
    lo, hi = timing.median_ci(list(range(100)))
    assert (lo, hi) == (39.0, 60.0)  # the 40th and 61st of 100 runs: about 50 -+ 1.96 * sqrt(100) / 2
    assert timing.median_ci([3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="at least one"):
        timing.median_ci([])


def test_real_clock_with_sleep_has_loose_bounds():
    s = latency(lambda: time.sleep(0.002), warmup=1, runs=5)
    assert 2.0 <= s.p50_ms < 100 and s.min_ms >= 2.0 and s.n == 5


def test_str_format():
    s = LatencyStats.from_samples([12.0, 12.4, 12.6] * 7, threads=1)
    assert str(s) == "p50 12.4 ms  p95 12.6 ms  mean 12.3 ± 0.3 ms  (n=21, 1 thread)"
    few = LatencyStats.from_samples([12.0, 12.4, 12.6], threads=1)  # too few for a p95: the range instead
    assert str(few) == "p50 12.4 ms  range 12.0-12.6 ms  mean 12.3 ± 0.3 ms  (n=3, 1 thread: too few for a p95)"
    assert (few.spread(), s.spread()) == ("12.0-12.6", "12.6")
    assert str(LatencyStats.from_samples([0.5], threads=4)).endswith("(n=1, 4 threads: too few for a p95)")
    assert str(LatencyStats.from_samples([0.5] * 20)).endswith("(n=20)")


def test_percentile():
    s = LatencyStats.from_samples([5.0, 1.0, 3.0])
    assert (s.percentile(0), s.percentile(50), s.percentile(100)) == (1.0, 3.0, 5.0)
    for bad in (-1, 100.5):
        with pytest.raises(ValueError, match="between 0 and 100"):
            s.percentile(bad)


def test_stats_reject_bad_samples():
    with pytest.raises(ValueError, match="no latency samples"):
        LatencyStats.from_samples([])
    with pytest.raises(ValueError, match="finite"):
        LatencyStats.from_samples([1.0, float("nan")])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"warmup": -1}, "warmup"),
        ({"runs": 0}, "runs"),
        ({"budget_s": 0}, "budget_s"),
        ({"min_runs": 0}, "min_runs"),
        ({"min_runs": 10, "max_runs": 5}, "max_runs"),
    ],
)
def test_latency_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        latency(lambda: None, **kwargs)


def test_latency_rejects_non_callable():
    with pytest.raises(TypeError, match="as_callable"):
        latency(42)  # type: ignore[arg-type]


def test_throughput_from_median(clock):
    assert throughput(clock.work(10), items_per_call=8, warmup=0, runs=5) == pytest.approx(800.0)
    with pytest.raises(ValueError, match="items_per_call"):
        throughput(clock.work(10), items_per_call=0)


# ---------------------------------------------------------------- interleaving


def test_compare_shuffles_order_each_round(clock):
    calls: list[str] = []
    fns = {name: (lambda n=name: calls.append(n)) for name in "abcd"}
    compare_latency(fns, warmup=1, rounds=40)
    assert calls[:4] == list("abcd")  # warm-up in the given order
    rounds = [calls[i : i + 4] for i in range(4, len(calls), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds) and len(rounds) == 40  # each variant once a round
    before_a = {r[r.index("a") - 1] for r in rounds if r.index("a") > 0}
    assert before_a == set("bcd")  # no fixed neighbour: a rotation would always put d before a
    again: list[str] = []
    compare_latency({name: (lambda n=name: again.append(n)) for name in "abcd"}, warmup=1, rounds=40)
    assert again == calls  # seeded: the same schedule every time


def test_compare_spreads_an_after_effect_over_all_variants(clock):
    # "heavy" leaves the machine slow for the next call (as a lower clock after AMX/AVX-512 code
    # can); with a fixed rotation the same variant would always pay for it
    slow_next = [False]

    def make(ms: int, heavy: bool = False):
        def fn():
            clock.now += int(ms * 1e6) + (2_000_000 if slow_next[0] else 0)
            slow_next[0] = heavy
        return fn

    fns = {"heavy": make(1, heavy=True), "x": make(5), "y": make(5), "z": make(5)}
    res = compare_latency(fns, warmup=0, rounds=300)
    means = [res[n].mean_ms for n in ("x", "y", "z")]
    assert max(means) - min(means) < 0.5  # each pays about a third of the penalty, none all of it


def test_compare_spreads_drift_over_all_variants(clock):
    # the machine slows down steadily (heat); two identical variants must come out equal, which
    # timing one after the other (all of A, then all of B) would not give
    def slowing():
        clock.now += 1_000_000 + clock.now // 100

    res = compare_latency({"A": slowing, "B": slowing}, warmup=0, rounds=40)
    assert res["A"].n == res["B"].n == 40
    assert res["A"].mean_ms == pytest.approx(res["B"].mean_ms, rel=0.02)
    seq_a, seq_b = latency(slowing, warmup=0, runs=40), latency(slowing, warmup=0, runs=40)
    assert seq_b.mean_ms > 1.3 * seq_a.mean_ms  # the drift is real: sequential timing is unfair


def test_compare_measures_each_variant(clock):
    fns = {"fast": clock.work(1), "slow": clock.work(4)}
    res = compare_latency(fns, warmup=0, budget_s=0.5, min_rounds=3, stable=None)
    assert res["fast"].p50_ms == 1.0 and res["slow"].p50_ms == 4.0
    assert res["fast"].n == res["slow"].n == 100  # 5 ms per round until 0.5 s


def test_compare_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        compare_latency({})
    with pytest.raises(TypeError, match="'x'"):
        compare_latency({"x": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="runs"):
        compare_latency({"x": lambda: None}, rounds=0)


# ---------------------------------------------------------------- threads


def test_threads_set_and_restored_even_on_exception():
    torch = pytest.importorskip("torch")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores to tell 1 thread from the default")
    torch.set_num_threads(2)
    with pytest.raises(RuntimeError, match="boom"):
        with timing.threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_latency_runs_under_thread_count():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(os.cpu_count() or 1)
    seen = []
    s = latency(lambda: seen.append(torch.get_num_threads()), warmup=1, runs=3, threads=1)
    assert seen == [1, 1, 1, 1] and s.threads == 1
    res = compare_latency({"a": lambda: seen.append(torch.get_num_threads())}, warmup=0, rounds=2, threads=1)
    assert res["a"].threads == 1 and seen[-2:] == [1, 1]
    assert torch.get_num_threads() == (os.cpu_count() or 1)


@pytest.mark.parametrize("bad", [0, -1, (os.cpu_count() or 1) + 1])
def test_threads_rejects_impossible_counts(bad):
    with pytest.raises(ValueError, match="from 1 to"):
        with timing.threads(bad):
            pass


@pytest.mark.parametrize("bad", [True, 1.5, "2"])
def test_threads_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="int"):
        with timing.threads(bad):
            pass


# ---------------------------------------------------------------- adapters


def test_as_callable_torch_module():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(4, 3).eval()
    x = torch.randn(2, 4)
    out = as_callable(model, x)()
    assert torch.equal(out, model(x).detach()) and torch.is_inference(out)
    assert torch.equal(as_callable(model, (x,))(), out)
    assert torch.equal(as_callable(model, {"input": x})(), out)
    assert torch.equal(as_callable(model, {"input": x.numpy()})(), out)  # numpy feeds become tensors


def _onnx_add_one():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_as_callable_onnxruntime_session():
    sess = _onnx_add_one()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = as_callable(sess, {"x": x})()
    np.testing.assert_array_equal(y, x + 1)
    with pytest.raises(ValueError, match="missing \\['x'\\]"):
        as_callable(sess, {"input_ids": x})
    with pytest.raises(TypeError, match="dict"):
        as_callable(sess, x)


# a 1 kB LiteRT model of Linear(4, 2) with weight = arange(8).reshape(2, 4), bias = [0.5, -1],
# converted once with litert-torch (embedded so the test needs no converter)
TINY_TFLITE_B64 = (
    "HAAAAFRGTDMUACAABAAIAAwAEAAUAAAAGAAcABQAAAADAAAAQAAAADQAAABMAQAADAAAALgAAAA0"
    "AAAABwAAAKgDAACkAwAAFAMAAKQCAACYAwAACAEAAMgAAAABAAAAPAEAAAEAAADgAQAAAQAAABAA"
    "AAAAAAoAEAAMAAgABAAKAAAADAAAABwAAAAgAAAADwAAAHNlcnZpbmdfZGVmYXVsdAABAAAAFAAA"
    "AAEAAAAoAAAACAAMAAgABAAIAAAAAwAAAAQAAAAIAAAAb3V0cHV0XzAAAAAAgv3//wQAAAAGAAAA"
    "YXJnc18wAAACAAAASAAAAAQAAADI////CAAAAAYAAAAXAAAAa2VlcF9zdGFibGVobG9fY29uc3Rh"
    "bnQAyv3//wQAAAAEAAAAdHJ1ZQgADAAEAAgACAAAAAgAAAAFAAAAEwAAAG1pbl9ydW50aW1lX3Zl"
    "cnNpb24ABv7//wQAAAAQAAAAMi4wLjAAAAAAAAAAAAAAAA8AAABNTElSIENvbnZlcnRlZC4AAAAO"
    "ABgABAAIAAwAEAAUAA4AAAA4AAAALAAAACAAAAAUAAAABAAAAAQAAABtYWluAAAAAAEAAAA4AAAA"
    "AQAAAAMAAAABAAAAAAAAAAQAAADEAQAAJAEAAMAAAABwAAAAAAAOABYAAAAIAAwABwAQAA4AAAAA"
    "AAAIKAAAABwAAAAQAAAAAAAKAAgAAAAAAAcACgAAAAAAAAEBAAAAAwAAAAMAAAAAAAAAAQAAAAIA"
    "AAAMABAACwAAAAwABAAMAAAACQAAAAAAAAkFAAAAzv7//wAAAAE0AAAABAAAAAgAAAA0AAAAHwAA"
    "AHNlcnZpbmdfZGVmYXVsdF9vdXRwdXRfMF9vdXRwdXQAAgAAAAEAAAACAAAAvP7//xr///8AAAAB"
    "OAAAAAMAAAAIAAAANAAAACAAAAB0b3JjaC5ubi5tb2R1bGVzLmxpbmVhci5MaW5lYXI7MQAAAAAB"
    "AAAAAgAAAAj///+a////BAAAAAgAAAAAAAA/AACAv3r///8AAAABNAAAAAIAAAAIAAAAOAAAAB8A"
    "AAB0b3JjaC5ubi5tb2R1bGVzLmxpbmVhci5MaW5lYXI7AAIAAAACAAAABAAAAAQABgAEAAAAAAAG"
    "AAgABAAGAAAABAAAACAAAAAAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAAFgAYAAgA"
    "AAAMABAAFAAAAAAAAAAHABYAAAAAAAABLAAAAAEAAAAIAAAALAAAABYAAABzZXJ2aW5nX2RlZmF1"
    "bHRfYXJnc18wAAACAAAAAQAAAAQAAAD8////BAAEAAQAAAA="
)


def _litert_interpreter(tmp_path):
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    path = tmp_path / "tiny.tflite"
    path.write_bytes(base64.b64decode(TINY_TFLITE_B64))
    return Interpreter(model_path=str(path))


def test_as_callable_litert_interpreter(tmp_path):
    interp = _litert_interpreter(tmp_path)
    x = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    expected = x @ np.arange(8, dtype=np.float32).reshape(2, 4).T + np.array([0.5, -1.0], dtype=np.float32)
    (y,) = as_callable(interp, [x])()
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    name = interp.get_input_details()[0]["name"]
    (y2,) = as_callable(interp, {name: 2 * x})()
    np.testing.assert_allclose(y2, 2 * expected - [0.5, -1.0], rtol=1e-6)  # W(2x) + b = 2(Wx + b) - b
    with pytest.raises(ValueError, match="float32"):
        as_callable(interp, [x.astype(np.float64)])
    with pytest.raises(ValueError, match="takes"):
        as_callable(interp, {"nope": x})
    with pytest.raises(TypeError, match="list"):
        as_callable(interp, x)


def test_as_callable_plain_callable():
    def add(a, b=10):
        return a + b

    assert as_callable(lambda: 7)() == 7
    assert as_callable(add, (1, 2))() == 3
    assert as_callable(add, {"a": 1, "b": 5})() == 6
    assert as_callable(add, 1)() == 11


@pytest.mark.parametrize("garbage", [42, "model.onnx", None, object()])
def test_as_callable_rejects_garbage(garbage):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        as_callable(garbage, None)


# ---------------------------------------------------------------- table


def test_latency_table_speed_up():
    res = {"fp32": LatencyStats.from_samples([10.0] * 20, threads=1),
           "int8": LatencyStats.from_samples([5.0] * 20, threads=1)}
    table = latency_table(res, baseline="fp32")
    header, rule, fp32, int8 = table.splitlines()
    assert "variant" in header and "p95 ms" in header and "speed-up" in header
    assert set(rule) == {"-"}
    assert fp32.startswith("fp32") and fp32.endswith("1.00x")
    assert int8.startswith("int8") and int8.endswith("2.00x") and " 5.00 " in int8
    assert len({len(line) for line in (header, fp32, int8)}) == 1  # fixed width
    assert "speed-up" not in latency_table(res)
    with pytest.raises(KeyError, match="fp16"):
        latency_table(res, baseline="fp16")
    with pytest.raises(ValueError):
        latency_table({})
    few = latency_table({"fp32": res["fp32"], "int8": LatencyStats.from_samples([4.0, 6.0], threads=1)})
    row, note = few.splitlines()[-2:]
    assert "4.00-6.00" in row and "fewer than 20 timed runs" in note  # the range, said to be one


def test_compare_at_times_every_variant_on_every_input():
    calls = []
    variants = {"double": lambda x: calls.append(("double", x)), "square": lambda x: calls.append(("square", x))}
    res = compare_at({"short": 2, "long": 128}, variants, warmup=1, rounds=3)
    assert list(res) == ["short", "long"] and all(list(r) == ["double", "square"] for r in res.values())
    assert all(r[v].n == 3 for r in res.values() for v in r)
    assert calls.count(("double", 2)) == 4 and calls.count(("square", 128)) == 4  # warm-up + 3 rounds
    with pytest.raises(ValueError, match="at least one input"):
        compare_at({}, variants)


def test_lengths_table():
    def stats(ms: float) -> LatencyStats:
        return LatencyStats.from_samples([ms] * 20, threads=1)

    res = {"p50 (22 tok)": {"fp32": stats(4.0), "int8": stats(2.0)},
           "128 tok": {"fp32": stats(40.0), "int8": stats(10.0)}}
    table = lengths_table(res, baseline="fp32")
    top, header, rule, fp32, int8 = table.splitlines()
    assert "p50 (22 tok)" in top and "128 tok" in top and header.count("speed-up") == 2
    assert fp32.split()[-1] == "1.00x" and int8.split()[3] == "2.00x" and int8.split()[-1] == "4.00x"
    assert len({len(line) for line in (header, rule, fp32, int8)}) == 1
    assert "speed-up" not in lengths_table(res)
    with pytest.raises(KeyError, match="fp16"):
        lengths_table(res, baseline="fp16")
    with pytest.raises(ValueError, match="same variants"):
        lengths_table({"a": {"x": stats(1.0)}, "b": {"y": stats(1.0)}})
    with pytest.raises(ValueError):
        lengths_table({})
    few = lengths_table({"128 tok": {"fp32": stats(4.0), "int8": LatencyStats.from_samples([1.0, 3.0])}})
    assert "1.00-3.00" in few and few.splitlines()[-1].startswith("a range a-b in the p95 column")
    assert len({len(line) for line in few.splitlines()[1:-1]}) == 1


def test_latency_metrics_name_each_input():
    st = LatencyStats.from_samples([2.0, 4.0] * 10, threads=1)
    p50, p95, padded = InputLabel.percentile(50, 22), InputLabel.percentile(95, 31), InputLabel.padded(128)
    assert (p50, p95, padded) == ("p50 (22 tok)", "p95 (31 tok)", "128 tok")  # still the strings the tables show
    fields = latency_metrics({p50: st, p95: st, padded: st, "odd input!": st, "p50 (9 tok)": st}, tag="2t")
    assert fields["p50_ms_2t_p50len"] == st.p50_ms and fields["p95_ms_2t_p95len"] == st.p95_ms
    few = latency_metrics({padded: LatencyStats.from_samples([2.0, 4.0])})
    assert few["p95_ms_1t_128tok"] is None  # the ledger's "missing": too few runs for a p95
    assert fields["p50len_tokens"] == 22 and fields["p95len_tokens"] == 31 and fields["128tok_tokens"] == 128
    assert "p50_ms_2t_odd_input" in fields and "odd_input_tokens" not in fields
    # a plain string is a name only: nothing parses a length back out of it
    assert "p50_ms_2t_p50_9_tok" in fields and "9" not in str([v for k, v in fields.items() if k.endswith("_tokens")])


def _pooled(log: list) -> dict:
    """Variants whose callables note (variant, threads, label) when made."""
    def make(variant: str, threads: int, label: str):
        log.append((variant, threads, label))
        return lambda **feed: sum(range(200))
    return make


def test_threads_by_input_keeps_thread_pools_apart_on_many_threads():
    log: list = []
    pools = {"ort a": "ort", "ort b": "ort", "torch": "torch", "compiled": "torch"}
    inputs = {InputLabel.percentile(50, 5): {}, InputLabel.padded(16): {}}
    table = threads_by_input(pools, inputs, _pooled(log), threads=(1, 2), budget_s={lb: 0.02 for lb in inputs},
                             one_thread_only={"compiled"}, progress=False)
    assert set(table) == set(pools)
    assert set(table["compiled"]) == {(1, lb) for lb in inputs}  # one thread only
    assert set(table["ort a"]) == {(n, lb) for n in (1, 2) for lb in inputs}
    assert all(st.threads == n for v in table.values() for (n, _), st in v.items())
    # one loop per (thread count, pool, input): on 2 threads the ORT and torch variants never share one
    loops = [tuple(sorted(v for v, n, lb in log if (n, lb) == key)) for key in dict.fromkeys((n, lb) for _, n, lb in log)]
    assert loops[:2] == [tuple(sorted(pools))] * 2
    assert {v for v, n, _ in log if n == 2} == {"ort a", "ort b", "torch"}
    header, rows, groups = threads_table(table, list(inputs), 2)
    assert header == ["variant"] + ["p50 1t", "p95 1t", "p50 2t"] * 2 and groups == [("", 1), ("p50 (5 tok)", 3),
                                                                                      ("16 tok", 3)]
    assert [r[0] for r in rows] == sorted(table, key=lambda v: table[v][(1, "p50 (5 tok)")].p50_ms)
    assert next(r for r in rows if r[0] == "compiled")[3] == "-"  # not timed on 2 threads
    with pytest.raises(ValueError, match="no time budget"):
        threads_by_input(pools, inputs, _pooled([]), threads=(1,), budget_s={}, progress=False)

def test_importing_helpers_does_not_import_torch():
    code = ("import sys, edgehelpers, edgehelpers.timing, edgehelpers.machine, edgehelpers.size, "
            "edgehelpers.accuracy, edgehelpers.fitting, edgehelpers.ledger, edgehelpers.memory; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)

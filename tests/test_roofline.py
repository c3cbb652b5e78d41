"""The roofline measurements return plausible numbers and the model of it answers correctly."""

import numpy as np
import pytest

from edgehelpers import roofline
from edgehelpers.roofline import Roofline


def test_bandwidth_is_plausible():
    gbs = roofline.read_bandwidth_gbs(threads=1, megabytes=64, runs=3)
    assert 0.5 < gbs < 500, gbs  # any real machine lies in this range; 0 or inf means a broken timer


def test_bandwidth_refuses_cache_sized_buffers():
    with pytest.raises(ValueError, match="caches"):
        roofline.read_bandwidth_gbs(megabytes=8)


def test_gemm_peaks_are_plausible():
    fp32 = roofline.fp32_gemm_gflops(threads=1, sizes=(256,), runs=3)
    int8 = roofline.int8_gemm_gops(threads=1, sizes=(256,), runs=3)
    assert 0.5 < fp32 < 5000 and 0.5 < int8 < 20000, (fp32, int8)


def test_int8_model_computes_the_integer_product():
    import onnxruntime as ort

    n = 8
    session = ort.InferenceSession(roofline.int8_matmul_model(n), providers=["CPUExecutionProvider"])
    a = np.arange(n * n, dtype=np.uint8).reshape(n, n)
    weight = np.random.default_rng(0).integers(-127, 128, size=(n, n), dtype=np.int8)
    (y,) = session.run(None, {"A": a})
    np.testing.assert_array_equal(y, a.astype(np.int32) @ weight.astype(np.int32))


def test_roofline_model():
    r = Roofline(bandwidth_gbs=20.0, peaks={"FP32": 100.0, "INT8": 400.0})
    assert r.ridge("FP32") == pytest.approx(5.0)
    assert r.ridge("INT8") == pytest.approx(20.0)
    assert r.attainable(1.0) == pytest.approx(20.0)
    assert r.attainable(50.0) == pytest.approx(100.0)
    assert r.bound(1.0) == "memory" and r.bound(10.0) == "compute"
    assert r.bound(10.0, "INT8") == "memory"
    assert r.as_metrics()["peak_int8_gops"] == 400.0
    with pytest.raises(KeyError, match="FP16"):
        r.ridge("FP16")
    with pytest.raises(ValueError, match="positive"):
        r.attainable(0.0)


def test_roofline_metrics_fit_the_ledger(tmp_path, monkeypatch):
    from edgehelpers import ledger

    monkeypatch.setenv("EDGEHELPERS_LEDGER", str(tmp_path / "ledger.json"))
    r = Roofline(bandwidth_gbs=10.0, peaks={"FP32": 200.0, "INT8": 400.0}, threads=2)
    row = ledger.record("01-bottlenecks", "roofline-2t", **r.as_metrics())  # none of the ledger's own fields
    assert row["measured_threads"] == 2 and "threads" not in row

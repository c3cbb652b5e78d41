"""The JSON results ledger: upserts, JSON types, corruption and concurrent writers."""

import json
import multiprocessing as mp

import numpy as np
import pytest

from edgehelpers import ledger


@pytest.fixture
def ledger_file(tmp_path, monkeypatch):
    path = tmp_path / "ledger.json"
    monkeypatch.setenv("EDGEHELPERS_LEDGER", str(path))
    return path


def test_ledger_path_default_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEHELPERS_LEDGER", raising=False)
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    assert ledger.ledger_path() == tmp_path / "cache" / "results" / "ledger.json"
    monkeypatch.setenv("EDGEHELPERS_LEDGER", str(tmp_path / "mine.json"))
    assert ledger.ledger_path() == tmp_path / "mine.json"


def test_record_upserts_by_chapter_and_variant(ledger_file):
    ledger.record("02-quantization", "fp32", p50_ms=20.0, size_mb=90.0)
    ledger.record("02-quantization", "int8", p50_ms=12.0)
    row = ledger.record("02-quantization", "fp32", p50_ms=19.0)  # a re-run replaces its row
    rows = ledger.read_ledger()
    assert [(r["variant"], r["p50_ms"]) for r in rows] == [("fp32", 19.0), ("int8", 12.0)]
    assert "size_mb" not in rows[0]  # replaced, not merged
    assert row == rows[0] and row["chapter"] == "02-quantization"
    assert row["recorded_at"][:4].isdigit() and "cores" in row["machine"]
    assert json.loads(ledger_file.read_text())["rows"] == rows


def test_read_ledger_filters_by_chapter(ledger_file):
    assert ledger.read_ledger() == []  # no file yet
    ledger.record("a", "x", v=1)
    ledger.record("b", "x", v=2)
    assert [r["v"] for r in ledger.read_ledger("b")] == [2]
    assert ledger.read_ledger("c") == []


def test_numpy_scalars_become_json_scalars(ledger_file):
    ledger.record("c", "v", f=np.float32(1.5), i=np.int64(3), b=np.bool_(True), s="ok", none=None)
    row = json.loads(ledger_file.read_text())["rows"][0]
    assert row["f"] == 1.5 and type(row["i"]) is int and row["b"] is True and row["none"] is None


def test_non_scalar_metrics_are_refused_by_name(ledger_file):
    with pytest.raises(TypeError, match="'latencies'"):
        ledger.record("c", "v", latencies=[1.0, 2.0])
    with pytest.raises(TypeError, match="'arr'"):
        ledger.record("c", "v", arr=np.zeros(3))
    with pytest.raises(ValueError, match="'acc'.*None"):
        ledger.record("c", "v", acc=float("nan"))
    with pytest.raises(ValueError, match="reserved"):
        ledger.record("c", "v", machine="mine")
    with pytest.raises(ValueError, match="chapter"):
        ledger.record("", "v")
    assert not ledger_file.exists()  # nothing half-written


def test_corrupt_ledger_says_how_to_reset(ledger_file):
    ledger_file.write_text("{not json")
    with pytest.raises(ValueError, match="ledger.json.*Delete it"):
        ledger.read_ledger()
    with pytest.raises(ValueError, match="Delete it"):
        ledger.record("c", "v", x=1)
    ledger_file.write_text('{"rows": 5}')
    with pytest.raises(ValueError, match="corrupt"):
        ledger.read_ledger()


def _writer(tag: str, count: int) -> None:
    for i in range(count):
        ledger.record("concurrent", f"{tag}-{i}", i=i)


def test_two_processes_writing_at_once_lose_nothing(ledger_file):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tag, 25)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    variants = {r["variant"] for r in ledger.read_ledger("concurrent")}
    assert variants == {f"{t}-{i}" for t in "ab" for i in range(25)}

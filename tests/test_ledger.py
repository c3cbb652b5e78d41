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
    ledger.record("02-quantization", "fp32", ms=20.0, size_mb=90.0)
    ledger.record("02-quantization", "int8", ms=12.0)
    row = ledger.record("02-quantization", "fp32", ms=19.0)  # a re-run replaces its row
    rows = ledger.read_ledger()
    assert [(r["variant"], r["ms"]) for r in rows] == [("fp32", 19.0), ("int8", 12.0)]
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


# ---- clearing, quarantine, and reading across chapters (chapter 9) ------------------------------


def test_clear_removes_only_that_chapters_rows(ledger_file):
    ledger.record("a", "x", v=1)
    ledger.record("b", "x", v=2)
    ledger.record("a", "y", v=3)
    assert ledger.clear("a") == 2
    assert [(r["chapter"], r["v"]) for r in ledger.read_ledger()] == [("b", 2)]
    assert ledger.clear("a") == 0  # nothing left to remove
    assert ledger.clear("c") == 0 and len(ledger.read_ledger()) == 1


def test_clear_without_a_ledger_writes_nothing(ledger_file):
    assert ledger.clear("a") == 0
    assert not ledger_file.exists()
    with pytest.raises(ValueError, match="chapter must be a non-empty string"):
        ledger.clear("")


def test_quarantine_moves_a_corrupt_ledger_aside_and_record_works_again(ledger_file):
    ledger_file.write_text("{not json")
    moved = ledger.quarantine()
    assert moved.parent == ledger_file.parent and moved.name.startswith("ledger.json.corrupt-")
    assert moved.read_text() == "{not json"  # kept, not deleted
    assert not ledger_file.exists()
    ledger.record("c", "v", x=1)
    assert [r["x"] for r in ledger.read_ledger()] == [1]
    assert moved.read_text() == "{not json"


def test_quarantine_takes_an_explicit_path(tmp_path):
    other = tmp_path / "old.json"
    other.write_text("broken")
    moved = ledger.quarantine(other)
    assert not other.exists() and moved.read_text() == "broken" and moved.name.startswith("old.json.corrupt-")


def test_split_machines_separates_rows_by_machine():
    rows = [{"chapter": "a", "machine": "here"}, {"chapter": "b", "machine": "there"},
            {"chapter": "c", "machine": "here"}, {"chapter": "d", "machine": "there"}, {"chapter": "e"}]
    mine, others = ledger.split_machines(rows, machine="here")
    assert [r["chapter"] for r in mine] == ["a", "c"]
    by_machine = {m: [r["chapter"] for r in rs] for m, rs in others.items()}
    assert by_machine == {"there": ["b", "d"], "unknown machine": ["e"]}


def test_split_machines_defaults_to_this_machine():
    rows = [{"chapter": "a", "machine": ledger.this_machine()}, {"chapter": "b", "machine": "elsewhere"}]
    mine, others = ledger.split_machines(rows)
    assert [r["chapter"] for r in mine] == ["a"] and list(others) == ["elsewhere"]


def test_missing_chapters_lists_notebooks_to_run_and_skips_chapter_9():
    rows = [{"chapter": "00-setup"}, {"chapter": "02-quantization"}, {"chapter": "09-together"}]
    missing = ledger.missing_chapters(rows)
    assert "00-setup" not in missing and "02-quantization" not in missing
    assert missing["01-bottlenecks"] == "01_why_edge_is_hard.ipynb"
    assert missing["08-indic"] == "08_indic_case_study.ipynb"
    assert "09-together" not in missing and "09b-ship" not in missing and "09c-browser" not in missing
    assert "10-slm" not in missing  # runs after 9b, which asks for the missing chapters
    assert len(missing) == len(ledger.CHAPTER_NOTEBOOKS) - 6
    every = ledger.missing_chapters([], skip=())
    assert every == ledger.CHAPTER_NOTEBOOKS


def _acc(correct=900, n=1000, low=0.88, high=0.92):
    from edgehelpers.accuracy import Accuracy

    return Accuracy(correct=correct, n=n, confidence=0.95, low=low, high=high)


def _stats(ms=4.0, threads=1):
    from edgehelpers.timing import LatencyStats

    return LatencyStats.from_samples([ms] * 25, threads=threads)


def test_record_writes_the_fixed_fields_from_their_objects(ledger_file):
    from edgehelpers.timing import InputLabel

    row = ledger.record("03-distillation", "v", task=ledger.ENGLISH, accuracy=_acc(), latency=_stats(),
                        latency_input=InputLabel.percentile(50, 22), size_bytes=1000, layers=2)
    assert {k: row[k] for k in ledger.FIXED if k in row} == {
        "task": ledger.ENGLISH, "accuracy": 0.9, "acc_low": 0.88, "acc_high": 0.92, "n_test": 1000, "p50_ms": 4.0,
        "p95_ms": 4.0, "latency_input": "p50 (22 tok)", "latency_tokens": 22, "threads": 1, "size_bytes": 1000}
    assert row["layers"] == 2 and "baseline" not in row
    assert ledger.record("x", "plain", latency=_stats(), latency_input="112 px")["latency_tokens"] is None


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"accuracy": 0.9, "task": "t"}, TypeError, "accuracy_ci"),
    ({"accuracy": _acc()}, ValueError, "needs task="),
    ({"latency": 4.0, "latency_input": "x"}, TypeError, "LatencyStats"),
    ({"latency": _stats()}, ValueError, "needs latency_input="),
    ({"latency": _stats(threads=None), "latency_input": "x"}, ValueError, "thread count"),
    ({"latency_input": "x"}, ValueError, "pass both"),
    ({"size_bytes": 1.5}, ValueError, "whole number"),
    ({"p50_ms": 3.0}, ValueError, "ledger's own fields"),
    ({"acc_low": 0.1}, ValueError, "ledger's own fields"),
])
def test_record_refuses_fields_that_do_not_say_what_they_measured(ledger_file, kwargs, error, match):
    with pytest.raises(error, match=match):
        ledger.record("x", "v", **kwargs)
    assert ledger.read_ledger() == []


def _point_row(chapter="03-distillation", variant="v", task=ledger.ENGLISH, **fields):
    return {"chapter": chapter, "variant": variant, "machine": "m", "task": task, "threads": 1,
            "latency_input": "p50 (22 tok)", **fields}


def test_result_points_reads_the_fixed_fields():
    (p,) = ledger.result_points([_point_row(accuracy=0.9, acc_low=0.88, acc_high=0.92, p50_ms=4.0, size_bytes=1000)])
    assert p == ledger.ResultPoint("03-distillation", "v", ledger.ENGLISH, 0.9, 4.0, 1000, 0.88, 0.92,
                                   latency_input="p50 (22 tok)")


def test_result_points_mark_a_baseline():
    (p, q) = ledger.result_points([_point_row("09-together", "TF-IDF", accuracy=0.88, p50_ms=0.3, baseline=True),
                                   _point_row("09-together", "final", accuracy=0.87, p50_ms=1.2)])
    assert p.baseline and not q.baseline


def test_result_points_take_any_chapter_that_names_its_task():  # no table of chapters: a new one just records
    (p,) = ledger.result_points([_point_row("10-new", task="a new test set", accuracy=0.85, p50_ms=0.5)])
    assert (p.task, p.accuracy, p.acc_low, p.size_bytes) == ("a new test set", 0.85, None, None)


def test_result_points_skip_rows_without_a_task_accuracy_or_one_thread_latency():
    rows = [_point_row(accuracy=0.9, p50_ms=1.0, threads=2), _point_row(accuracy=0.9), _point_row(p50_ms=1.0),
            _point_row(task=None, accuracy=0.9, p50_ms=1.0),
            {"chapter": "02", "variant": "old", "accuracy": 0.9, "p50_ms_1t_p50len": 3.0}]  # an old row: no guess
    assert ledger.result_points(rows) == []



def test_two_quarantines_in_one_second_keep_both_copies(tmp_path):
    moved = []
    for content in ("first", "second"):
        target = tmp_path / "ledger.json"
        target.write_text(content)
        moved.append(ledger.quarantine(target))
    assert moved[0] != moved[1] and {m.read_text() for m in moved} == {"first", "second"}

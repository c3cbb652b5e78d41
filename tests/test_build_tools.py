"""tools/stages.py (stage times and budgets at the end of a CI run) and tools/cell_times.py
(where a notebook's time goes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import cell_times, stages


def test_stage_times_with_failed_and_over_budget_stages(tmp_path: Path) -> None:
    log = tmp_path / "stages.log"
    log.write_text("begin\tteacher\t100.0\nend\tteacher\t450.0\n"  # 350 s: over its budget
                   "begin\tindic\t450.0\nend\tindic\t500.0\n"
                   "begin\tnotebooks\t500.0\n"  # never ended: it failed or was stopped
                   "garbage line\n", encoding="utf-8")
    rows = stages.read(log, now=600.0)
    assert [(r["name"], round(r["seconds"]), r["ended"]) for r in rows] == \
        [("teacher", 350, True), ("indic", 50, True), ("notebooks", 100, False)]
    text = stages.summary(rows, total_s=3100)
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert "OVER BUDGET" in lines["teacher"] and "OVER" not in lines["indic"]
    assert "FAILED or stopped" in lines["notebooks"]
    assert lines["builds"].split()[1] == "400" and "OVER BUDGET" not in lines["builds"]
    assert "whole run" in text and text.count("OVER BUDGET") == 2  # teacher, and the whole run over 3000 s
    assert "Zen 4" in text.splitlines()[-1]


def test_stage_marks_append_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "stages.log"
    stages.mark("begin", "unit tests", log)
    stages.mark("end", "unit tests", log)
    (row,) = stages.read(log)
    assert row["name"] == "unit tests" and row["ended"] and 0 <= row["seconds"] < 5
    assert stages.read(tmp_path / "missing.log") == []
    assert stages.main(["nonsense"]) == 2


def test_cell_times_from_nbclient_metadata(tmp_path: Path) -> None:
    def cell(source: str, start: str, end: str) -> dict:
        return {"cell_type": "code", "source": source, "outputs": [],
                "metadata": {"execution": {"iopub.status.busy": start, "shell.execute_reply": end}}}

    notebook = {"cells": [
        {"cell_type": "markdown", "source": "# title", "metadata": {}},
        cell("# a comment\nfast = 1", "2026-12-01T10:00:00.000000Z", "2026-12-01T10:00:00.500000Z"),
        cell("slow()", "2026-12-01T10:00:01.000000Z", "2026-12-01T10:01:31.000000Z"),
        {"cell_type": "code", "source": "never_run()", "metadata": {}, "outputs": []},
    ]}
    rows = cell_times.cell_times(notebook)
    assert rows == [{"cell": 1, "seconds": 0.5, "first_line": "fast = 1"},
                    {"cell": 2, "seconds": 90.0, "first_line": "slow()"}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert [r["cell"] for r in cell_times.slowest(path, top=1)] == [2]
    assert cell_times.slowest(tmp_path / "missing.ipynb") == []


def test_ledger_diff_flags_accuracy_moves_beyond_the_interval(tmp_path: Path) -> None:
    from tools import ledger_diff

    def ledger(rows: list[dict]) -> Path:
        path = tmp_path / f"ledger{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps({"format": 1, "rows": rows}), encoding="utf-8")
        return path

    before = ledger([{"chapter": "02", "variant": "int8", "accuracy": 0.88, "acc_low": 0.87, "acc_high": 0.89,
                      "p50_ms_1t_p50len": 4.0},
                     {"chapter": "02", "variant": "fp32", "accuracy": 0.90, "acc_low": 0.89, "acc_high": 0.91},
                     {"chapter": "03", "variant": "gone", "accuracy": 0.5}])
    after = ledger([{"chapter": "02", "variant": "int8", "accuracy": 0.885, "acc_low": 0.875, "acc_high": 0.895,
                     "p50_ms_1t_p50len": 3.0},
                    {"chapter": "02", "variant": "fp32", "accuracy": 0.87, "acc_low": 0.86, "acc_high": 0.88},
                    {"chapter": "04", "variant": "new", "accuracy": 0.5}])
    diff = ledger_diff.compare(ledger_diff._rows(before), ledger_diff._rows(after))
    moved = {r["variant"]: r for r in diff["accuracy"]}
    assert moved["int8"]["delta_pt"] == pytest.approx(0.5) and not moved["int8"]["beyond_noise"]
    assert moved["fp32"]["delta_pt"] == pytest.approx(-3.0) and moved["fp32"]["beyond_noise"]
    assert [r["ratio"] for r in diff["latency"]] == [0.75]
    assert diff["only_before"] == [("03", "gone")] and diff["only_after"] == [("04", "new")]
    text = ledger_diff.report(diff)
    assert "moved beyond half their 95% interval: 1" in text and "BEYOND NOISE" in text and "03/gone" in text

"""tools/workshop_times.py: the workshop guide's run-time table comes from the measured times."""

from __future__ import annotations

import json

import pytest

from tools import workshop_times


def _times(*rows):
    return {"budget_s": 300, "finished": "2026-11-26T07:00:00+00:00", "machine": {"cpu_count": 2, "platform": "Linux"},
            "notebooks": [{"notebook": f"_build/src/notebooks/{n}.ipynb", "seconds": s, "outcome": o} for n, s, o in rows]}


def test_table_lists_passed_chapters_with_their_measured_times():
    text = workshop_times.times_table(_times(("01_why_edge_is_hard", 114.2, "passed"), ("02_quantization", 235.0, "passed"),
                                             ("03_distillation", 10.0, "failed")))
    assert "| {doc}`../notebooks/01_why_edge_is_hard` | 114 s | 5 min |" in text
    assert "| {doc}`../notebooks/02_quantization` | 235 s | 5 min |" in text
    assert "03_distillation" not in text
    assert "All 2 notebooks together: 6 minutes" in text and "2 cores" in text and "300 s each" in text


def test_slots_round_up_to_five_minutes():
    assert workshop_times._slot_minutes(30) == 5
    assert workshop_times._slot_minutes(301) == 10


def test_no_passed_notebook_is_an_error():
    with pytest.raises(ValueError, match="make book"):
        workshop_times.times_table(_times(("01_x", 5.0, "failed")))


def test_main_writes_the_include(tmp_path):
    src = tmp_path / "times.json"
    src.write_text(json.dumps(_times(("00_setup_check", 100.0, "passed"))))
    assert workshop_times.main([str(src), str(tmp_path / "out.txt")]) == 0
    assert "00_setup_check" in (tmp_path / "out.txt").read_text()
    assert workshop_times.main([str(tmp_path / "missing.json"), str(tmp_path / "o.txt")]) == 1

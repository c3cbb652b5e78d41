"""tools/workshop_times.py: the workshop guide's run-time table comes from the measured times."""

from __future__ import annotations

import json

import pytest

from tools import workshop_times


def _times(*rows):
    return {"budget_s": 300, "finished": "2026-11-26T07:00:00+00:00", "machine": {"cpu_count": 2, "platform": "Linux"},
            "notebooks": [{"notebook": f"_build/src/notebooks/{n}.ipynb", "seconds": s, "outcome": o,
                           "over_budget": o == "over"} for n, s, o in rows]}


def test_table_has_a_row_per_chapter_with_its_outcome():
    chapters = ["01_why_edge_is_hard", "02_quantization", "03_distillation", "04_pruning", "05_x"]
    text = workshop_times.times_table(
        _times(("01_why_edge_is_hard", 114.2, "passed"), ("02_quantization", 235.0, "passed"),
               ("03_distillation", 10.0, "failed"), ("04_pruning", 430.0, "over")), chapters)
    assert "| {doc}`../notebooks/01_why_edge_is_hard` | passed | 114 s | 5 min |" in text
    assert "| {doc}`../notebooks/02_quantization` | passed | 235 s | 5 min |" in text
    assert "| {doc}`../notebooks/03_distillation` | failed | 10 s | 5 min |" in text
    assert "| {doc}`../notebooks/04_pruning` | over budget | 430 s | 10 min |" in text
    assert "| {doc}`../notebooks/05_x` | not run | – | – |" in text
    assert [line.split("`")[1] for line in text.splitlines() if line.startswith("| {doc}")] == \
        [f"../notebooks/{c}" for c in chapters], "one row per chapter, in order"
    assert "2 of 5 notebooks passed; together they ran 6 minutes" in text and "2 cores" in text
    assert "Not every chapter passed" in text and "03_distillation, 04_pruning, 05_x" in text


def test_all_passed_has_no_warning():
    text = workshop_times.times_table(_times(("01_x", 60.0, "passed")), ["01_x"])
    assert "Not every chapter passed" not in text and "1 of 1 notebooks passed" in text and "300 s" in text


def test_slots_round_up_to_five_minutes():
    assert workshop_times._slot_minutes(30) == 5
    assert workshop_times._slot_minutes(301) == 10


def test_nothing_at_all_is_an_error():
    with pytest.raises(ValueError, match="make book"):
        workshop_times.times_table({"notebooks": []})


def test_main_writes_the_include_with_every_chapter(tmp_path):
    src = tmp_path / "times.json"
    src.write_text(json.dumps(_times(("00_setup_check", 100.0, "passed"))))
    (tmp_path / "nbs").mkdir()
    for name in ("00_setup_check", "01_why"):
        (tmp_path / "nbs" / f"{name}.ipynb").write_text("{}")
    assert workshop_times.main([str(src), str(tmp_path / "out.txt"), str(tmp_path / "nbs")]) == 0
    out = (tmp_path / "out.txt").read_text()
    assert "00_setup_check` | passed" in out and "01_why` | not run" in out
    assert workshop_times.main([str(tmp_path / "missing.json"), str(tmp_path / "o.txt")]) == 1


def test_build_facts_table_reads_the_recorded_build_and_measures_the_size(tmp_path):
    from tools import build_facts

    teacher, conversions = tmp_path / "teacher", tmp_path / "edge"
    teacher.mkdir()
    (teacher / "metrics.json").write_text(json.dumps({"build_seconds": 558.0, "threads": 2, "built": "2026-12-01 10:00"}))
    (teacher / "weights.bin").write_bytes(b"x" * 3_000_000)
    conversions.mkdir()
    (conversions / "model.pte").write_bytes(b"x" * 1_000_000)
    indic = tmp_path / "indic"  # built by edgehelpers.cache.build_once: its record is build.json
    indic.mkdir()
    (indic / "build.json").write_text(json.dumps({"build_seconds": 900.0, "cores": 4, "built": "2026-12-02 10:00"}))
    (indic / "metrics.json").write_text(json.dumps({"build_seconds": 899.0, "threads": 4}))
    made = tmp_path / "made"
    made.mkdir()
    (made / "build.json").write_text(json.dumps({"build_seconds": 0.4, "cores": 2, "made": []}))
    text = build_facts.facts_table([("teacher", "the teacher", teacher), ("conversions", "edge files", conversions),
                                    ("indic", "chapter 8", indic), ("x", "made", made),
                                    ("y", "absent", tmp_path / "missing")])
    assert "| `teacher` | the teacher | 9 min on 2 cores (2026-12-01) | 3 MB |" in text
    assert "| `conversions` | edge files | not recorded | 1 MB |" in text
    assert "| `indic` | chapter 8 | 15 min on 4 cores (2026-12-02) |" in text
    assert "| `x` | made | made by chapter 6, not timed |" in text
    assert "| `y` | absent | not built on this machine | – |" in text
    assert "take 0.0 GB" in text


def test_build_facts_names_every_cached_model():
    from tools import build_facts

    assert [target for target, _, _ in build_facts.cached_models()] == ["teacher", "conversions", "indic", "slm", "slm", "slm"]

"""tools/stages.py (stage times and budgets at the end of a CI run), tools/cell_times.py (where a
notebook's time goes) and tools/exercise_solutions.py (every folded solution runs in `make test`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import cell_times, exercise_solutions, stages


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
    notebook["cells"][2]["metadata"]["tags"] = ["remove-cell", "exercise-solution"]
    rows = cell_times.cell_times(notebook)
    assert rows == [{"cell": 1, "seconds": 0.5, "first_line": "fast = 1", "tags": []},
                    {"cell": 2, "seconds": 90.0, "first_line": "slow()", "tags": ["remove-cell", "exercise-solution"]}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert [r["cell"] for r in cell_times.slowest(path, top=1)] == [2]
    assert cell_times.slowest(tmp_path / "missing.ipynb") == []
    assert cell_times.tagged_seconds(path, "exercise-solution") == 90.0
    assert cell_times.tagged_seconds(path, "other") == 0 == cell_times.tagged_seconds(tmp_path / "missing.ipynb", "x")


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
    old = ledger([{"chapter": "07", "variant": "v", "acc": 0.8, "ci_low": 0.7, "ci_high": 0.9}])
    new = ledger([{"chapter": "07", "variant": "v", "accuracy": 0.81, "acc_low": 0.71, "acc_high": 0.91}])
    (renamed,) = ledger_diff.compare(ledger_diff._rows(old), ledger_diff._rows(new))["accuracy"]
    assert renamed["field"] == "accuracy" and renamed["half_ci_pt"] == pytest.approx(10)  # old rows still compare
    text = ledger_diff.report(diff)
    assert "moved beyond half their 95% interval: 1" in text and "BEYOND NOISE" in text and "03/gone" in text


# --------------------------------------------------------------------------------------------
# tools/exercise_solutions.py

def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": text}


SOLUTION = ":::{admonition} Solution\n:class: dropdown\n\n```python\n%s\n```\n\nWhy.\n:::\n\n### Exercise 1.2: next\n"


def _chapter(solution_code: str) -> dict:
    return {"cells": [
        _md("### Exercise 1.1: double it"),
        _code('answer = None  # a number\nbase = 21\nexercises.check("1.1", answer, base=base)'),
        _md(SOLUTION % solution_code),
    ]}


class _Checks:
    """A stand-in for edgehelpers.exercises: exercise 1.1's answer is twice `base`."""

    @staticmethod
    def check(exercise, answer, *, base):
        from edgehelpers.exercises import Verdict

        if answer is None:
            return Verdict(exercise, None, "no answer")
        return Verdict(exercise, answer == 2 * base, f"expected {2 * base}")


def _run_cell(cell: dict) -> dict:
    namespace = {"exercises": _Checks()}
    exec(compile(cell["source"], "<solution cell>", "exec"), namespace)
    return namespace


def test_solution_runs_after_the_check_cells_set_up_and_must_pass(tmp_path: Path) -> None:
    found = exercise_solutions.solutions(_chapter("answer = 2 * base  # base comes from the check cell"))
    assert [(s.exercise, s.setup, s.code) for s in found] == [
        ("1.1", "answer = None\nbase = 21", "answer = 2 * base  # base comes from the check cell")]
    cell = exercise_solutions.solution_cell(found[0])
    assert {"remove-cell", "exercise-solution"} <= set(cell["metadata"]["tags"])
    assert _run_cell(cell)["_verdict"].ok is True
    wrong = exercise_solutions.solution_cell(exercise_solutions.solutions(_chapter("answer = base"))[0])
    with pytest.raises(AssertionError, match="exercise 1.1 fails its own check.*expected 42"):
        _run_cell(wrong)
    silent = exercise_solutions.solution_cell(exercise_solutions.solutions(_chapter("x = 1"))[0])
    with pytest.raises(AssertionError, match="no answer"):  # a solution that never sets `answer` fails too
        _run_cell(silent)


def test_append_solutions_to_a_copy_once(tmp_path: Path) -> None:
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(_chapter("answer = 42")), encoding="utf-8")
    assert exercise_solutions.append_solutions(path) == ["1.1"]
    assert exercise_solutions.append_solutions(path) == ["1.1"]  # again: replaced, not doubled
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert len(cells) == 4 and cells[-1]["id"] == "solution-1-1"
    assert exercise_solutions.main([str(path)]) == 0 and exercise_solutions.main([]) == 2


def test_solutions_that_cannot_run_are_refused() -> None:
    prose = _chapter("x")
    prose["cells"][2] = _md(":::{admonition} Solution\n:class: dropdown\n\nDo it by hand.\n:::\n")
    with pytest.raises(ValueError, match="no ```python block"):
        exercise_solutions.solutions(prose)
    missing = _chapter("x")
    missing["cells"][2] = _md("Some text.")
    with pytest.raises(ValueError, match="must be the folded solution"):
        exercise_solutions.solutions(missing)
    late = _chapter("answer = 42")
    late["cells"][1] = _code('answer = None\nexercises.check("1.1", answer, base=21)\nprint("done")')
    with pytest.raises(ValueError, match="must end with the `exercises.check"):
        exercise_solutions.solutions(late)


@pytest.mark.parametrize("nb_path", sorted(Path(__file__).resolve().parents[1].joinpath("notebooks").glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_chapter_solution_is_code_the_test_can_run(nb_path: Path) -> None:
    """Each exercise of a chapter has a runnable solution (make test executes them after the chapter)."""
    notebook = json.loads(nb_path.read_text(encoding="utf-8"))
    found = exercise_solutions.solutions(notebook)
    ids = exercise_solutions.CHECK_RE.findall("".join(_src for c in notebook["cells"] if c["cell_type"] == "code"
                                                      for _src in c["source"]))
    assert [s.exercise for s in found] == ids
    for sol in found:
        compile(exercise_solutions.solution_cell(sol)["source"], f"{nb_path.name} {sol.exercise}", "exec")


# --------------------------------------------------------------------------------------------
# tools/format_notebooks.py: code lines that fit the page


def test_reflow_wraps_comments_and_docstrings_and_keeps_the_code():
    from tools.format_notebooks import long_lines, reflow

    source = (
        "x = 1  # a trailing comment that is much too long to fit on the line of the code it describes\n"
        "# a block of comments whose first line is far too long to fit the page at eighty characters\n"
        "# and a second line that continues the same sentence.\n"
        "def f():\n"
        '    """A docstring that is far too long for the page, so it must wrap onto a second line."""\n'
        "    s = '# not a comment, inside a string: left alone even though this line is long, very long'\n"
        "    return s\n"
    )
    out = reflow(source, 80)
    compile(out, "cell", "exec")
    assert [n for n, _ in long_lines(out, 80)] == [9], "only the string is left long (to shorten by hand)"
    assert out.splitlines()[2] == "x = 1", "the trailing comment moved above its code"
    assert "# characters and a second line" in out, "a comment block is reflowed as one paragraph"
    assert out.count('"""') == 2 and "second line.\"\"\"" in out
    assert reflow(out, 80) == out, "idempotent"
    assert reflow("%pip install x  # a magic line is left alone, however long it is, really very long\n") \
        .startswith("%pip install x")


def test_shown_cells_exclude_the_hidden_colab_cell():
    from tools.format_notebooks import shown

    assert shown({"cell_type": "code", "metadata": {}})
    assert not shown({"cell_type": "code", "metadata": {"tags": ["remove-cell"]}})
    assert not shown({"cell_type": "markdown", "metadata": {}})

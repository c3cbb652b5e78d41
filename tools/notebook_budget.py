"""A pytest plugin that holds every notebook (run by nbmake) to a wall-time budget.

Load it with `-p tools.notebook_budget` (from the repository root). Options:

--notebook-budget=SECONDS         fail a notebook whose chapter took longer, even when no single cell
                                  hit nbmake's per-cell timeout (0: no per-notebook budget)
--solutions-budget=SECONDS        fail a notebook whose appended exercise solutions (cells tagged
                                  `exercise-solution`, tools/exercise_solutions.py) took longer
                                  (0: no budget)
--notebooks-total-budget=SECONDS  fail when all notebooks together take longer (default 3200, the Makefile's)
--notebook-times=PATH             where to write the times as JSON
                                  (default: _build/notebook-times.json under the rootdir)

At the end of the session it prints a table of every notebook's run time and the total, and
writes the same to the JSON file. The time of a notebook is the wall time of its test's call
phase, which is where nbmake executes it; when `make test` appended the exercise solutions, their
cells' time is reported apart and the chapter's time is the rest. The total budget covers both.

It also lets nbmake run notebooks under `_build/` when they are named on the command line (the
book executes its copies in `_build/src`; nbmake alone skips every path containing `_build`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path

import pytest

DEFAULT_TOTAL_BUDGET_S = 3200.0
SOLUTION_TAG = "exercise-solution"  # tools/exercise_solutions.TAG
NOTEBOOK_ENV = "EDGEHELPERS_NOTEBOOK"  # edgehelpers.claims.NOTEBOOK_ENV (not imported: no package needed here)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("notebook-budget", "wall-time budget for notebooks run by nbmake")
    group.addoption(
        "--notebook-budget",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="fail a notebook that runs longer than this (0: no per-notebook budget)",
    )
    group.addoption(
        "--solutions-budget",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="fail a notebook whose appended exercise solutions run longer than this (0: no budget)",
    )
    group.addoption(
        "--notebooks-total-budget",
        type=float,
        default=DEFAULT_TOTAL_BUDGET_S,
        metavar="SECONDS",
        help=f"fail when all notebooks together run longer than this (default {DEFAULT_TOTAL_BUDGET_S:.0f})",
    )
    group.addoption(
        "--notebook-times",
        default=None,
        metavar="PATH",
        help="write the notebook run times as JSON here (default: <rootdir>/_build/notebook-times.json)",
    )


def _slowest_cells(path: Path, top: int = 3) -> list[dict]:
    """The slowest code cells of an executed notebook (tools/cell_times.py), [] if unknown."""
    try:
        from tools.cell_times import slowest
    except ImportError:  # the plugin loaded without the tools package: times only
        return []
    return slowest(path, top)


def _solution_seconds(path: Path) -> float:
    """The time the appended exercise solutions took in an executed notebook (0 if none or unknown)."""
    try:
        from tools.cell_times import tagged_seconds
    except ImportError:
        return 0.0
    return tagged_seconds(path, SOLUTION_TAG)


def _is_notebook(item: pytest.Item) -> bool:
    return Path(str(getattr(item, "path", getattr(item, "fspath", "")))).suffix == ".ipynb"


class NotebookBudget:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.budget = float(config.getoption("--notebook-budget") or 0.0)
        self.solutions_budget = float(config.getoption("--solutions-budget") or 0.0)
        self.total_budget = float(config.getoption("--notebooks-total-budget") or 0.0)
        out = config.getoption("--notebook-times")
        self.out = Path(out) if out else Path(config.rootpath) / "_build" / "notebook-times.json"
        self.rows: list[dict] = []  # one per notebook, in run order
        self.total = 0.0
        self.total_exceeded = False

    def _name(self, item: pytest.Item) -> str:
        path = Path(str(item.path))
        try:
            return os.path.relpath(path, self.config.rootpath)
        except ValueError:
            return str(path)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        """Name the running notebook in EDGEHELPERS_NOTEBOOK: its kernel inherits it, and
        edgehelpers.claims logs each speed claim under it."""
        if not _is_notebook(item):
            yield
            return
        before = os.environ.get(NOTEBOOK_ENV)
        os.environ[NOTEBOOK_ENV] = self._name(item)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(NOTEBOOK_ENV, None)
            else:
                os.environ[NOTEBOOK_ENV] = before

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        if call.when != "call" or not _is_notebook(item):
            return
        report: pytest.TestReport = outcome.get_result()
        solutions = min(_solution_seconds(Path(str(item.path))), call.duration)
        seconds = call.duration - solutions  # the chapter's own time
        self.total += call.duration
        reasons = []
        if self.budget > 0 and seconds > self.budget:
            reasons.append(
                f"notebook {self._name(item)} ran {seconds:.1f} s, over its budget of "
                f"{self.budget:.0f} s (--notebook-budget)"
            )
        if self.solutions_budget > 0 and solutions > self.solutions_budget:
            reasons.append(
                f"the exercise solutions of {self._name(item)} ran {solutions:.1f} s, over their budget of "
                f"{self.solutions_budget:.0f} s (--solutions-budget): keep solutions small"
            )
        if self.total_budget > 0 and self.total > self.total_budget and not self.total_exceeded:
            self.total_exceeded = True
            reasons.append(
                f"all notebooks so far ran {self.total:.1f} s, over the total budget of "
                f"{self.total_budget:.0f} s (--notebooks-total-budget); {self._name(item)} crossed it"
            )
        if reasons and report.passed:
            report.outcome = "failed"
            report.longrepr = "\n".join(reasons)
        elif reasons:
            report.sections.append(("notebook budget", "\n".join(reasons)))
        self.rows.append(
            {
                "notebook": self._name(item),
                "seconds": round(seconds, 2),
                "solutions_seconds": round(solutions, 2),
                "outcome": report.outcome,
                "over_budget": bool(self.budget > 0 and seconds > self.budget)
                or bool(self.solutions_budget > 0 and solutions > self.solutions_budget),
                # where the time went (from the executed copy nbmake --overwrite wrote back)
                "slowest_cells": _slowest_cells(Path(str(item.path))),
            }
        )

    def summary(self) -> dict:
        return {
            "budget_s": self.budget or None,
            "solutions_budget_s": self.solutions_budget or None,
            "total_budget_s": self.total_budget or None,
            "total_s": round(self.total, 2),
            "total_over_budget": bool(self.total_budget > 0 and self.total > self.total_budget),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "notebooks": self.rows,
        }

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config) -> None:
        if not self.rows:
            return
        tr = terminalreporter
        tr.section("notebook run times")
        width = max(len("notebook"), *(len(r["notebook"]) for r in self.rows))
        budget = f"{self.budget:.0f} s" if self.budget > 0 else "none"
        solutions = f"{self.solutions_budget:.0f} s" if self.solutions_budget > 0 else "none"
        tr.write_line(f"{'notebook':<{width}}  {'seconds':>8}  {'solutions':>9}  outcome   "
                      f"(budget {budget} each, solutions {solutions} each)")
        for r in self.rows:
            flag = "  OVER BUDGET" if r["over_budget"] else ""
            cells = ", ".join(f"cell {c['cell']} {c['seconds']:.0f} s" for c in r.get("slowest_cells", []))
            tr.write_line(f"{r['notebook']:<{width}}  {r['seconds']:>8.1f}  {r['solutions_seconds']:>9.1f}  "
                          f"{r['outcome']:<8}{flag}" + (f"  (slowest: {cells})" if cells else ""))
        total_budget = f"{self.total_budget:.0f} s" if self.total_budget > 0 else "none"
        flag = "  OVER BUDGET" if self.summary()["total_over_budget"] else ""
        tr.write_line(f"{'total':<{width}}  {self.total:>8.1f}  (budget {total_budget}){flag}")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
            tr.write_line(f"notebook times written to {self.out}")
        except OSError as exc:  # a summary must not hide the test results
            tr.write_line(f"could not write {self.out}: {exc}", red=True)


def _explicitly_under_build(file_path: Path, config: pytest.Config) -> bool:
    """True if `file_path` lies under a path given on the command line that is inside `_build`."""
    file_path = Path(file_path).resolve()
    for arg in config.args:
        root = Path(config.invocation_params.dir, str(arg).split("::")[0]).resolve()
        if "_build" in root.parts and (file_path == root or root in file_path.parents):
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Collect notebooks under `_build/` that were named on the command line.

    nbmake 1.5 never collects a notebook with a folder named `_build` in its path (to skip Sphinx
    output), but the book executes its copies in `_build/src` (see the Makefile). Only paths asked
    for explicitly are collected here, the exact complement of nbmake's rule, so nothing runs twice.
    """
    if not parent.config.getoption("nbmake", default=False) or file_path.suffix != ".ipynb":
        return None
    if "_build" not in file_path.parts or ".ipynb_checkpoints" in file_path.parts:
        return None
    if not _explicitly_under_build(file_path, parent.config):
        return None
    from nbmake.pytest_items import NotebookFile

    return NotebookFile.from_parent(parent, path=file_path)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(NotebookBudget(config), "notebook-budget")

"""Run every exercise's folded solution after its chapter, as a reader would after "Run All".

Each exercise of a chapter has a check cell that ends with `exercises.check("2.1", answer, ...)`,
followed by a markdown cell with the folded solution (`:::{admonition} Solution` / `:class:
dropdown`) holding one or more ```python blocks. `make test` appends to the *copies* it executes
(never the committed notebooks) one code cell per exercise, which runs in the chapter's kernel:

1. the check cell's statements before the check (its `answer = None` placeholders, and names a
   solution reads, such as 4.3's `ffn_weight`);
2. every python block of the solution, in order;
3. the check, which must say "right": a solution that fails its own check fails the notebook.

The cells are tagged `remove-cell` (the book does not show them) and `exercise-solution` (the
notebook budget plugin counts their time apart from the chapter's). From the command line:

    python tools/exercise_solutions.py _build/src/notebooks/*.ipynb
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

CHECK_RE = re.compile(r"exercises\.check\(\s*\"(\d+\.\d+)\"")
SOLUTION_RE = re.compile(r"\{admonition\}\s*Solution[^\n]*\n:class:\s*dropdown")
CODE_BLOCK_RE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
TAG = "exercise-solution"


@dataclass(frozen=True)
class Solution:
    """One exercise: the check cell's set-up, the solution's code and the check call."""

    exercise: str
    setup: str
    code: str
    check: str


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _split_check_cell(exercise: str, src: str) -> tuple[str, str]:
    """(the statements before the final check call, the check call) of a check cell."""
    tree = ast.parse(src)
    last = tree.body[-1] if tree.body else None
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and CHECK_RE.search(
            ast.get_source_segment(src, last) or "")):
        raise ValueError(f"exercise {exercise}: its check cell must end with the `exercises.check(...)` call")
    setup = "\n".join(ast.get_source_segment(src, node) or "" for node in tree.body[:-1])
    return setup, ast.get_source_segment(src, last) or ""


def solutions(notebook: dict) -> list[Solution]:
    """Every exercise of a notebook with its folded solution's code, in notebook order."""
    cells = notebook.get("cells", [])
    found = []
    for i, cell in enumerate(cells):
        appended = TAG in cell.get("metadata", {}).get("tags", [])  # a solution cell this tool added earlier
        match = CHECK_RE.search(_source(cell)) if cell.get("cell_type") == "code" and not appended else None
        if not match:
            continue
        exercise = match.group(1)
        after = _source(cells[i + 1]) if i + 1 < len(cells) and cells[i + 1].get("cell_type") == "markdown" else ""
        if not SOLUTION_RE.search(after):
            raise ValueError(f"exercise {exercise}: the cell after its check must be the folded solution "
                             "(:::{admonition} Solution / :class: dropdown)")
        solution_text = after.split(":::", 2)[1] if after.count(":::") >= 2 else after  # up to the closing :::
        blocks = CODE_BLOCK_RE.findall(solution_text)
        if not blocks:
            raise ValueError(f"exercise {exercise}: its solution has no ```python block; write the answer as "
                             "code, so that the test can run it")
        setup, check = _split_check_cell(exercise, _source(cell))
        found.append(Solution(exercise, setup, "\n".join(b.rstrip("\n") for b in blocks), check))
    return found


def solution_cell(sol: Solution) -> dict:
    """A code cell that runs one solution after the chapter and fails unless its check says right."""
    code = f"""# exercise {sol.exercise}: the check cell's set-up, the folded solution, then the check
# (appended by tools/exercise_solutions.py for `make test`)
import time as _time
_started = _time.perf_counter()
{sol.setup}
{sol.code}
_verdict = {sol.check}
print(f"{{_verdict!r}} ({{_time.perf_counter() - _started:.1f}} s)")
assert _verdict.ok is True, f"the folded solution of exercise {sol.exercise} fails its own check: {{_verdict!r}}"
"""
    return {"cell_type": "code", "execution_count": None, "id": f"solution-{sol.exercise.replace('.', '-')}",
            "metadata": {"tags": ["remove-cell", TAG]}, "outputs": [], "source": code}


def append_solutions(path: Path) -> list[str]:
    """Append a solution cell per exercise to the notebook at `path` (a copy); the exercises, in order."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found = solutions(notebook)
    notebook["cells"] = [c for c in notebook["cells"] if TAG not in c.get("metadata", {}).get("tags", [])]
    notebook["cells"] += [solution_cell(s) for s in found]
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return [s.exercise for s in found]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for arg in argv:
        done = append_solutions(Path(arg))
        print(f"{Path(arg).name}: {len(done)} solutions appended ({', '.join(done) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

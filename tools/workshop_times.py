"""Write the workshop guide's table of chapter run times from the build's measured notebook times.

    python tools/workshop_times.py _build/notebook-times.json _build/src/book/workshop_times.txt [notebooks/]

`make book` runs it after executing the notebooks, whatever their outcome, so the page shows the
times of the build that rendered it: one row per chapter notebook of `notebooks/`, with its outcome
(passed, failed, over budget, or not run). The committed placeholder says how to get the times when
the book was not built that way.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

NOT_RUN = "not run"


def _slot_minutes(seconds: float) -> int:
    """Minutes to plan for running a chapter once in a workshop: the run, rounded up, plus reading time."""
    return max(5, 5 * math.ceil(seconds / 60 / 5))


def _outcome(row: dict | None) -> str:
    """One word for how a notebook's run ended: passed, failed, over budget or not run."""
    if row is None:
        return NOT_RUN
    if row.get("over_budget"):
        return "over budget"
    return "passed" if row.get("outcome") == "passed" else "failed"


def times_table(times: dict, chapters: list[str] | None = None) -> str:
    """A markdown table with a row per chapter (outcome, measured seconds, minutes to plan) and a note.

    `chapters` are the notebook names (stems) that should have run; a chapter missing from `times`
    gets a row that says it was not run. Without `chapters`, the rows are those of `times`.
    """
    rows = {Path(r["notebook"].split("::")[0]).stem: r for r in times.get("notebooks", [])}
    names = list(chapters) if chapters else list(rows)
    names += [n for n in rows if n not in names]
    if not names:
        raise ValueError("no chapter notebooks and no measured times: build the book with `make book` first")
    lines = ["| chapter notebook | outcome | run time on the build machine | plan at least |", "|---|---|--:|--:|"]
    for name in names:
        row = rows.get(name)
        if row is None:
            lines.append(f"| {{doc}}`../notebooks/{name}` | {NOT_RUN} | – | – |")
            continue
        lines.append(f"| {{doc}}`../notebooks/{name}` | {_outcome(row)} | {row['seconds']:.0f} s "
                     f"| {_slot_minutes(row['seconds'])} min |")
    passed = [rows[n] for n in names if _outcome(rows.get(n)) == "passed"]
    others = [n for n in names if _outcome(rows.get(n)) != "passed"]
    machine = times.get("machine", {})
    budget = times.get("budget_s")
    total = sum(r["seconds"] for r in passed)
    lines += ["", f"{len(passed)} of {len(names)} notebooks passed; together they ran {total / 60:.0f} minutes on the "
                  f"build machine ({machine.get('cpu_count', '?')} cores, {machine.get('platform', 'unknown platform')}, "
                  f"measured {times.get('finished', 'at build time')[:10]}). The book's CI runs each with a budget "
                  f"of {f'{budget:.0f}' if budget else '?'} s. A laptop with fewer or slower cores takes longer: run "
                  "the set-up chapter first and compare its time with the table."]
    if others:
        lines += ["", f"**Not every chapter passed in this build** ({', '.join(others)}): a failed chapter's time "
                      "is what it ran until it failed (an error, or its own or the total time budget); a chapter "
                      "that did not run has none. Run these yourself before the workshop."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    chapters = sorted(p.stem for p in Path(argv[2]).glob("*.ipynb")) if len(argv) == 3 else None
    if not src.is_file():
        print(f"no notebook times at {src}: run the notebooks first (make notebooks)")
        return 1
    dst.write_text(times_table(json.loads(src.read_text(encoding="utf-8")), chapters), encoding="utf-8")
    print(f"workshop run times written to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

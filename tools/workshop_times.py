"""Write the workshop guide's table of chapter run times from the build's measured notebook times.

    python tools/workshop_times.py _build/notebook-times.json _build/src/book/workshop_times.txt

`make book` runs it after executing the notebooks, so the page shows the times of the build that
rendered it; the committed placeholder says how to get them when the book was not built that way.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def _slot_minutes(seconds: float) -> int:
    """Minutes to plan for running a chapter once in a workshop: the run, rounded up, plus reading time."""
    return max(5, 5 * math.ceil(seconds / 60 / 5))


def times_table(times: dict) -> str:
    """A markdown table (chapter, seconds on the build machine, minutes to plan) and a note on the machine."""
    rows = [r for r in times.get("notebooks", []) if r.get("outcome") == "passed"]
    if not rows:
        raise ValueError("the times file lists no notebook that passed: build the book with `make book` first")
    lines = ["| chapter notebook | run time on the build machine | plan at least |", "|---|---|---|"]
    for r in rows:
        name = Path(r["notebook"].split("::")[0]).stem
        lines.append(f"| {{doc}}`../notebooks/{name}` | {r['seconds']:.0f} s | {_slot_minutes(r['seconds'])} min |")
    machine = times.get("machine", {})
    total = sum(r["seconds"] for r in rows)
    budget = times.get("budget_s")
    lines += ["", f"All {len(rows)} notebooks together: {total / 60:.0f} minutes on the build machine "
                  f"({machine.get('cpu_count', '?')} cores, {machine.get('platform', 'unknown platform')}, "
                  f"measured {times.get('finished', 'at build time')[:10]}). The book's CI runs them with a budget "
                  f"of {f'{budget:.0f}' if budget else '?'} s each. A laptop with fewer or slower cores takes longer: run "
                  "the set-up chapter first and compare its time with the table."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    if not src.is_file():
        print(f"no notebook times at {src}: run the notebooks first (make notebooks)")
        return 1
    dst.write_text(times_table(json.loads(src.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"workshop run times written to {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

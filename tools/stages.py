"""Time the stages of a build, and print one line per stage at the end of a run (`.ci/run` does).

The Makefile marks each stage's start and end:

    python3 tools/stages.py begin teacher      # appends "begin teacher <epoch s>" to the log
    python3 tools/stages.py end teacher

and `python3 tools/stages.py summary` prints every stage with its time, against its budget, and
"FAILED or stopped" for a stage that began and never ended, so a run that broke or ran long says
which stage did it. Standard library only: it runs before the virtual environment exists.
The log is `_build/stages.log` (or $STAGES_LOG).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

LOG = Path(os.environ.get("STAGES_LOG", "_build/stages.log"))

# seconds each stage may take on two AMD Zen 4 cores, the slowest CPU the book's CI has run on
# (the Xeon of the Sapphire Rapids class is ~1.3x faster); the notebooks' own budgets are in the
# Makefile, where they fail the run; these are reported, with the whole run's budget
BUDGETS_S = {
    "set-up": 240,
    "unit tests": 180,
    "teacher": 300,
    "conversions": 120,
    "indic": 300,
    "slm": 240,
    "notebooks": 1860,
    "kit check": 540,
    "html": 150,
    "browser": 120,
}
BUILDS = ("teacher", "conversions", "indic", "slm")
BUILDS_BUDGET_S = 960  # the four model builds together: 16 minutes on Zen 4
RUN_BUDGET_S = 3000  # a whole cold `.ci/run`: 50 minutes on Zen 4


def mark(event: str, name: str, log: Path = LOG) -> None:
    """Append 'event name epoch' to the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{event}\t{name}\t{time.time():.1f}\n")


def read(log: Path = LOG, now: float | None = None) -> list[dict]:
    """Stages in the order they began: name, seconds, and whether each one ended (else: still open)."""
    now = time.time() if now is None else now
    stages: dict[str, dict] = {}
    if not log.is_file():
        return []
    for line in log.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        event, name, stamp = parts[0], parts[1], float(parts[2])
        if event == "begin":
            stages[name] = {"name": name, "start": stamp, "end": None}
        elif event == "end" and name in stages:
            stages[name]["end"] = stamp
    for s in stages.values():
        s["ended"] = s["end"] is not None
        s["seconds"] = (s["end"] if s["ended"] else now) - s["start"]
    return list(stages.values())


def summary(stages: list[dict], total_s: float | None = None) -> str:
    """One line per stage (time, budget, state), the builds together, and the whole run."""
    lines = [f"{'stage':<14} {'seconds':>8} {'budget':>8}  state"]
    for s in stages:
        budget = BUDGETS_S.get(s["name"])
        state = "done" if s["ended"] else "FAILED or stopped"
        if s["ended"] and budget is not None and s["seconds"] > budget:
            state += ", OVER BUDGET"
        lines.append(f"{s['name']:<14} {s['seconds']:>8.0f} {budget if budget else '-':>8}  {state}")
    builds = sum(s["seconds"] for s in stages if s["name"] in BUILDS)
    if any(s["name"] in BUILDS for s in stages):
        flag = "  OVER BUDGET" if builds > BUILDS_BUDGET_S else ""
        lines.append(f"{'builds':<14} {builds:>8.0f} {BUILDS_BUDGET_S:>8}  (teacher + conversions + indic + slm){flag}")
    if total_s is not None:
        flag = "  OVER BUDGET" if total_s > RUN_BUDGET_S else ""
        lines.append(f"{'whole run':<14} {total_s:>8.0f} {RUN_BUDGET_S:>8}{flag}")
    lines.append("budgets are for two AMD Zen 4 cores; an Intel Xeon (Sapphire Rapids) is ~1.3x faster")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] in ("begin", "end"):
        mark(argv[0], argv[1])
        return 0
    if argv and argv[0] == "summary":
        total = float(argv[1]) if len(argv) > 1 else None
        print(summary(read(), total))
        return 0
    print("usage: stages.py begin NAME | end NAME | summary [TOTAL_SECONDS]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Where a notebook's time goes: the run time of each code cell of an executed notebook.

nbclient (which nbmake runs) records when each cell started and finished in the cell's metadata;
this reads them back. The notebook budget plugin stores each notebook's slowest cells in
`_build/notebook-times.json`; from the command line it prints a profile:

    python tools/cell_times.py _build/src/notebooks/02_quantization.ipynb [--top 10]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path


def _stamp(value: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def cell_times(notebook: dict) -> list[dict]:
    """[{cell, seconds, first_line, tags}] for every code cell with recorded timing, in notebook order."""
    rows = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        execution = cell.get("metadata", {}).get("execution", {})
        start = execution.get("iopub.status.busy") or execution.get("shell.execute_reply.started")
        end = execution.get("shell.execute_reply") or execution.get("iopub.status.idle")
        if not (start and end):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        first = next((line.strip() for line in source.splitlines() if line.strip() and not line.startswith("#")), "")
        rows.append({"cell": index, "seconds": round((_stamp(end) - _stamp(start)).total_seconds(), 2),
                     "first_line": first[:80], "tags": list(cell.get("metadata", {}).get("tags", []))})
    return rows


def _read(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def slowest(path: str | Path, top: int = 5) -> list[dict]:
    """The `top` slowest code cells of an executed notebook file ([] if it has no timings)."""
    return sorted(cell_times(_read(path)), key=lambda r: -r["seconds"])[:top]


def tagged_seconds(path: str | Path, tag: str) -> float:
    """The run time of the code cells tagged `tag` in an executed notebook file (0 if none)."""
    return sum(r["seconds"] for r in cell_times(_read(path)) if tag in r["tags"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        rows = cell_times(notebook)
        total = sum(r["seconds"] for r in rows)
        print(f"{path.name}: {total:.1f} s in {len(rows)} timed code cells")
        for r in sorted(rows, key=lambda r: -r["seconds"])[: args.top]:
            print(f"  cell {r['cell']:>3}  {r['seconds']:>7.1f} s  {100 * r['seconds'] / max(total, 1e-9):>4.0f}%  "
                  f"{r['first_line']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

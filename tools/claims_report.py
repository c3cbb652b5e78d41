"""Collect the speed claims the notebooks checked into `_build/claims.json`; print the thinnest margins.

Every `claims.speed` call of a book build appends one JSON line to the log that
EDGEHELPERS_CLAIMS_LOG names (the Makefile sets it). This tool reads that log, writes one JSON file
with every claim (notebook, claim, value, bound, margin, held, CPU and ISA flags) and prints the
claims with the smallest margins: the ones that would break first on a slower or different CPU.

    python tools/claims_report.py _build/claims.jsonl _build/claims.json [--top 10] [--warn 0.15]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_log(path: Path) -> list[dict]:
    """The claims of a JSON-lines log, in the order they were checked; a damaged line is skipped."""
    if not path.is_file():
        return []
    claims = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            print(f"{path}:{number}: not a JSON line, skipped", file=sys.stderr)
            continue
        if isinstance(entry, dict) and "claim" in entry:
            claims.append(entry)
    return claims


def _sort_key(entry: dict) -> float:
    """Thinnest first; a claim without a finite margin (a NaN measurement) counts as the thinnest."""
    m = entry.get("margin")
    return -float("inf") if m is None else float(m)


def summary(claims: list[dict], top: int = 10) -> dict:
    """The report as a JSON-ready dict: the CPU, counts, every claim, and the `top` thinnest."""
    cpus = sorted({c.get("cpu") or "unknown CPU" for c in claims})
    isa = sorted({flag for c in claims for flag in c.get("isa", [])})
    return {"cpus": cpus, "isa": isa, "n": len(claims), "failed": sum(not c.get("held") for c in claims),
            "thinnest": sorted(claims, key=_sort_key)[:top], "claims": claims}


def format_table(report: dict, warn: float = 0.15) -> str:
    """The thinnest claims as lines of text, flagging those under `warn` (a fraction)."""
    lines = [f"speed claims: {report['n']} checked, {report['failed']} failed; CPU: {', '.join(report['cpus']) or '-'}"
             f"; ISA: {' '.join(report['isa']) or '-'}"]
    if not report["thinnest"]:
        return lines[0]
    lines.append(f"{'margin':>8}  {'notebook':<30}  claim (measured, bound)")
    for c in report["thinnest"]:
        m = c.get("margin")
        text = "-inf" if m is None else f"{100 * m:+.1f}%"
        flag = "  <- under {:.0f}%".format(100 * warn) if m is None or m < warn else ""
        bound = c.get("bound")
        bound_text = f"{c['op']} {bound}" if c.get("op") != "between" else f"in {bound}"
        notebook = Path(c.get("notebook") or "?").name
        lines.append(f"{text:>8}  {notebook:<30}  {c['claim'][:90]} ({c.get('value'):.4g} {bound_text}){flag}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the JSON-lines log the notebooks appended to")
    parser.add_argument("out", type=Path, help="where to write the claims as JSON")
    parser.add_argument("--top", type=int, default=10, help="how many of the thinnest margins to print")
    parser.add_argument("--warn", type=float, default=0.15, help="flag margins under this fraction")
    args = parser.parse_args(argv)
    report = summary(read_log(args.log), args.top)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(format_table(report, args.warn))
    print(f"all claims with their margins: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Compare two results ledgers (before and after a change): did any chapter's result move beyond noise?

    python tools/ledger_diff.py BEFORE.json AFTER.json [--top 15]

For every (chapter, variant) row in both files it compares the accuracy-like fields (accuracy,
acc, accuracy_<set>, agreement) in points, against the 95% interval the row carries (acc_low /
acc_high): a change larger than half that interval's width is flagged "beyond noise". Latencies
(p50_ms_*) are compared as after / before ratios, and summarised, since a faster or slower
machine moves them all. Rows found in only one file are listed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ACCURACY_PREFIXES = ("accuracy", "acc", "agreement")
ACCURACY_SKIP = ("acc_low", "acc_high")


# fields of rows written before the ledger's fixed fields (commit 51cb210 and earlier), by their new name
OLD_NAMES = {"acc": "accuracy", "ci_low": "acc_low", "ci_high": "acc_high", "accuracy_mahasent-gt": "accuracy",
             "acc_low_mahasent-gt": "acc_low", "acc_high_mahasent-gt": "acc_high", "p50_ms_1t": "p50_ms"}


def _renamed(row: dict) -> dict:
    """The row with old field names changed to the fixed fields' names (where the new one is absent)."""
    out = dict(row)
    for old, new in OLD_NAMES.items():
        if old in out and new not in row:
            out[new] = out.pop(old)
    return out


def _rows(path: Path) -> dict[tuple[str, str], dict]:
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return {(r["chapter"], r["variant"]): _renamed(r) for r in rows}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _half_width(row: dict, field: str) -> float | None:
    """Half the width of the 95% interval that goes with an accuracy field, if the row has one."""
    suffix = field.removeprefix("accuracy") if field.startswith("accuracy") else ""
    low, high = row.get(f"acc_low{suffix}"), row.get(f"acc_high{suffix}")
    return (high - low) / 2 if _number(low) and _number(high) else None


def compare(before: dict, after: dict) -> dict:
    """Accuracy changes, latency ratios and unmatched rows of two ledgers ({key: row} as _rows gives)."""
    accuracy, latency = [], []
    for key in sorted(set(before) & set(after)):
        b, a = before[key], after[key]
        for field, old in b.items():
            new = a.get(field)
            if not (_number(old) and _number(new)):
                continue
            if field.startswith(ACCURACY_PREFIXES) and not field.startswith(ACCURACY_SKIP):
                half = _half_width(b, field)
                delta = new - old
                accuracy.append({"chapter": key[0], "variant": key[1], "field": field, "before": old, "after": new,
                                 "delta_pt": 100 * delta, "half_ci_pt": None if half is None else 100 * half,
                                 "beyond_noise": half is not None and abs(delta) > half})
            elif field.startswith("p50_ms") and old > 0:
                latency.append({"chapter": key[0], "variant": key[1], "field": field, "ratio": new / old})
    return {"accuracy": accuracy, "latency": latency,
            "only_before": sorted(set(before) - set(after)), "only_after": sorted(set(after) - set(before))}


def report(diff: dict, top: int = 15) -> str:
    lines = []
    acc = sorted(diff["accuracy"], key=lambda r: -abs(r["delta_pt"]))
    beyond = [r for r in acc if r["beyond_noise"]]
    lines.append(f"accuracy fields compared: {len(acc)}; moved beyond half their 95% interval: {len(beyond)}")
    for r in acc[:top]:
        ci = "" if r["half_ci_pt"] is None else f" (half CI {r['half_ci_pt']:.2f})"
        flag = "  BEYOND NOISE" if r["beyond_noise"] else ""
        lines.append(f"  {r['delta_pt']:+6.2f} pt{ci}  {r['chapter']} / {r['variant']} / {r['field']}: "
                     f"{r['before']:.4f} -> {r['after']:.4f}{flag}")
    ratios = [r["ratio"] for r in diff["latency"]]
    if ratios:
        lines.append(f"latency p50 fields compared: {len(ratios)}; after/before ratio median "
                     f"{statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    for name in ("only_before", "only_after"):
        if diff[name]:
            lines.append(f"rows {name.replace('_', ' ')}: " + "; ".join(f"{c}/{v}" for c, v in diff[name]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(report(compare(_rows(args.before), _rows(args.after)), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The results ledger: every chapter records its variants' metrics here; chapter 9 reads them all.

One JSON file, one row per (chapter, variant): re-running a notebook replaces its rows. Writers
take a file lock and replace the file atomically, so notebooks running at once lose nothing.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import atomic_write_text, cache_dir, file_lock

LEDGER_ENV = "EDGEHELPERS_LEDGER"
_FORMAT = 1
_RESERVED = ("chapter", "variant", "recorded_at", "machine")


def ledger_path() -> Path:
    """The ledger file: $EDGEHELPERS_LEDGER if set, else <cache>/results/ledger.json."""
    env = os.environ.get(LEDGER_ENV)
    return Path(env).expanduser() if env else cache_dir("results") / "ledger.json"


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """Short machine id (CPU model and cores) stored with every row."""
    from .machine import short_machine

    return short_machine()


def _scalar(key: str, value: Any) -> Any:
    """Return value as a JSON scalar (numpy scalars unwrapped), else raise naming the key."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy / 0-d array scalars
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"metric {key!r} is {value}: JSON has no NaN or inf; "
                             "record None for a missing value")
        return value
    raise TypeError(f"metric {key!r} is a {type(value).__name__}; the ledger stores only numbers, "
                    "strings, booleans and None (convert with float(...) or str(...))")


def _load(path: Path) -> list[dict]:
    """Rows of the ledger at path ([] if it does not exist); ValueError if it is corrupt."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError("'rows' is not a list of objects")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"the results ledger {path} is corrupt ({err}). Delete it to reset the "
                         "ledger, then re-run the chapters whose results you need") from None
    return rows


def record(chapter: str, variant: str, **metrics: Any) -> dict:
    """Insert or replace the row for (chapter, variant) with these metrics; return the row."""
    for name, value in (("chapter", chapter), ("variant", variant)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    clash = [k for k in metrics if k in _RESERVED]
    if clash:
        raise ValueError(f"metric names {clash} are reserved by the ledger; rename them")
    row = {"chapter": chapter, "variant": variant}
    row.update({key: _scalar(key, value) for key, value in metrics.items()})
    row["recorded_at"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    row["machine"] = _machine()
    path = ledger_path()
    with file_lock(path, timeout_s=60):
        rows = _load(path)
        same = [(r.get("chapter"), r.get("variant")) == (chapter, variant) for r in rows]
        keep = [r for r, s in zip(rows, same, strict=True) if not s]
        at = same.index(True) if any(same) else len(keep)
        keep.insert(at, row)  # a re-run keeps its place in the ledger
        atomic_write_text(path, json.dumps({"format": _FORMAT, "rows": keep}, indent=1, ensure_ascii=False))
    return row


def clear(chapter: str) -> int:
    """Remove every row of `chapter` (a notebook does this first, so renamed variants do not linger); return how many."""
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be a non-empty string, got {chapter!r}")
    path = ledger_path()
    with file_lock(path, timeout_s=60):
        rows = _load(path)
        keep = [r for r in rows if r.get("chapter") != chapter]
        if len(keep) != len(rows):
            atomic_write_text(path, json.dumps({"format": _FORMAT, "rows": keep}, indent=1, ensure_ascii=False))
    return len(rows) - len(keep)


def read_ledger(chapter: str | None = None) -> list[dict]:
    """All rows of the ledger, or only those of one chapter, in the order they were first recorded."""
    rows = _load(ledger_path())
    return [r for r in rows if chapter is None or r.get("chapter") == chapter]


# ---- reading the ledger across chapters (chapter 9) --------------------------------------------

CHAPTER_NOTEBOOKS = {  # ledger chapter id -> the notebook that writes its rows
    "00-setup": "00_setup_check.ipynb",
    "01-bottlenecks": "01_why_edge_is_hard.ipynb",
    "02-quantization": "02_quantization.ipynb",
    "03-distillation": "03_distillation.ipynb",
    "04-pruning": "04_pruning.ipynb",
    "05-efficient-attention": "05_efficient_attention.ipynb",
    "06-runtimes": "06_compilers_runtimes.ipynb",
    "07-vision-transformers": "07_vision_transformers.ipynb",
    "07b-small-vit": "07b_small_vit.ipynb",
    "08-indic": "08_indic_case_study.ipynb",
    "09-together": "09_putting_it_together.ipynb",
    "09b-ship": "09b_before_you_ship.ipynb",
}
ENGLISH = "English headlines (IndicNews-en, clean test split)"
TASKS = {  # which test set a chapter's accuracy is measured on: points on one plot must share it
    "02-quantization": ENGLISH, "03-distillation": ENGLISH, "04-pruning": ENGLISH, "06-runtimes": ENGLISH,
    "09-together": ENGLISH,
    "07-vision-transformers": "Fashion-MNIST probe on DINOv2-S (112 px)",
    "07b-small-vit": "Fashion-MNIST, small ViT and CNN (28 px)",
    "08-indic": "Marathi sentiment (MahaSent), on-device models",
}
_ACCURACY = ("accuracy", "acc")  # then the first accuracy_<set> field (chapter 8)
_LATENCY = ("p50_ms_1t_p50len", "p50_ms_1t", "p50_ms_1t_112px")  # the median real input, batch 1, 1 thread


def this_machine() -> str:
    """The machine id this process writes into its rows."""
    return _machine()


def quarantine(path: Path | None = None) -> Path:
    """Move a corrupt ledger aside (nothing is deleted) so the chapters can start a fresh one; return its new path."""
    path = Path(path) if path else ledger_path()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    moved, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while moved.exists():  # two in one second: never overwrite an earlier copy
        moved, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    path.replace(moved)
    return moved


def split_machines(rows: list[dict], machine: str | None = None) -> tuple[list[dict], dict[str, list[dict]]]:
    """(rows of this machine, {other machine: its rows}): latencies of different machines never share a plot."""
    here = machine or this_machine()
    mine = [r for r in rows if r.get("machine") == here]
    others: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("machine") != here:
            others.setdefault(str(r.get("machine", "unknown machine")), []).append(r)
    return mine, others


def missing_chapters(rows: list[dict], *, skip: tuple[str, ...] = ("09-together", "09b-ship")) -> dict[str, str]:
    """{chapter id: notebook to run} for every chapter with no row in `rows`."""
    present = {r.get("chapter") for r in rows}
    return {c: nb for c, nb in CHAPTER_NOTEBOOKS.items() if c not in present and c not in skip}


@dataclass(frozen=True)
class ResultPoint:
    """One variant with an accuracy and a batch-1, one-thread latency: a point of chapter 9's picture."""

    chapter: str
    variant: str
    task: str
    accuracy: float
    latency_ms: float
    size_bytes: int | None
    acc_low: float | None = None
    acc_high: float | None = None
    baseline: bool = False  # a non-transformer reference (TF-IDF), recorded with baseline=True


def _first(row: dict, keys: tuple[str, ...], prefix: str | None = None) -> tuple[str, Any] | None:
    """The first of `keys` present in row as a number (then the first field starting with prefix)."""
    for k in keys:
        if isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool):
            return k, row[k]
    if prefix:
        for k, v in row.items():
            if k.startswith(prefix) and isinstance(v, (int, float)) and not isinstance(v, bool):
                return k, v
    return None


def result_points(rows: list[dict]) -> list[ResultPoint]:
    """Rows that carry both an accuracy and a one-thread latency on a known task; collapsed runs left out."""
    points = []
    for r in rows:
        task = TASKS.get(r.get("chapter", ""))
        acc, lat = _first(r, _ACCURACY, "accuracy_"), _first(r, _LATENCY)
        if task is None or acc is None or lat is None or r.get("collapsed"):
            continue
        # chapter 8: accuracy_<set> pairs with acc_low_<set>; "accuracy" and "acc" pair with acc_low
        suffix = acc[0].removeprefix("accuracy") if acc[0].startswith("accuracy") else ""
        low, high = r.get(f"acc_low{suffix}"), r.get(f"acc_high{suffix}")
        size = r.get("size_bytes")
        points.append(ResultPoint(r["chapter"], r["variant"], task, float(acc[1]), float(lat[1]),
                                  int(size) if isinstance(size, (int, float)) else None,
                                  float(low) if isinstance(low, (int, float)) else None,
                                  float(high) if isinstance(high, (int, float)) else None, bool(r.get("baseline"))))
    return points

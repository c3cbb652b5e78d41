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


FIXED = ("task", "accuracy", "acc_low", "acc_high", "n_test", "p50_ms", "p95_ms", "latency_input",
         "latency_tokens", "threads", "size_bytes", "baseline")  # what `record`'s keywords write


def _fixed_fields(task: str | None, accuracy: Any, latency: Any, latency_input: str | None,
                  size_bytes: int | None, baseline: bool) -> dict[str, Any]:
    """The row's fixed fields from `record`'s keywords, checked: each says what it measured."""
    fields: dict[str, Any] = {}
    if accuracy is not None:
        if not all(hasattr(accuracy, a) for a in ("value", "low", "high", "n")):
            raise TypeError("accuracy= takes an accuracy with its interval (edgehelpers.accuracy.accuracy_ci(...)), "
                            f"not a {type(accuracy).__name__}; record a bare number under another name")
        if not task:
            raise ValueError("an accuracy needs task=: the test set it was measured on (e.g. ledger.ENGLISH)")
        fields |= {"task": task, "accuracy": accuracy.value, "acc_low": accuracy.low, "acc_high": accuracy.high,
                   "n_test": accuracy.n}
    elif task:
        fields["task"] = task
    if latency is not None:
        if not hasattr(latency, "p50_ms") or not hasattr(latency, "threads"):
            raise TypeError(f"latency= takes a timing.LatencyStats, not a {type(latency).__name__}")
        if not latency_input:
            raise ValueError("a latency needs latency_input=: the input it was timed on (e.g. 'p50 (22 tok)')")
        if latency.threads is None:
            raise ValueError("this latency does not say its thread count: time it with timing.latency(..., threads=n) "
                             "or timing.compare_latency(..., threads=n)")
        fields |= {"p50_ms": latency.p50_ms, "p95_ms": latency.p95_ms, "latency_input": str(latency_input),
                   "latency_tokens": getattr(latency_input, "tokens", None), "threads": latency.threads}
    elif latency_input:
        raise ValueError("latency_input= names the input of latency=: pass both")
    if size_bytes is not None:
        if isinstance(size_bytes, bool) or int(size_bytes) != size_bytes or size_bytes < 0:
            raise ValueError(f"size_bytes must be a whole number of bytes, got {size_bytes!r}")
        fields["size_bytes"] = int(size_bytes)
    if baseline:
        fields["baseline"] = True
    return fields


def record(chapter: str, variant: str, *, task: str | None = None, accuracy: Any = None, latency: Any = None,
           latency_input: str | None = None, size_bytes: int | None = None, baseline: bool = False,
           **metrics: Any) -> dict:
    """Insert or replace the row for (chapter, variant); return the row.

    The keywords write the fixed fields every chapter shares, which chapter 9 reads without guessing:
    task (the test set) with accuracy (an `accuracy_ci` result: value, interval, n), latency (a
    `LatencyStats` with its thread count) with latency_input (the input's label, e.g. "p50 (22 tok)"),
    size_bytes, and baseline=True for a non-transformer reference. Any other metric goes in **metrics.
    """
    for name, value in (("chapter", chapter), ("variant", variant)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    clash = [k for k in metrics if k in _RESERVED or k in FIXED]
    if clash:
        raise ValueError(f"metric names {clash} are reserved, the ledger's own fields: pass task=, accuracy=, latency=, "
                         "latency_input=, size_bytes= or baseline= instead, or rename them")
    row: dict[str, Any] = {"chapter": chapter, "variant": variant}
    fixed = _fixed_fields(task, accuracy, latency, latency_input, size_bytes, baseline)
    row.update({key: _scalar(key, value) for key, value in (fixed | metrics).items()})
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
    "09c-browser": "09c_browser.ipynb",
    "10-slm": "10_small_language_models.ipynb",
}
ENGLISH = "English headlines (IndicNews-en, clean test split)"  # the task of chapters 0, 2-4, 6 and 9


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


def missing_chapters(rows: list[dict], *,
                     skip: tuple[str, ...] = ("09-together", "09b-ship", "09c-browser", "10-slm")) -> dict[str, str]:
    """{chapter id: notebook to run} for every chapter with no row in `rows` (9b runs before 9c and 10)."""
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
    latency_input: str = ""  # what was timed: points of one plot must share it


def result_points(rows: list[dict]) -> list[ResultPoint]:
    """Rows whose fixed fields hold a task, an accuracy and a one-thread latency, as points."""
    return [ResultPoint(r["chapter"], r["variant"], r["task"], float(r["accuracy"]), float(r["p50_ms"]),
                        r.get("size_bytes"), r.get("acc_low"), r.get("acc_high"), bool(r.get("baseline")),
                        r.get("latency_input") or "")
            for r in rows
            if r.get("task") and r.get("accuracy") is not None and r.get("p50_ms") is not None
            and r.get("threads") == 1]

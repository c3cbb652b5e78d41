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


def read_ledger(chapter: str | None = None) -> list[dict]:
    """All rows of the ledger, or only those of one chapter, in the order they were first recorded."""
    rows = _load(ledger_path())
    return [r for r in rows if chapter is None or r.get("chapter") == chapter]

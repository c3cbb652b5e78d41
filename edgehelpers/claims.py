"""The claims a chapter's prose makes, checked in code, in two kinds.

- A claim about **correctness or the method** ("per-channel scales fit every row at least as well",
  "QAT beats PTQ beyond the noise") must hold on any machine: `check` always asserts it.
- A claim about **this CPU's speed** ("INT8 is at least 2x faster than FP32 eager") depends on the
  processor. `speed` takes the measured value and its bound, so it knows the claim's *margin*: how
  far the measurement could move before the claim breaks. It asserts the claim where the book is
  tested (CI, or strict mode: EDGEHELPERS_STRICT=1); on a reader's laptop a claim that does not hold
  is printed as "did not hold on your machine" with the CPU features that explain it, and the
  notebook goes on, so "Run All" finishes.

Where EDGEHELPERS_CLAIMS_LOG names a file (the book's build sets it), every speed claim appends one
JSON line to it: the claim, the value, the bound, the margin, whether it held, and the CPU with its
ISA flags. `tools/claims_report.py` turns those lines into `_build/claims.json` and prints the
thinnest margins, so a claim that only just holds is seen before it fails on another processor.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import os
from pathlib import Path

STRICT_ENV = "EDGEHELPERS_STRICT"
LOG_ENV = "EDGEHELPERS_CLAIMS_LOG"  # a JSON-lines file every speed claim is appended to
NOTEBOOK_ENV = "EDGEHELPERS_NOTEBOOK"  # which notebook is running (set by the book's test plugin)
OPS = (">", "<", "between")


class ClaimError(AssertionError):
    """A claim the chapter makes did not hold (always for `check`; in strict mode for `speed`)."""


def strict() -> bool:
    """Whether speed claims must hold: in CI (CI=true) or when EDGEHELPERS_STRICT=1."""
    flag = os.environ.get(STRICT_ENV, "").strip().lower()
    if flag in ("0", "false", "no"):
        return False
    return flag in ("1", "true", "yes") or os.environ.get("CI", "").strip().lower() in ("1", "true")


@functools.lru_cache(maxsize=1)
def _cpu() -> tuple[str, tuple[str, ...]]:
    """The CPU model and the ISA features (of machine.ISA_FLAGS) that decide which kernels run."""
    from edgehelpers.machine import machine_info

    info = machine_info(libs=())
    return info["cpu"], tuple(name for name, on in info["isa"].items() if on)


def _features() -> str:
    """The CPU and its ISA features, for a message."""
    cpu, isa = _cpu()
    return f"{cpu} ({', '.join(isa) or 'none of the listed extensions'})"


def check(condition: bool, claim: str) -> None:
    """Assert a claim about correctness or the method: it must hold on every machine."""
    if not condition:
        raise ClaimError(f"the chapter claims: {claim}. It did not hold, which points to a bug or a broken "
                         "set-up, not to your hardware; please report it with the output above.")


def margin(value: float, op: str, bound: float | tuple[float, float]) -> float:
    """How far `value` may move, as a fraction of the bound it would cross, before `value op bound` fails.

    0.25 means the measurement could be 25% worse and the claim would still hold; a negative
    margin means it does not hold. For "between" (lo, hi) it is the margin to the nearer bound.
    """
    if op == "between":
        lo, hi = bound  # type: ignore[misc]
        if not lo < hi:
            raise ValueError(f"'between' needs a bound (low, high) with low < high, got {bound!r}")
        return min(margin(value, ">", lo), margin(value, "<", hi))
    if op not in OPS:
        raise ValueError(f"unknown comparison {op!r}: use one of {OPS}")
    bound = float(bound)  # type: ignore[arg-type]
    if bound == 0 or not math.isfinite(bound):
        raise ValueError(f"the bound must be a finite non-zero number to give a relative margin, got {bound}; "
                         "state the claim as a ratio (e.g. a / b > 1) instead")
    value = float(value)
    if math.isnan(value):
        return -math.inf
    return (value - bound) / abs(bound) if op == ">" else (bound - value) / abs(bound)


def _fmt(x: float) -> str:
    """A number in a message: three significant digits."""
    return f"{x:.3g}"


def _record(entry: dict) -> None:
    """Append one claim to the log file named by EDGEHELPERS_CLAIMS_LOG (if set), under a lock."""
    target = os.environ.get(LOG_ENV)
    if not target:
        return
    import fcntl

    path = Path(target).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:  # one write per line, appended under an exclusive lock
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(line)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def speed(value: float, op: str, bound: float | tuple[float, float], claim: str, why: str = "") -> None:
    """A claim about this machine's speed, `value op bound` ('>', '<', or 'between' (low, high)).

    Asserted in CI/strict mode, printed with the measurement elsewhere when it fails; recorded with
    its margin (see `margin`) where EDGEHELPERS_CLAIMS_LOG is set. Returns nothing, so a claim
    ending a notebook cell adds no output of its own.
    """
    m = margin(value, op, bound)
    held = m > 0
    cpu, isa = _cpu()
    _record({"notebook": os.environ.get(NOTEBOOK_ENV), "claim": claim, "value": float(value), "op": op,
             "bound": list(bound) if op == "between" else float(bound),  # type: ignore[arg-type]
             "margin": m if math.isfinite(m) else None, "held": held, "cpu": cpu, "isa": list(isa),
             "strict": strict(), "recorded_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    if held:
        return
    wanted = f"between {_fmt(bound[0])} and {_fmt(bound[1])}" if op == "between" else f"{op} {_fmt(bound)}"  # type: ignore[index,arg-type]
    message = f"did not hold on your machine: {claim} (measured {_fmt(value)}, the claim needs {wanted})"
    if why:
        message += f". {why}"
    message += f". This CPU: {_features()}."
    if strict():
        raise ClaimError(message + f" (strict mode: {STRICT_ENV}=1 or CI=true)")
    print(message)

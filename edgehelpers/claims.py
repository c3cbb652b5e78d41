"""The claims a chapter's prose makes, checked in code, in two kinds.

- A claim about **correctness or the method** ("per-channel scales fit every row at least as well",
  "QAT beats PTQ beyond the noise") must hold on any machine: `check` always asserts it.
- A claim about **this CPU's speed** ("INT8 is at least 2x faster than FP32 eager") depends on the
  processor. `speed` asserts it where the book is tested (CI, or strict mode: EDGEHELPERS_STRICT=1);
  on a reader's laptop a claim that does not hold is printed as "did not hold on your machine"
  with the CPU features that explain it, and the notebook goes on, so "Run All" finishes.
"""

from __future__ import annotations

import os

STRICT_ENV = "EDGEHELPERS_STRICT"


class ClaimError(AssertionError):
    """A claim the chapter makes did not hold (always for `check`; in strict mode for `speed`)."""


def strict() -> bool:
    """Whether speed claims must hold: in CI (CI=true) or when EDGEHELPERS_STRICT=1."""
    flag = os.environ.get(STRICT_ENV, "").strip().lower()
    if flag in ("0", "false", "no"):
        return False
    return flag in ("1", "true", "yes") or os.environ.get("CI", "").strip().lower() in ("1", "true")


def _features() -> str:
    """The CPU and the ISA features that decide which kernels run, for the message."""
    from edgehelpers.machine import machine_info

    info = machine_info(libs=())
    isa = ", ".join(name for name, on in info["isa"].items() if on) or "none of the listed extensions"
    return f"{info['cpu']} ({isa})"


def check(condition: bool, claim: str) -> None:
    """Assert a claim about correctness or the method: it must hold on every machine."""
    if not condition:
        raise ClaimError(f"the chapter claims: {claim}. It did not hold, which points to a bug or a broken "
                         "set-up, not to your hardware; please report it with the output above.")


def speed(condition: bool, claim: str, why: str = "") -> None:
    """A claim about this machine's speed: asserted in CI/strict mode, printed elsewhere when it fails.

    Returns nothing, so a claim ending a notebook cell adds no output of its own.
    """
    if condition:
        return
    message = f"did not hold on your machine: {claim}"
    if why:
        message += f". {why}"
    message += f". This CPU: {_features()}."
    if strict():
        raise ClaimError(message + f" (strict mode: {STRICT_ENV}=1 or CI=true)")
    print(message)

"""Peak resident memory of loading plus inference, measured in a fresh Python process.

A fresh process, because the notebook's own process already holds every model it has loaded, and
a process's peak memory only ever goes up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from .fresh import run_marked, tail
from .size import human_bytes

_MARK = "__edgehelpers_peak_memory__ "

# Runs in the child. On Linux the peak is VmHWM of /proc/self/status, reset before each snippet
# (writing 5 to /proc/self/clear_refs) so the peak that follows belongs to that snippet, not to
# set-up's temporaries or an earlier snippet.
# Not ru_maxrss there: it also holds the RSS of the forked copy of the parent before exec, so a
# notebook holding 2 GB would make every snippet look like it peaked at 2 GB.
_CHILD = r"""
import json, os, resource, sys
_job = json.loads(sys.stdin.read())
def _status_kb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
def _peak():
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, kB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
def _rss():
    rss = _status_kb("VmRSS")
    return rss if rss is not None else _peak()
_ns = {"__name__": "__main__"}
exec(compile(_job["setup"], "<setup>", "exec"), _ns)
for _code in _job["codes"]:
    _after = _rss()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # the peak then includes earlier peaks: delta_bytes is an upper bound
    exec(compile(_code, "<code>", "exec"), _ns)
    sys.stdout.flush()
    print(MARK + json.dumps({"peak": max(_peak(), _after), "after_setup": _after}), flush=True)
""".replace("MARK", repr(_MARK))


@dataclass
class PeakMemory:
    """Peak resident memory of a child process while the measured code ran, and its resident
    memory right before that code (after set-up and any earlier snippets of a series)."""

    peak_bytes: int
    after_setup_bytes: int

    @property
    def delta_bytes(self) -> int:
        """Peak minus the memory held before the code ran: what the measured code itself needed."""
        return max(0, self.peak_bytes - self.after_setup_bytes)

    def __str__(self) -> str:
        return (f"peak {human_bytes(self.peak_bytes)} (code: +{human_bytes(self.delta_bytes)} "
                f"over {human_bytes(self.after_setup_bytes)} after set-up)")


def _run_child(job: dict, timeout_s: float, python: str | None, env: dict | None) -> list[PeakMemory]:
    """Run the child with `job` and return one PeakMemory per snippet it reported."""
    reports, stderr = run_marked([python or sys.executable, "-c", _CHILD], job, _MARK, timeout_s=timeout_s,
                                 what="the measured snippet", env=env)
    if len(reports) < len(job["codes"]):
        raise RuntimeError("the snippet exited before reporting its memory (does it call sys.exit or "
                           f"os._exit?); the end of its stderr:\n{tail(stderr)}")
    return [PeakMemory(peak_bytes=int(r["peak"]), after_setup_bytes=int(r["after_setup"])) for r in reports]


def _check_args(codes: Sequence[str], setup: str, timeout_s: float) -> None:
    """TypeError/ValueError for snippets that are not source strings or a non-positive timeout."""
    if not all(isinstance(c, str) for c in codes) or not isinstance(setup, str):
        raise TypeError("code and setup must be Python source strings")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")


def peak_rss_subprocess(
    code: str, *, setup: str = "", timeout_s: float = 600, python: str | None = None
) -> PeakMemory:
    """Run `setup` then `code` in a fresh interpreter and return its peak resident memory."""
    _check_args([code], setup, timeout_s)
    return _run_child({"setup": setup, "codes": [code]}, timeout_s, python, None)[0]


def peak_rss_series(
    codes: Sequence[str], *, setup: str = "", timeout_s: float = 600, python: str | None = None
) -> list[PeakMemory]:
    """Peak memory of each snippet in turn, in one fresh interpreter after one `setup` (cheaper).

    Each snippet's delta is its own: the peak is reset before it, and the child's allocator returns
    freed blocks of 64 KiB and more to the system at once (glibc's MALLOC_MMAP_THRESHOLD_), so
    memory an earlier snippet freed is not silently reused. Snippets should free what they make.
    """
    if isinstance(codes, str):
        raise TypeError("codes must be a list of source strings; for one snippet use peak_rss_subprocess")
    _check_args(codes, setup, timeout_s)
    if not codes:
        raise ValueError("peak_rss_series needs at least one snippet to measure")
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    return _run_child({"setup": setup, "codes": list(codes)}, timeout_s, python, env)

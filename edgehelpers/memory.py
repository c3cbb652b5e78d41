"""Peak resident memory of loading plus inference, measured in a fresh Python process.

A fresh process, because the notebook's own process already holds every model it has loaded, and
a process's peak memory only ever goes up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from .size import human_bytes

_MARK = "__edgehelpers_peak_memory__ "

# Runs in the child. On Linux the peak is VmHWM of /proc/self/status, reset after set-up (writing 5
# to /proc/self/clear_refs) so the peak that follows belongs to `code`, not to set-up's temporaries.
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
_after = _rss()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass  # the peak then includes set-up's own peak: delta_bytes is an upper bound
exec(compile(_job["code"], "<code>", "exec"), _ns)
sys.stdout.flush()
print(MARK + json.dumps({"peak": max(_peak(), _after), "after_setup": _after}), flush=True)
""".replace("MARK", repr(_MARK))


@dataclass
class PeakMemory:
    """Peak resident memory of a child process, and its resident memory right after set-up."""

    peak_bytes: int
    after_setup_bytes: int

    @property
    def delta_bytes(self) -> int:
        """Peak minus the memory held after set-up: what the measured code itself needed."""
        return max(0, self.peak_bytes - self.after_setup_bytes)

    def __str__(self) -> str:
        return (f"peak {human_bytes(self.peak_bytes)} (code: +{human_bytes(self.delta_bytes)} "
                f"over {human_bytes(self.after_setup_bytes)} after set-up)")


def _tail(text: str, lines: int = 15) -> str:
    """The last `lines` lines of text, for error messages."""
    return "\n".join(text.strip().splitlines()[-lines:])


def peak_rss_subprocess(
    code: str, *, setup: str = "", timeout_s: float = 600, python: str | None = None
) -> PeakMemory:
    """Run `setup` then `code` in a fresh interpreter and return its peak resident memory."""
    if not isinstance(code, str) or not isinstance(setup, str):
        raise TypeError("code and setup must be Python source strings")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
    job = json.dumps({"setup": setup, "code": code})
    try:
        proc = subprocess.run(
            [python or sys.executable, "-c", _CHILD],
            input=job, capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"the measured snippet ran longer than timeout_s={timeout_s:g} s; "
                           "give it less work or raise timeout_s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the measured snippet failed (exit code {proc.returncode}); "
                           f"the end of its stderr:\n{_tail(proc.stderr)}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_MARK)]
    if not lines:
        raise RuntimeError("the snippet exited before reporting its memory (does it call sys.exit or "
                           f"os._exit?); the end of its stderr:\n{_tail(proc.stderr)}")
    report = json.loads(lines[-1][len(_MARK):])
    return PeakMemory(peak_bytes=int(report["peak"]), after_setup_bytes=int(report["after_setup"]))

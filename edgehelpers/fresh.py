"""Measuring in a fresh Python process: the one harness behind cold start and peak memory.

A notebook's own process already holds every model it has loaded, and a process's peak memory only
ever goes up, so what a user's app would see on launch is measured in a new interpreter. The child
prints its result as one JSON line behind a marker; anything else it prints is ignored, and its
stderr's end is shown when it fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence


def tail(text: str, lines: int = 15) -> str:
    """The last `lines` lines of text, for error messages."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_marked(argv: Sequence[str], job: dict, mark: str, *, timeout_s: float, what: str,
               env: Mapping[str, str] | None = None) -> tuple[list[dict], str]:
    """Run `argv` with `job` as JSON on stdin; return the JSON of every line starting with `mark`, and stderr.

    A child that runs past `timeout_s` raises TimeoutError, one that fails raises RuntimeError with
    the end of its stderr; `what` names the work in both messages.
    """
    try:
        proc = subprocess.run(list(argv), input=json.dumps(job), capture_output=True, text=True,
                              timeout=timeout_s, env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{what} ran longer than timeout_s={timeout_s:g} s; give it less work or raise "
                           "timeout_s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed in its fresh process (exit code {proc.returncode}); the end of its "
                           f"stderr:\n{tail(proc.stderr)}")
    return [json.loads(ln[len(mark):]) for ln in proc.stdout.splitlines() if ln.startswith(mark)], proc.stderr


def peak_bytes() -> int:
    """This process's peak resident memory (VmHWM on Linux, ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

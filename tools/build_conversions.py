"""Convert the shared teacher for chapter 6's on-device runtimes (ExecuTorch, LiteRT, Core ML), once.

A stage of its own, like the teacher: about two minutes of conversions on two cores that chapter 6
would otherwise run inside its time budget. Both chains run at once (one process each); outputs
that are already cached are kept. The chapter makes whatever is missing itself, in the background.
"""

from __future__ import annotations

import subprocess
import sys
import time

from edgehelpers.cache import BUILD_RECORD, build_once
from edgehelpers.convert import chain_command, conversion_dir, edge_conversions
from edgehelpers.models import load_teacher, teacher_path

STATIC, SEQ = 32, 128  # chapter 6's static LiteRT/Core ML length and its padded benchmark length


def convert_missing(folder) -> dict:
    """Run the conversions not yet in `folder` (one process per chain) and say which chains ran."""
    chains = edge_conversions(teacher_path(), static=STATIC, seq=SEQ)
    jobs = {}
    for name, chain in chains.items():
        missing = [args for out, args in chain if not out.exists()]
        if missing:  # one process per chain: the converters are imported and the model loaded once
            jobs[name] = subprocess.Popen(chain_command(missing))
    failed = [name for name, job in jobs.items() if job.wait() != 0]
    if failed:
        sys.exit(f"conversions failed: {', '.join(failed)} (see the output above)")
    return {"made": sorted(jobs)}  # none: chapter 6 had made them all (then the time is not a build's)


def main() -> None:
    if not (teacher_path() / "metrics.json").is_file():
        load_teacher()  # builds it (the teacher stage normally has); a cached one need not be loaded here
    start = time.perf_counter()
    # in place: chapter 6 makes any missing file itself, each written atomically, into the same folder
    built = build_once(conversion_dir(teacher_path()), convert_missing, what="the teacher's edge conversions",
                       in_place=True)
    print(f"edge conversions in {conversion_dir(teacher_path())}: "
          f"{f'made in {time.perf_counter() - start:.0f} s' if built else f'all cached ({BUILD_RECORD} there)'}")


if __name__ == "__main__":
    main()

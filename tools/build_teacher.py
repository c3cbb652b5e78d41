"""Build the book's shared teacher into the cache (once), before the notebooks run.

`make teacher` (a prerequisite of `make notebooks`) runs this, so the teacher's minutes of
fine-tuning are a stage of their own and not part of any chapter's time budget. A cached teacher
is loaded, not rebuilt. Run from the repository root: python tools/build_teacher.py
"""

from __future__ import annotations

import os
import time


def main() -> None:
    """Build or load the teacher and print what it is, how long it took and how well it scores."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may need the Hugging Face Hub
    from edgehelpers.machine import short_machine
    from edgehelpers.models import TEACHER_RECIPE, load_teacher

    start = time.perf_counter()
    teacher = load_teacher(TEACHER_RECIPE)
    took = time.perf_counter() - start
    state = f"built in {teacher.build_seconds:.0f} s" if teacher.built_now else f"loaded from the cache in {took:.0f} s"
    print(f"teacher {TEACHER_RECIPE.cache_name}: {state} on {short_machine()}")
    print(f"accuracy on the clean test split: {teacher.accuracy}")
    print(f"cached at {teacher.path}")


if __name__ == "__main__":
    main()

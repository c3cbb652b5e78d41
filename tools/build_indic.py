"""Build chapter 8's fine-tuned e5 teachers and distilled students into the cache (once).

`make indic` (a prerequisite of `make notebooks`) runs this, so their minutes of fine-tuning are a
stage of their own and not part of chapter 8's time budget. Cached models are loaded, not rebuilt.
Run from the repository root: python tools/build_indic.py
"""

from __future__ import annotations

import os
import time


def main() -> None:
    """Build or load the models and print how long it took and how well each scores."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may need the Hugging Face Hub
    import numpy as np

    from edgehelpers.accuracy import accuracy_ci
    from edgehelpers.indic import INDIC_RECIPE, TASKS, load_indic_models, task
    from edgehelpers.machine import short_machine

    start = time.perf_counter()
    models = load_indic_models(INDIC_RECIPE)
    took = time.perf_counter() - start
    state = f"built in {models.build_seconds:.0f} s" if models.built_now else f"loaded from the cache in {took:.0f} s"
    print(f"chapter 8 models {INDIC_RECIPE.cache_name}: {state} on {short_machine()}")
    for name in TASKS:
        labels = np.asarray(task(name).test.labels)
        for kind, group in (("teacher", models.teachers), ("student", models.students)):
            print(f"  {name} {kind}: {accuracy_ci(group[name].test_logits.argmax(1), labels)}")
    print(f"cached at {models.path}")


if __name__ == "__main__":
    main()

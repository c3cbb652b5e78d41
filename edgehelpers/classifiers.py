"""Loading a saved sequence classifier, offline: the teacher, chapter 8's models, any saved copy.

A folder written by `save_pretrained` (config, safetensors, tokenizer) loads with transformers'
Auto classes, local files only and no remote code. Chapter 8's classifiers mean-pool their tokens,
a class of this package (`edgehelpers.e5`), which is registered here first, so every caller loads
every book model the same way. Every weight must be present: a folder missing some is refused with
what to do, instead of running with freshly initialised weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgehelpers.quiet import transformers_logs


def load_classifier_model(path: str | Path) -> Any:
    """The classifier saved in `path` (eval mode), offline; every weight must be present."""
    from transformers import AutoModelForSequenceClassification

    from edgehelpers.e5 import register_mean_pool_classifier

    register_mean_pool_classifier()  # chapter 8's mean-pooling classifiers are a class of this package
    with transformers_logs():
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, output_loading_info=True)
    if info["missing_keys"] or info.get("mismatched_keys"):
        raise RuntimeError(f"the saved classifier at {path} is incomplete ({sorted(info['missing_keys'])}); "
                           "delete that folder and run again to rebuild it.")
    return model.eval()


def load_classifier(path: str | Path) -> tuple[Any, Any]:
    """(tokenizer, classifier) saved in `path` by save_pretrained, offline; every weight must be present."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True), load_classifier_model(path)

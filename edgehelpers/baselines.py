"""The yardsticks every model in the book is read against: the majority class and TF-IDF + a linear model.

A transformer earns its cost only where it beats these. They train in seconds on a CPU, need no
pretrained weights, and are the first thing to try on a new text task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgehelpers.deps import require

if TYPE_CHECKING:
    from edgehelpers.data import TextData

# the regularisation strengths tried on the validation split (a small grid, as for any model)
GRID: dict[str, tuple[float, ...]] = {"svm": (0.1, 0.3, 1.0), "logreg": (3.0, 10.0, 30.0)}


def majority_predictions(train: TextData, n: int) -> np.ndarray:
    """`n` predictions of the most frequent training class (ties: the lower class id)."""
    if len(train) == 0:
        raise ValueError(f"{train.name} {train.split} is empty: no majority class to predict")
    return np.full(n, int(np.bincount(train.labels).argmax()))


ANALYZERS = ("word", "char")


def tfidf_model(kind: str = "svm", c: float = 1.0, ngrams: int = 2, analyzer: str = "word") -> Any:
    """An unfitted scikit-learn pipeline: TF-IDF, then a linear SVM or logistic regression.

    analyzer "word": word 1..ngrams; "char": character 2..5-grams inside word boundaries, the usual
    choice for morphologically rich languages (Marathi, Telugu), where one word has many forms.
    """
    require("sklearn", "scikit-learn", "the TF-IDF baselines")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    if kind not in GRID:
        raise ValueError(f"unknown baseline kind {kind!r}; choose one of {', '.join(GRID)}")
    if analyzer not in ANALYZERS:
        raise ValueError(f"unknown analyzer {analyzer!r}; choose one of {', '.join(ANALYZERS)}")
    if not c > 0 or ngrams < 1:
        raise ValueError(f"need c > 0 and ngrams >= 1, got c={c}, ngrams={ngrams}")
    # sublinear tf: a word repeated in a headline is not twice the evidence
    if analyzer == "word":
        vectorizer = TfidfVectorizer(ngram_range=(1, ngrams), sublinear_tf=True)
    else:  # a character n-gram seen once is noise: min_df=2 keeps the vocabulary (and the fit) small
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    classifier = LinearSVC(C=c, random_state=0) if kind == "svm" else LogisticRegression(C=c, max_iter=1000, solver="saga",
                                                                        tol=1e-3, random_state=0)
    return make_pipeline(vectorizer, classifier)


@dataclass
class Baseline:
    """A fitted TF-IDF baseline, the setting chosen on validation, and its validation accuracy."""

    kind: str
    c: float
    model: Any
    valid_accuracy: float
    analyzer: str = "word"

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class ids for `texts`."""
        return np.asarray(self.model.predict(list(texts)))

    @property
    def name(self) -> str:
        """A label for tables, e.g. 'TF-IDF + linear SVM (C=0.3)'."""
        what = "linear SVM" if self.kind == "svm" else "logistic regression"
        grams = "" if self.analyzer == "word" else " on character 2-5-grams"
        return f"TF-IDF{grams} + {what} (C={self.c:g})"


def tfidf_baseline(train: TextData, valid: TextData, kind: str = "svm",
                   grid: tuple[float, ...] | None = None, analyzer: str = "word") -> Baseline:
    """Fit a TF-IDF baseline on `train` for each C of the grid, keep the best on `valid`."""
    if len(train) == 0 or len(valid) == 0:
        raise ValueError("tfidf_baseline needs a non-empty train and valid split")
    if len(set(train.labels)) < 2:
        raise ValueError(f"{train.name} {train.split} has a single class: a classifier needs at least two")
    best: Baseline | None = None
    for c in grid or GRID.get(kind, ()):
        model = tfidf_model(kind, c, analyzer=analyzer).fit(list(train.texts), list(train.labels))
        acc = float((model.predict(list(valid.texts)) == np.asarray(valid.labels)).mean())
        if best is None or acc > best.valid_accuracy:
            best = Baseline(kind, c, model, acc, analyzer)
    if best is None:
        raise ValueError(f"unknown baseline kind {kind!r}; choose one of {', '.join(GRID)}")
    return best

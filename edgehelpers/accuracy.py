"""Accuracy with a confidence interval, so "less than 1 point worse" is judged against noise.

Two rules the book follows, both implemented here:

- Rows that are not independent (copies of one text, near-duplicates of one story) make an
  interval that assumes independence too narrow; pass `groups` (a cluster id per row) and the
  interval is widened by the measured design effect.
- "The interval contains 0" is absence of evidence, not evidence of no difference. A claim that
  a variant is "no worse than X points" needs the lower end of the paired difference's interval
  above -X (a non-inferiority test against a stated margin): `compare(...).no_worse_than(X)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Accuracy:
    """Accuracy `correct / n` with its Wilson score interval [low, high] at `confidence`."""

    correct: int
    n: int
    confidence: float
    low: float
    high: float
    n_eff: float | None = None  # effective sample size when rows were clustered (groups given)

    @property
    def value(self) -> float:
        """The accuracy as a fraction from 0 to 1."""
        return self.correct / self.n

    def __str__(self) -> str:
        n_eff = "" if self.n_eff is None else f", effective n={self.n_eff:,.0f}"
        return (f"{100 * self.value:.1f}% ({100 * self.confidence:g}% CI "
                f"{100 * self.low:.1f}-{100 * self.high:.1f}%, n={self.n}{n_eff})")


def _z(confidence: float) -> float:
    """Two-sided standard-normal quantile for a confidence level, e.g. 1.96 for 0.95."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _hits(predictions: Any, labels: Any) -> np.ndarray:
    """Boolean array: which predictions equal their labels (after checking the inputs)."""
    pred, lab = np.asarray(predictions), np.asarray(labels)
    if pred.size == 0 or lab.size == 0:
        raise ValueError("no predictions or labels: accuracy needs at least one example")
    if pred.shape != lab.shape:
        raise ValueError(f"predictions {pred.shape} and labels {lab.shape} differ in shape; "
                         "pass class ids for both (e.g. logits.argmax(-1))")
    return (pred == lab).ravel()


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion correct/n (good even near 0% or 100%)."""
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    return _wilson(correct / n, n, _z(confidence))


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """The Wilson interval of a proportion p observed on n (possibly effective, fractional) rows."""
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0% or 100% the matching bound is exactly 0 or 1; the formula leaves rounding dust there
    low = 0.0 if p == 0 else max(0.0, center - half)
    high = 1.0 if p == 1 else min(1.0, center + half)
    return low, high


def _group_ids(groups: Any, n: int) -> np.ndarray:
    """Cluster ids as integers 0..G-1, checked against the number of rows."""
    ids = np.asarray(groups).ravel()
    if ids.size != n:
        raise ValueError(f"groups has {ids.size} ids for {n} rows: give one cluster id per row "
                         "(e.g. edgehelpers.data.text_groups(texts))")
    return np.unique(ids, return_inverse=True)[1]


def _variance_of_mean(values: np.ndarray, groups: Any = None) -> float:
    """Variance of the mean of `values`: i.i.d., or cluster-robust (CR1) when groups are given."""
    n = values.size
    if groups is None:
        return float(values.var(ddof=1)) / n if n > 1 else 0.0
    ids = _group_ids(groups, n)
    n_groups = int(ids.max()) + 1
    if n_groups < 2:
        raise ValueError("all rows are in one group: a clustered interval needs at least two groups")
    sums = np.bincount(ids, weights=values - values.mean(), minlength=n_groups)
    return float((sums**2).sum()) / n**2 * n_groups / (n_groups - 1)


def design_effect(values: Any, groups: Any) -> float:
    """Variance of the mean with clusters over the variance assuming independence (1: independent)."""
    values = np.asarray(values, dtype=float).ravel()
    iid = _variance_of_mean(values)
    if iid == 0:
        return 1.0  # constant values: no spread for clustering to inflate
    return _variance_of_mean(values, groups) / iid


def accuracy_ci(predictions: Any, labels: Any, confidence: float = 0.95, groups: Any = None) -> Accuracy:
    """Accuracy of predictions against labels, with a Wilson interval at `confidence`.

    With `groups` (a cluster id per row), the interval is a Wilson interval at the effective
    sample size n / design effect (Kish), so repeated rows no longer count as independent evidence.
    """
    hits = _hits(predictions, labels)
    correct, n = int(hits.sum()), int(hits.size)
    if groups is None:
        low, high = wilson_interval(correct, n, confidence)
        return Accuracy(correct=correct, n=n, confidence=confidence, low=low, high=high)
    n_eff = n / max(1.0, design_effect(hits.astype(float), groups))  # never narrower than i.i.d.
    low, high = _wilson(correct / n, n_eff, _z(confidence))
    return Accuracy(correct=correct, n=n, confidence=confidence, low=low, high=high, n_eff=n_eff)


def accuracy_diff_ci(
    pred_a: Any, pred_b: Any, labels: Any, confidence: float = 0.95, groups: Any = None
) -> tuple[float, float, float]:
    """Paired difference acc_a - acc_b on the same examples, with a normal-approximation interval.

    With `groups` (a cluster id per row) the standard error is cluster-robust.
    """
    z = _z(confidence)
    hits_a, hits_b = _hits(pred_a, labels), _hits(pred_b, labels)
    # pairing cancels the examples both get right or both get wrong: a far tighter interval than
    # comparing two independent accuracy intervals
    d = hits_a.astype(float) - hits_b.astype(float)
    diff = float(d.mean())
    if d.size < 2:
        return diff, -1.0, 1.0  # one example says nothing about the spread
    half = z * math.sqrt(_variance_of_mean(d, groups))
    return diff, max(-1.0, diff - half), min(1.0, diff + half)


@dataclass(frozen=True)
class Comparison:
    """Paired difference acc_a - acc_b (fractions) with its interval, and the claims it supports."""

    diff: float
    low: float
    high: float
    confidence: float
    n: int

    def better(self) -> bool:
        """a beats b beyond the noise: the whole interval lies above 0."""
        return self.low > 0

    def worse(self) -> bool:
        """a loses to b beyond the noise: the whole interval lies below 0."""
        return self.high < 0

    def no_worse_than(self, margin: float) -> bool:
        """Non-inferiority: a is at most `margin` (a fraction, 0.01 = 1 point) worse than b."""
        if not 0 < margin < 1:
            raise ValueError(f"margin is a fraction of accuracy between 0 and 1 (0.01 = 1 point), got {margin}")
        return self.low > -margin

    def equivalent(self, margin: float) -> bool:
        """Equivalence: the whole interval lies within ±margin."""
        return self.no_worse_than(margin) and self.high < margin

    def verdict(self, margin: float) -> str:
        """What may be claimed at this margin, in words."""
        pts = f"{100 * margin:g} pt"
        if self.better():
            return "better, beyond the noise"
        if self.worse():
            return (f"worse, but by at most {pts}" if self.no_worse_than(margin)
                    else "worse, beyond the noise")
        if self.no_worse_than(margin):
            return f"no worse than -{pts} (non-inferior at that margin)"
        return f"inconclusive: the interval reaches below -{pts}; more test data or a wider margin is needed"

    def __str__(self) -> str:
        return (f"{100 * self.diff:+.2f} pt ({100 * self.confidence:g}% CI {100 * self.low:+.2f} to "
                f"{100 * self.high:+.2f}, n={self.n})")


def compare(pred_a: Any, pred_b: Any, labels: Any, *, confidence: float = 0.95, groups: Any = None) -> Comparison:
    """The paired comparison of model a against model b on the same rows (see Comparison)."""
    diff, low, high = accuracy_diff_ci(pred_a, pred_b, labels, confidence, groups)
    return Comparison(diff, low, high, confidence, int(np.asarray(labels).size))


def front_ties(front: Sequence[str], predictions: Mapping[str, Any], labels: Any,
               confidence: float = 0.95) -> dict[str, str]:
    """Pareto-front members whose accuracy lead over the next faster member is within the noise.

    `front` lists the front's variants from fastest to slowest (as plots.pareto_front returns them);
    the result maps each tied member to the faster variant it ties with (paired comparison).
    """
    missing = [name for name in front if name not in predictions]
    if missing:
        raise ValueError(f"no predictions for front members {missing}: pass each one's class ids")
    ties: dict[str, str] = {}
    anchor = None  # the fastest member whose lead is real so far
    for name in front:
        if anchor is not None and not compare(predictions[name], predictions[anchor], labels,
                                              confidence=confidence).better():
            ties[name] = anchor
            continue
        anchor = name
    return ties


def collapse_reason(predictions: Any, labels: Any, *, max_class_share: float = 0.5,
                    floor_margin: float = 0.02) -> str | None:
    """Why a model's predictions look dead (one class for most rows, or no better than always
    answering the most frequent label), or None for a live model. A dead model is a failure to
    report, never a result to compare."""
    pred, lab = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
    hits = _hits(pred, lab)
    values, counts = np.unique(pred, return_counts=True)
    top = int(counts.argmax())
    if counts[top] / pred.size >= max_class_share:
        return f"it predicts class {values[top]} for {counts[top] / pred.size:.0%} of the rows"
    majority = np.unique(lab, return_counts=True)[1].max() / lab.size
    if hits.mean() <= majority + floor_margin:
        return (f"its accuracy {hits.mean():.1%} is no better than always answering the most frequent "
                f"label ({majority:.1%})")
    return None

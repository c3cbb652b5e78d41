"""Accuracy with a confidence interval, so "less than 1 point worse" is judged against noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
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

    @property
    def value(self) -> float:
        """The accuracy as a fraction from 0 to 1."""
        return self.correct / self.n

    def __str__(self) -> str:
        return (f"{100 * self.value:.1f}% ({100 * self.confidence:g}% CI "
                f"{100 * self.low:.1f}-{100 * self.high:.1f}%, n={self.n})")


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
    z = _z(confidence)
    p = correct / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at 0% or 100% the matching bound is exactly 0 or 1; the formula leaves rounding dust there
    low = 0.0 if correct == 0 else max(0.0, center - half)
    high = 1.0 if correct == n else min(1.0, center + half)
    return low, high


def accuracy_ci(predictions: Any, labels: Any, confidence: float = 0.95) -> Accuracy:
    """Accuracy of predictions against labels, with a Wilson interval at `confidence`."""
    hits = _hits(predictions, labels)
    correct, n = int(hits.sum()), int(hits.size)
    low, high = wilson_interval(correct, n, confidence)
    return Accuracy(correct=correct, n=n, confidence=confidence, low=low, high=high)


def accuracy_diff_ci(
    pred_a: Any, pred_b: Any, labels: Any, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Paired difference acc_a - acc_b on the same examples, with a normal-approximation interval."""
    z = _z(confidence)
    hits_a, hits_b = _hits(pred_a, labels), _hits(pred_b, labels)
    # pairing cancels the examples both get right or both get wrong: a far tighter interval than
    # comparing two independent accuracy intervals
    d = hits_a.astype(float) - hits_b.astype(float)
    diff = float(d.mean())
    if d.size < 2:
        return diff, -1.0, 1.0  # one example says nothing about the spread
    half = z * float(d.std(ddof=1)) / math.sqrt(d.size)
    return diff, max(-1.0, diff - half), min(1.0, diff + half)

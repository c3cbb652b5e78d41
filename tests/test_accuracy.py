"""Accuracy with Wilson intervals, and paired differences between two models."""

import math

import numpy as np
import pytest

from edgehelpers.accuracy import Accuracy, accuracy_ci, accuracy_diff_ci, wilson_interval


def test_wilson_matches_hand_computation():
    # 8 of 10 at 95%: z = 1.959964; centre (0.8 + z²/20) / (1 + z²/10) = 0.71666,
    # half-width z·sqrt(0.016 + z²/400) / (1 + z²/10) = 0.22653  ->  [0.4902, 0.9433]
    acc = accuracy_ci([1] * 8 + [0] * 2, [1] * 10)
    assert (acc.correct, acc.n, acc.value) == (8, 10, 0.8)
    assert acc.low == pytest.approx(0.4902, abs=1e-4) and acc.high == pytest.approx(0.9433, abs=1e-4)
    # 0 of 10: the interval still has width, [0, z²/(n + z²)] = [0, 0.2775]
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)


def test_interval_narrows_with_n_and_confidence():
    big = accuracy_ci(np.r_[np.ones(800), np.zeros(200)], np.ones(1000))
    small = accuracy_ci([1] * 8 + [0] * 2, [1] * 10)
    assert big.high - big.low < small.high - small.low
    low90, high90 = wilson_interval(800, 1000, confidence=0.90)
    assert big.low < low90 < high90 < big.high


def test_str():
    acc = accuracy_ci(["a"] * 8 + ["b"] * 2, ["a"] * 10)
    assert str(acc) == "80.0% (95% CI 49.0-94.3%, n=10)"
    assert isinstance(acc, Accuracy)


@pytest.mark.parametrize(
    "pred, labels, kwargs, match",
    [
        ([], [], {}, "at least one"),
        ([1, 2], [1], {}, "shape"),
        ([1], [1], {"confidence": 0.0}, "confidence"),
        ([1], [1], {"confidence": 1.0}, "confidence"),
        ([1], [1], {"confidence": 95}, "confidence"),
    ],
)
def test_accuracy_errors(pred, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        accuracy_ci(pred, labels, **kwargs)


def test_paired_difference_hand_computed():
    labels = np.ones(100, dtype=int)
    a = labels.copy()
    b = labels.copy()
    b[:10] = 0  # a gets 10 more examples right
    diff, low, high = accuracy_diff_ci(a, b, labels)
    half = 1.959964 * math.sqrt(0.1 * 0.9 * 100 / 99) / 10  # sample sd of 10 ones in 100, / sqrt(n)
    assert diff == pytest.approx(0.1)
    assert low == pytest.approx(0.1 - half, abs=1e-5) and high == pytest.approx(0.1 + half, abs=1e-5)
    assert accuracy_diff_ci(a, a, labels) == (0.0, 0.0, 0.0)


def test_paired_is_tighter_than_independent_intervals():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    a = np.where(rng.random(2000) < 0.85, labels, 1 - labels)
    b = a.copy()
    flip = rng.choice(2000, 10, replace=False)
    b[flip] = 1 - b[flip]  # b differs from a on 10 examples only
    _, low, high = accuracy_diff_ci(a, b, labels)
    acc_a = accuracy_ci(a, labels)
    assert high - low < (acc_a.high - acc_a.low) / 3  # far tighter than one model's own interval


def test_paired_difference_errors():
    with pytest.raises(ValueError, match="shape"):
        accuracy_diff_ci([1, 1], [1], [1, 1])
    with pytest.raises(ValueError, match="at least one"):
        accuracy_diff_ci([], [], [])
    with pytest.raises(ValueError, match="confidence"):
        accuracy_diff_ci([1], [1], [1], confidence=2)
    assert accuracy_diff_ci([1], [0], [1]) == (1.0, -1.0, 1.0)


def test_perfect_score_interval_ends_at_one():
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(1 - 0.2775, abs=1e-4)

"""Accuracy with Wilson intervals, and paired differences between two models."""

import math

import numpy as np
import pytest

from edgehelpers.accuracy import Accuracy, accuracy_ci, accuracy_diff_ci, compare, design_effect, wilson_interval


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


def test_groups_of_singletons_change_nothing():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 500)
    pred = np.where(rng.random(500) < 0.8, labels, (labels + 1) % 3)
    plain, grouped = accuracy_ci(pred, labels), accuracy_ci(pred, labels, groups=np.arange(500))
    assert grouped.low == pytest.approx(plain.low) and grouped.high == pytest.approx(plain.high)
    assert grouped.n_eff == pytest.approx(500) and "effective n=500" in str(grouped)
    assert accuracy_diff_ci(pred, labels, labels) == pytest.approx(
        accuracy_diff_ci(pred, labels, labels, groups=np.arange(500)))


def test_copies_widen_the_interval_by_the_design_effect():
    # 100 distinct rows, each copied 5 times: 500 rows but only 100 independent outcomes
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 100)
    pred = np.where(rng.random(100) < 0.75, labels, 1 - labels)
    rep_labels, rep_pred, groups = np.repeat(labels, 5), np.repeat(pred, 5), np.repeat(np.arange(100), 5)
    hits = (rep_pred == rep_labels).astype(float)
    assert design_effect(hits, groups) == pytest.approx(5 * 499 / 495, rel=1e-6)  # 5 copies; CR1 and ddof factors
    naive = accuracy_ci(rep_pred, rep_labels)
    honest = accuracy_ci(rep_pred, rep_labels, groups=groups)
    distinct = accuracy_ci(pred, labels)
    assert honest.value == naive.value == distinct.value
    assert honest.high - honest.low > 2 * (naive.high - naive.low) * 0.9  # ~sqrt(5) wider
    assert honest.high - honest.low == pytest.approx(distinct.high - distinct.low, rel=0.05)
    _, lo_n, hi_n = accuracy_diff_ci(rep_pred, rep_labels, rep_labels)
    _, lo_g, hi_g = accuracy_diff_ci(rep_pred, rep_labels, rep_labels, groups=groups)
    assert hi_g - lo_g > 2 * (hi_n - lo_n)


def test_design_effect_errors_and_constant_values():
    assert design_effect(np.ones(10), np.arange(10)) == 1.0
    with pytest.raises(ValueError, match="one cluster id per row"):
        accuracy_ci([1, 1, 0], [1, 1, 1], groups=[0, 1])
    with pytest.raises(ValueError, match="at least two groups"):
        accuracy_ci([1, 0, 1], [1, 1, 1], groups=[7, 7, 7])


def _pair(n: int, a_only: int, b_only: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two prediction vectors: a right alone on a_only rows, b right alone on b_only."""
    labels = np.ones(n, dtype=int)
    a, b = labels.copy(), labels.copy()
    b[:a_only] = 0
    a[a_only : a_only + b_only] = 0
    return a, b, labels


def test_compare_verdicts():
    better = compare(*_pair(2000, 60, 10))
    assert better.better() and not better.worse() and better.verdict(0.01) == "better, beyond the noise"
    worse = compare(*_pair(2000, 10, 60))
    assert worse.worse() and not worse.no_worse_than(0.01) and worse.verdict(0.01) == "worse, beyond the noise"
    assert worse.no_worse_than(0.05) and worse.verdict(0.05).startswith("worse, but by at most 5 pt")
    tie = compare(*_pair(2000, 12, 12))  # diff 0, interval about ±0.5 pt
    assert tie.diff == 0 and not tie.better() and not tie.worse()
    assert tie.no_worse_than(0.01) and tie.equivalent(0.01) and "non-inferior" in tie.verdict(0.01)
    assert not tie.no_worse_than(0.002) and tie.verdict(0.002).startswith("inconclusive")
    # a small test set: the interval contains 0, yet nothing supports "no worse than 1 point"
    small = compare(*_pair(100, 3, 3))
    assert small.low < 0 < small.high and not small.no_worse_than(0.01)
    assert str(tie).startswith("+0.00 pt (95% CI -0.") and "n=2000" in str(tie)


def test_compare_margin_must_be_a_fraction():
    c = compare(*_pair(100, 1, 1))
    for bad in (0, 1, 2, -0.01):
        with pytest.raises(ValueError, match="fraction"):
            c.no_worse_than(bad)


def test_front_ties_names_leads_within_the_noise():
    from edgehelpers.accuracy import front_ties

    labels = np.ones(2000, dtype=int)
    fast = labels.copy()
    fast[:300] = 0  # 85.0%
    slower_tie = labels.copy()
    slower_tie[:298] = 0  # 85.1%: a lead of 2 rows is noise
    slowest_real = labels.copy()
    slowest_real[:150] = 0  # 92.5%: a real lead over both
    preds = {"fast": fast, "tie": slower_tie, "real": slowest_real}
    assert front_ties(["fast", "tie", "real"], preds, labels) == {"tie": "fast"}
    assert front_ties(["fast"], preds, labels) == {}
    with pytest.raises(ValueError, match="no predictions"):
        front_ties(["fast", "ghost"], preds, labels)


def test_collapse_reason_flags_dead_models_only():
    from edgehelpers.accuracy import collapse_reason

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, 1000)
    good = np.where(rng.random(1000) < 0.8, labels, (labels + 1) % 10)
    assert collapse_reason(good, labels) is None
    one_class = np.full(1000, 4)
    assert "predicts class 4 for 100%" in collapse_reason(one_class, labels)
    guessing = rng.integers(0, 10, 1000)  # spread over classes, but no skill
    assert "no better than always answering" in collapse_reason(guessing, labels)

"""Power-law fits in log-log space."""

import numpy as np
import pytest

from edgehelpers.fitting import PowerLaw, power_law_fit


def test_exact_power_law_is_recovered():
    x = np.array([128, 256, 512, 1024, 2048])
    fit = power_law_fit(x, 3.0 * x**2.0)
    assert fit.exponent == pytest.approx(2.0) and fit.coefficient == pytest.approx(3.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit(10) == pytest.approx(300.0) and isinstance(fit(10), float)
    np.testing.assert_allclose(fit([1, 2]), [3.0, 12.0])


def test_noisy_data_has_r2_below_one():
    x = np.arange(1, 20, dtype=float)
    y = 5 * x**1.5 * np.exp(np.random.default_rng(0).normal(0, 0.2, x.size))
    fit = power_law_fit(x, y)
    assert 1.2 < fit.exponent < 1.8 and 0.5 < fit.r2 < 1.0


def test_power_law_call_and_str():
    law = PowerLaw(exponent=-1.0, coefficient=8.0, r2=0.99)
    assert law(4) == 2.0
    assert "x^-1.00" in str(law)


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([1], [1], "at least 2"),
        ([2, 2], [1, 3], "at least 2"),
        ([0, 1], [1, 2], "positive"),
        ([1, 2], [1, -2], "positive"),
        ([1, 2, 3], [1, 2], "length"),
    ],
)
def test_bad_inputs(x, y, match):
    with pytest.raises(ValueError, match=match):
        power_law_fit(x, y)

"""Power-law fits, for how latency and memory scale with sequence length or size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x ** exponent, with the R² of the fit in log-log space."""

    exponent: float
    coefficient: float
    r2: float

    def __call__(self, x: float | Sequence[float] | np.ndarray) -> float | np.ndarray:
        """Predict y at x."""
        arr = np.asarray(x, dtype=float)
        y = self.coefficient * arr**self.exponent
        return float(y) if arr.ndim == 0 else y

    def __str__(self) -> str:
        return f"y = {self.coefficient:.3g} · x^{self.exponent:.2f}  (R² {self.r2:.3f})"


def power_law_fit(x: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """Fit y = c * x**k by least squares on log y against log x."""
    xs, ys = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xs.size != ys.size:
        raise ValueError(f"x and y differ in length ({xs.size} vs {ys.size})")
    if xs.size < 2 or np.unique(xs).size < 2:
        raise ValueError("a power-law fit needs at least 2 points with different x")
    if np.any(~np.isfinite(xs)) or np.any(~np.isfinite(ys)) or np.any(xs <= 0) or np.any(ys <= 0):
        raise ValueError("a power-law fit needs finite, positive x and y (it works on their logarithms)")
    lx, ly = np.log(xs), np.log(ys)
    k, log_c = np.polyfit(lx, ly, 1)
    residual = ly - (k * lx + log_c)
    total = ly - ly.mean()
    ss_tot = float(total @ total)
    r2 = 1.0 - float(residual @ residual) / ss_tot if ss_tot > 0 else 1.0
    return PowerLaw(exponent=float(k), coefficient=float(np.exp(log_c)), r2=r2)

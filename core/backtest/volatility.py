"""Causal realised volatility for volatility-target sizing."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def realized_volatility(close: np.ndarray, lookback: int, periods_per_year: float) -> np.ndarray:
    """Annualised sample volatility of log returns over the last ``lookback`` returns.

    Value ``i`` uses closes up to and including bar ``i`` only; NaN until ``lookback``
    returns exist.
    """
    n = close.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    total_sq = 0.0
    scale = math.sqrt(periods_per_year)
    for i in range(1, n):
        r = math.log(close[i] / close[i - 1])
        total += r
        total_sq += r * r
        if i > lookback:
            old = math.log(close[i - lookback] / close[i - lookback - 1])
            total -= old
            total_sq -= old * old
        if i >= lookback:
            mean = total / lookback
            var = (total_sq - lookback * mean * mean) / (lookback - 1)
            out[i] = math.sqrt(max(var, 0.0)) * scale
    return out

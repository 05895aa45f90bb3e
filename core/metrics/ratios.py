"""Risk-adjusted return ratios: Sharpe, Sortino and Calmar (365-day annualisation).

Returns are per-bar simple returns; NaN entries are skipped (see :mod:`core.metrics.returns`
for the shared input rules). A zero denominator gives ``nan``, never ``inf`` or an exception.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from core.metrics.drawdown import max_drawdown
from core.metrics.returns import _as_observations, _check_ppy, _sample_std, cagr


def sharpe_ratio(returns: ArrayLike, ppy: float, risk_free: float = 0.0) -> float:
    """Annualised Sharpe ratio ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(ppy)``.

    Args:
        returns: Per-bar simple returns (NaN entries are skipped).
        ppy: Periods per year, e.g. ``periods_per_year(timeframe_ms)``.
        risk_free: Risk-free rate **per bar** (same units as ``returns``), subtracted from
            every return.

    Returns:
        The Sharpe ratio; nan with fewer than two observations or zero variance (all-equal
        returns).
    """
    ppy = _check_ppy(ppy)
    excess = _as_observations(returns) - risk_free
    std = _sample_std(excess)
    if not std > 0:  # nan (too few observations) or exactly constant returns
        return math.nan
    return float(excess.mean() / std * math.sqrt(ppy))


def sortino_ratio(returns: ArrayLike, ppy: float, target: float = 0.0) -> float:
    """Annualised Sortino ratio ``mean(r - target) / downside_deviation * sqrt(ppy)``.

    The downside deviation is ``sqrt(mean(min(r - target, 0) ** 2))`` taken over **all**
    periods (periods above the target contribute zero), not only the losing ones.

    Args:
        returns: Per-bar simple returns (NaN entries are skipped).
        ppy: Periods per year.
        target: Minimum acceptable return per bar.

    Returns:
        The Sortino ratio; nan for empty input or when no period falls below the target (zero
        downside deviation).
    """
    ppy = _check_ppy(ppy)
    excess = _as_observations(returns) - target
    if len(excess) == 0:
        return math.nan
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    return float(excess.mean() / downside * math.sqrt(ppy))


def calmar_ratio(equity: ArrayLike, timeframe_ms: int) -> float:
    """Calmar ratio ``CAGR / |max drawdown|`` over the whole curve.

    Args:
        equity: Finite equity curve sampled once per bar.
        timeframe_ms: Bar length in milliseconds.

    Returns:
        The Calmar ratio; nan when the curve never draws down (zero denominator) or when CAGR
        or the drawdown is undefined.
    """
    growth = cagr(equity, timeframe_ms)
    depth = max_drawdown(equity)
    if math.isnan(growth) or math.isnan(depth) or depth == 0.0:
        return math.nan
    return float(growth / abs(depth))

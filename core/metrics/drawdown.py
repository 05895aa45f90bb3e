"""Drawdowns of an equity curve: the series, its depth and its longest duration.

The drawdown at bar i is ``equity[i] / max(equity[:i + 1]) - 1``: 0 at a new high, negative
below it. Equity must be finite (see :mod:`core.metrics.returns` for the shared input rules).
Where the running peak is not positive the drawdown is undefined and reported as NaN; equity
falling below zero after a positive peak gives a drawdown below -1 (a loss beyond the capital),
which is reported as is rather than clipped.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from core.metrics.returns import _as_equity


def drawdown_series(equity: ArrayLike) -> np.ndarray:
    """Return the drawdown of every bar relative to the running peak.

    Args:
        equity: Finite equity curve.

    Returns:
        Float64 array of the same length: 0 at a running high, negative below it, NaN where the
        running peak is <= 0.

    Raises:
        BacktestError: If the curve is not 1-D or not finite.
    """
    e = _as_equity(equity)
    if len(e) == 0:
        return np.empty(0, dtype=np.float64)
    peak = np.maximum.accumulate(e)
    out = np.full(len(e), np.nan)
    ok = peak > 0
    out[ok] = e[ok] / peak[ok] - 1.0
    return out


def max_drawdown(equity: ArrayLike) -> float:
    """Return the deepest drawdown as a negative fraction (or 0.0 if equity never fell).

    Example: equity ``[100, 110, 99, 120]`` has peaks ``[100, 110, 110, 120]`` and a maximum
    drawdown of ``99 / 110 - 1 = -0.1``.

    Args:
        equity: Finite equity curve.

    Returns:
        The most negative value of :func:`drawdown_series` (NaN bars skipped); nan for an empty
        curve or when no bar has a positive running peak.
    """
    dd = drawdown_series(equity)
    dd = dd[~np.isnan(dd)]
    if len(dd) == 0:
        return math.nan
    return float(min(dd.min(), 0.0))


def max_drawdown_duration(equity: ArrayLike) -> int:
    """Return the longest run of consecutive bars spent strictly below a previous peak.

    Counted in bars; a run still open at the end of the curve (not yet recovered) counts.
    Regaining the previous peak exactly ends a run. Example: ``[100, 110, 99, 120]`` spends one
    bar (the 99) below the peak 110, so the duration is 1.

    Args:
        equity: Finite equity curve.

    Returns:
        The duration in bars; 0 for an empty curve or one that never fell below a peak.
    """
    e = _as_equity(equity)
    if len(e) == 0:
        return 0
    below = (e < np.maximum.accumulate(e)).astype(np.int8)
    edges = np.diff(np.concatenate(([0], below, [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return 0
    return int((ends - starts).max())

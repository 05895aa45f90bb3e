"""Trade and activity statistics: hit rate, profit factor, average trade, turnover, exposure.

Trade statistics take an array of **net** trade PnLs (after fees and slippage), one entry per
closed trade, in any currency; NaN entries are skipped (see :mod:`core.metrics.returns`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from core.errors import BacktestError
from core.metrics.returns import _as_observations


def hit_rate(pnl: ArrayLike) -> float:
    """Fraction of trades with a strictly positive PnL (zero-PnL trades are not wins).

    Args:
        pnl: Net PnL of each closed trade.

    Returns:
        ``wins / trades`` in [0, 1]; nan with no trades.
    """
    x = _as_observations(pnl, "pnl")
    if len(x) == 0:
        return math.nan
    return float(np.count_nonzero(x > 0) / len(x))


def profit_factor(pnl: ArrayLike) -> float:
    """Gross profit divided by gross loss (absolute value).

    Args:
        pnl: Net PnL of each closed trade.

    Returns:
        ``sum(pnl > 0) / |sum(pnl < 0)|``; ``inf`` if there are winners but no losers; nan with
        no trades or when every trade has zero PnL.
    """
    x = _as_observations(pnl, "pnl")
    gross_profit = float(x[x > 0].sum())
    gross_loss = float(-x[x < 0].sum())
    if gross_loss == 0.0:
        return math.inf if gross_profit > 0 else math.nan
    return gross_profit / gross_loss


def average_trade(pnl: ArrayLike) -> float:
    """Mean net PnL per trade.

    Args:
        pnl: Net PnL of each closed trade.

    Returns:
        The mean; nan with no trades.
    """
    x = _as_observations(pnl, "pnl")
    if len(x) == 0:
        return math.nan
    return float(x.mean())


def turnover(traded_notional: ArrayLike, mean_equity: float, years: float) -> float:
    """Annualised turnover: traded notional / mean equity / years.

    Both sides count: buying the whole equity and selling it again is a turnover of 2.0 over
    the period. A turnover of 50 per year means the book traded fifty times its average equity
    in a year.

    Args:
        traded_notional: Total absolute notional traded (quote currency), either a scalar or an
            array of per-fill notionals (absolute values are summed, NaN entries skipped).
        mean_equity: Average equity over the period (same currency).
        years: Length of the period in 365-day years.

    Returns:
        The annualised turnover; nan if ``mean_equity`` or ``years`` is not positive.
    """
    notional = _as_observations(np.atleast_1d(traded_notional), "traded_notional")
    if not (mean_equity > 0 and years > 0):
        return math.nan
    return float(np.abs(notional).sum() / mean_equity / years)


def exposure(bars_in_market: int, n_bars: int) -> float:
    """Fraction of bars with an open position.

    Args:
        bars_in_market: Number of bars holding a non-zero position.
        n_bars: Total number of bars.

    Returns:
        ``bars_in_market / n_bars`` in [0, 1]; nan when ``n_bars`` is 0.

    Raises:
        BacktestError: If ``bars_in_market`` is negative or exceeds ``n_bars``.
    """
    if n_bars < 0 or not 0 <= bars_in_market <= max(n_bars, 0):
        raise BacktestError(
            f"exposure needs 0 <= bars_in_market <= n_bars, got {bars_in_market} of {n_bars}"
        )
    if n_bars == 0:
        return math.nan
    return float(bars_in_market / n_bars)

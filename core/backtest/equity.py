"""Rebuild the mark-to-market equity curve of a column from its fills.

The kernel does not write equity per bar; this replay applies funding and the cash and
position recorded after every fill in the kernel's own order of events, so the curve is
bit-for-bit what an eager loop would have produced.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.backtest.layout import O_BAR, O_CASH, O_POSITION


@njit(cache=True, nogil=True)
def replay_equity(open_: np.ndarray, close: np.ndarray, funding: np.ndarray,
                  orders: np.ndarray, initial_cash: float) -> np.ndarray:
    """Equity at every close of one column.

    Args:
        open_: Opening prices (funding is settled at the open).
        close: Closing prices (marks).
        funding: Funding rates per bar, or an empty array.
        orders: The column's order rows in time order (kernel layout, no column index).
        initial_cash: Starting cash.
    """
    n = close.shape[0]
    out = np.empty(n)
    has_funding = funding.shape[0] > 0
    cash = initial_cash
    pos = 0.0
    k = 0
    n_orders = orders.shape[0]
    for i in range(n):
        if has_funding and pos != 0.0 and funding[i] != 0.0:
            cash -= pos * open_[i] * funding[i]
        while k < n_orders and orders[k, O_BAR] == i:
            cash = orders[k, O_CASH]
            pos = orders[k, O_POSITION]
            k += 1
        out[i] = cash + pos * close[i] if pos != 0.0 else cash
    return out


@njit(cache=True, nogil=True)
def replay_sharpe(open_: np.ndarray, close: np.ndarray, funding: np.ndarray,
                  orders: np.ndarray, initial_cash: float, periods_per_year: float) -> float:
    """Annualised Sharpe ratio of the equity :func:`replay_equity` would build, in one pass.

    Equal to ``sharpe_ratio(simple_returns(replay_equity(...)), periods_per_year)`` (sample
    std, ddof=1; returns from non-positive equity skipped; NaN for fewer than 2 returns or
    zero variance) without materialising the
    curve. Mean and variance come from sums shifted by the first return (returns have a
    mean far below their spread, so there is no cancellation, and no division per bar).
    """
    n = close.shape[0]
    has_funding = funding.shape[0] > 0
    cash = initial_cash
    pos = 0.0
    k = 0
    n_orders = orders.shape[0]
    previous = 0.0
    count = 0
    shift = 0.0
    total = 0.0
    total_sq = 0.0
    for i in range(n):
        if has_funding and pos != 0.0 and funding[i] != 0.0:
            cash -= pos * open_[i] * funding[i]
        while k < n_orders and orders[k, O_BAR] == i:
            cash = orders[k, O_CASH]
            pos = orders[k, O_POSITION]
            k += 1
        equity = cash + pos * close[i] if pos != 0.0 else cash
        if i > 0 and previous > 0.0:  # a return from non-positive equity is undefined
            r = equity / previous - 1.0
            if count == 0:
                shift = r
            d = r - shift
            total += d
            total_sq += d * d
            count += 1
        previous = equity
    if count < 2:
        return np.nan
    var = (total_sq - total * total / count) / (count - 1)
    if not var > 0.0:
        return np.nan
    return (shift + total / count) / np.sqrt(var) * np.sqrt(periods_per_year)

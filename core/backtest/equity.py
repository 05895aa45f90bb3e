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

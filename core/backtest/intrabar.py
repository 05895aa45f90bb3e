"""What happens inside a bar while a position is open (numba).

Prices are assumed to move open -> low -> high -> close for a long and open -> high -> low ->
close for a short: the conservative order, in which a bar touching both levels hits the stop
first. A gap through a level fills at the open. The extremes reached while the position was
open feed the trade's MAE and MFE.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.backtest.layout import REASON_STOP_LOSS, REASON_TAKE_PROFIT

NO_EXIT = -1


@njit(cache=True, nogil=True)
def check_stops(long: bool, open_: np.ndarray, i: int, h: float, lo: float, sl_level: float,
                tp_level: float, use_sl: bool, use_tp: bool, trade_high: float,
                trade_low: float) -> tuple[int, float, float, float]:
    """Walk bar ``i`` for an open position; returns (exit reason or NO_EXIT, price, high, low).

    The price is the level hit, or the open when the bar gapped through it. The returned
    high/low are the trade's extremes over the part of the bar the position was open.
    """
    if long:
        if use_sl and lo <= sl_level:
            o = open_[i]
            price = min(o, sl_level)
            return REASON_STOP_LOSS, price, max(trade_high, o), min(trade_low, price)
        trade_low = min(trade_low, lo)
        if use_tp and h >= tp_level:
            price = max(open_[i], tp_level)
            return REASON_TAKE_PROFIT, price, max(trade_high, price), trade_low
        return NO_EXIT, 0.0, max(trade_high, h), trade_low
    if use_sl and h >= sl_level:
        o = open_[i]
        price = max(o, sl_level)
        return REASON_STOP_LOSS, price, max(trade_high, price), min(trade_low, o)
    trade_high = max(trade_high, h)
    if use_tp and lo <= tp_level:
        price = min(open_[i], tp_level)
        return REASON_TAKE_PROFIT, price, trade_high, min(trade_low, price)
    return NO_EXIT, 0.0, trade_high, min(trade_low, lo)


@njit(cache=True, nogil=True)
def scan_extremes(high: np.ndarray, low: np.ndarray, start: int, stop: int,
                  trade_high: float, trade_low: float) -> tuple[float, float]:
    """Extend the trade's extremes over whole bars ``[start, stop)`` (used without stops)."""
    for j in range(start, stop):
        if high[j] > trade_high:
            trade_high = high[j]
        if low[j] < trade_low:
            trade_low = low[j]
    return trade_high, trade_low

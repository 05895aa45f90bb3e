"""The bar scan of the equity breakers, compiled (numba): where does the next move happen?

:meth:`core.trading.breakers.EquityBreakers.advance` consumes bars until a breaker trips or
resets. Most calls see a few quiet bars (the trading loop observes the equity up to each
decision bar), where numpy's per-call overhead dominated; this kernel walks the bars once
with the same comparisons, term by term, and stops at the first bar where something moves.
That bar is then handled by the Python code that builds the trips and their messages.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

DAY_MS = 86_400_000

OK = 0
NOT_FINITE = 1
BACKWARDS = 2


@njit(cache=True, nogil=True)
def scan_breakers(ts: np.ndarray, equity: np.ndarray, start: int, last_ts: int,
                  has_last: bool, peak: float, day_peak: float, day: int, has_day: bool,
                  day_start: float, last_equity: float, reducing: bool, drawdown_halted: bool,
                  daily_halted: bool, cut_until: int, has_cut: bool, halt_mult: float,
                  has_halt: bool, reducing_mult: float, has_reducing: bool,
                  daily_loss_mult: float, has_daily_loss: bool, cut_mult: float,
                  has_daily_cut: bool, daily_loss_resets: bool
                  ) -> tuple[int, int, int, float, float, int, bool, float, float, int]:
    """Consume quiet bars from ``start``; stop before the first bar where a breaker moves.

    Returns:
        ``(k, error, error_row, peak, day_peak, day, has_day, day_start, last_equity,
        last_ts)``: ``k`` is the first bar where something moves (``len(ts)`` when nothing
        does), the state values are those after bars ``[start, k)`` (the day roll of bar
        ``k`` is not applied), ``error`` is :data:`NOT_FINITE` or :data:`BACKWARDS` at
        ``error_row`` for corrupt input (then nothing is consumed).
    """
    n = ts.shape[0]
    previous = last_ts
    for i in range(start, n):
        if not math.isfinite(equity[i]):
            return start, NOT_FINITE, i, peak, day_peak, day, has_day, day_start, \
                last_equity, last_ts
        if (has_last or i > start) and ts[i] <= previous:
            return start, BACKWARDS, i, peak, day_peak, day, has_day, day_start, \
                last_equity, last_ts
        previous = ts[i]
    for i in range(start, n):
        t = ts[i]
        e = equity[i]
        d = t // DAY_MS
        new_day_start, new_day_peak = day_start, day_peak
        if not has_day or d != day:
            if has_day and daily_halted and daily_loss_resets:
                return i, OK, -1, peak, day_peak, day, has_day, day_start, last_equity, \
                    last_ts
            new_day_start, new_day_peak = last_equity, last_equity
        peak_i = peak if peak >= e else e
        day_peak_i = new_day_peak if new_day_peak >= e else e
        moved = False
        if has_halt and not drawdown_halted and e <= peak_i * halt_mult:
            moved = True
        if has_reducing and not drawdown_halted and (e <= peak_i * reducing_mult) != reducing:
            moved = True
        if has_daily_loss and not daily_halted and e <= new_day_start * daily_loss_mult:
            moved = True
        if has_cut:
            if t >= cut_until:
                moved = True
        elif has_daily_cut and e <= day_peak_i * cut_mult:
            moved = True
        if moved:
            return i, OK, -1, peak, day_peak, day, has_day, day_start, last_equity, last_ts
        day, has_day, day_start = d, True, new_day_start
        peak, day_peak, last_equity, last_ts = peak_i, day_peak_i, e, t
    return n, OK, -1, peak, day_peak, day, has_day, day_start, last_equity, last_ts

"""Causal realised volatility for volatility-target sizing, in one batch or resumed bar by bar.

:func:`realized_volatility` (the backtester's) is :func:`realized_volatility_resume` started
from the empty state, so a caller that feeds the closes in pieces (the live order planner)
gets the very same numbers, bit for bit, as the backtester over the whole series.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def realized_volatility_resume(close: np.ndarray, tail: np.ndarray, seen: int, total: float,
                               total_sq: float, lookback: int, periods_per_year: float
                               ) -> tuple[np.ndarray, float, float]:
    """Continue :func:`realized_volatility` over new closes.

    Args:
        close: The new closes (global bars ``seen .. seen + len(close) - 1``).
        tail: The last ``min(seen, lookback + 1)`` closes before them.
        seen: Number of closes fed before.
        total: Running sum of the log returns in the window.
        total_sq: Running sum of their squares.
        lookback: Returns in the window.
        periods_per_year: Annualisation.

    Returns:
        ``(vol, total, total_sq)``: the volatility at each new bar (NaN until ``lookback``
        returns exist) and the running sums after them.
    """
    m = close.shape[0]
    k0 = tail.shape[0]
    ext = np.empty(k0 + m)
    ext[:k0] = tail
    ext[k0:] = close
    out = np.full(m, np.nan)
    scale = math.sqrt(periods_per_year)
    for k in range(k0, k0 + m):
        i = seen - k0 + k
        if i < 1:
            continue
        r = math.log(ext[k] / ext[k - 1])
        total += r
        total_sq += r * r
        if i > lookback:
            old = math.log(ext[k - lookback] / ext[k - lookback - 1])
            total -= old
            total_sq -= old * old
        if i >= lookback:
            mean = total / lookback
            var = (total_sq - lookback * mean * mean) / (lookback - 1)
            out[k - k0] = math.sqrt(max(var, 0.0)) * scale
    return out, total, total_sq


@njit(cache=True, nogil=True)
def realized_volatility(close: np.ndarray, lookback: int, periods_per_year: float) -> np.ndarray:
    """Annualised sample volatility of log returns over the last ``lookback`` returns.

    Value ``i`` uses closes up to and including bar ``i`` only; NaN until ``lookback``
    returns exist.
    """
    out, _, _ = realized_volatility_resume(close, np.empty(0), 0, 0.0, 0.0, lookback,
                                           periods_per_year)
    return out


class StreamingVolatility:
    """:func:`realized_volatility` of one series fed in pieces (state: sums and a short tail).

    Args:
        lookback: Returns in the window.
        periods_per_year: Annualisation.
    """

    __slots__ = ("lookback", "periods_per_year", "seen", "total", "total_sq", "tail", "last")

    def __init__(self, lookback: int, periods_per_year: float) -> None:
        self.lookback = int(lookback)
        self.periods_per_year = float(periods_per_year)
        self.seen = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.tail = np.empty(0)
        self.last = math.nan

    def update(self, close: np.ndarray) -> np.ndarray:
        """Feed the next closes; returns the volatility at each of them."""
        close = np.ascontiguousarray(close, dtype=np.float64)
        if close.shape[0] == 0:
            return np.empty(0)
        out, self.total, self.total_sq = realized_volatility_resume(
            close, self.tail, self.seen, self.total, self.total_sq, self.lookback,
            self.periods_per_year)
        self.seen += close.shape[0]
        keep = self.lookback + 1
        self.tail = np.concatenate((self.tail, close))[-keep:].copy()
        self.last = float(out[-1])
        return out

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

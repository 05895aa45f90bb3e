"""Cross-sectional kernels: per bar, across the symbols that are not NaN.

Kernels take symbol-major matrices ``(symbols, bars)`` (the transposed, C-contiguous view of
the evaluator's ``(bars, symbols)`` series), loop bars outer and symbols inner, and write
``out``. A bar's row is read into a small buffer before anything is written, so ``out`` may
be the same buffer as the input. NaN symbols are skipped (and stay NaN); ``m`` is the number
of the others. Means and deviations are taken around the bar's first non-NaN value, so a row
of equal values gives exactly 0 deviations.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.dsl.kernels.elementwise import UNARY

SORT_MIN_SYMBOLS = 24
"""Rows with more non-NaN symbols than this rank by sorting; smaller ones count pairs."""


@njit(cache=True, nogil=True)
def _sort_head(values: np.ndarray, m: int) -> None:
    """Sort ``values[:m]`` in place (Shell sort, Ciura's gaps: compact and quick to compile)."""
    for gap in (701, 301, 132, 57, 23, 10, 4, 1):
        for i in range(gap, m):
            v = values[i]
            k = i
            while k >= gap and values[k - gap] > v:
                values[k] = values[k - gap]
                k -= gap
            values[k] = v


@njit(cache=True, nogil=True)
def _bisect(values: np.ndarray, m: int, v: float, right: bool) -> int:
    """First index in sorted ``values[:m]`` holding a value > ``v`` (``right``) or >= ``v``."""
    lo = 0
    hi = m
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < v or (right and values[mid] == v):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(UNARY, cache=True, nogil=True)
def cs_rank(x: np.ndarray, out: np.ndarray) -> None:
    """Rank across symbols in [0, 1]: ``(#less + 0.5 * #equal others) / (m - 1)``.

    Ties get their average rank; a single symbol gets 0.5; NaN symbols stay NaN.
    """
    row = np.empty(x.shape[0])
    valid = np.empty(x.shape[0])
    for t in range(x.shape[1]):
        m = 0
        for j in range(x.shape[0]):
            v = x[j, t]
            row[j] = v
            if not math.isnan(v):
                valid[m] = v
                m += 1
        big = m > SORT_MIN_SYMBOLS
        if big:
            _sort_head(valid, m)
        for j in range(x.shape[0]):
            v = row[j]
            if math.isnan(v):
                out[j, t] = np.nan
            elif m == 1:
                out[j, t] = 0.5
            else:
                if big:
                    less = _bisect(valid, m, v, False)
                    upto = _bisect(valid, m, v, True)
                else:
                    less = 0
                    upto = 0
                    for i in range(m):
                        less += valid[i] < v
                        upto += valid[i] <= v
                out[j, t] = (less + 0.5 * (upto - less - 1)) / (m - 1)


@njit(cache=True, nogil=True)
def _centre(x: np.ndarray, t: int, row: np.ndarray) -> tuple[int, float, float, bool]:
    """Copy bar ``t`` into ``row``; return (m, shift, mean - shift, all values equal)."""
    m = 0
    shift = 0.0
    equal = True
    for j in range(x.shape[0]):
        v = x[j, t]
        row[j] = v
        if not math.isnan(v):
            if m == 0 and math.isfinite(v):
                shift = v
            equal = equal and v == shift
            m += 1
    total = 0.0
    for j in range(x.shape[0]):
        if not math.isnan(row[j]):
            total += row[j] - shift
    return m, shift, total / max(m, 1), equal


@njit(UNARY, cache=True, nogil=True)
def cs_demean(x: np.ndarray, out: np.ndarray) -> None:
    """``a`` minus the mean of the bar's non-NaN symbols."""
    row = np.empty(x.shape[0])
    for t in range(x.shape[1]):
        _, shift, mean, _ = _centre(x, t, row)
        for j in range(x.shape[0]):
            out[j, t] = (row[j] - shift) - mean


@njit(UNARY, cache=True, nogil=True)
def cs_zscore(x: np.ndarray, out: np.ndarray) -> None:
    """``(a - mean) / std`` across non-NaN symbols, population std (ddof 0).

    0 where the std is 0 (all values equal) or fewer than 2 symbols are present.
    """
    row = np.empty(x.shape[0])
    for t in range(x.shape[1]):
        m, shift, mean, equal = _centre(x, t, row)
        squares = 0.0
        for j in range(x.shape[0]):
            if not math.isnan(row[j]):
                d = (row[j] - shift) - mean
                squares += d * d
        std = math.sqrt(squares / max(m, 1))
        flat = m < 2 or equal or std == 0.0
        for j in range(x.shape[0]):
            v = row[j]
            if math.isnan(v):
                out[j, t] = np.nan
            elif flat:
                out[j, t] = 0.0
            else:
                out[j, t] = ((v - shift) - mean) / std

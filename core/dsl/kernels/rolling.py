"""Rolling-window kernels: sums, moments, correlation, linear decay, EMA, delay and delta.

Kernels take symbol-major matrices ``(symbols, bars)`` (the transposed, C-contiguous view of
the evaluator's ``(bars, symbols)`` series), loop symbols outer and bars inner, and write
``out``, which must not share memory with an input. Window ``w`` covers bars ``t-w+1 .. t``;
the output is NaN until the window is full and wherever it holds a NaN (NaN inputs may sit
anywhere, not only in the warm-up).

Everything is O(bars), whatever ``w``. Running sums are compensated (error-free
``two_sum``), so adding a value and later removing it cancels exactly and nothing drifts
with the series' length. Moments are accumulated around a shift ``c`` (``x - c``) and
re-centred from the window (O(w)) as soon as the accumulated squares exceed
``RECENTRE_RATIO`` times the centred ones, which bounds cancellation to about
``RECENTRE_RATIO * 2**-53`` relative: prices near 1e5 with tiny variance stay accurate. A
window whose values are all equal (a run of ``w`` equal inputs) has a standard deviation of
exactly 0. State evolves bar by bar, so the value at bar ``t`` is bit-identical whether the
series ends at ``t`` or later (causality).

Resumable form. Each loop-state kernel ``f`` has a twin ``f_from(x, off, t0, ..., fs, ist,
out)`` that continues a run: ``x`` holds a tail of ``off`` already-seen bars (at least
``min(w, t0)``) followed by the new bars, ``t0`` is the number of bars seen before, ``fs`` /
``ist`` are the per-symbol float / int loop state (updated in place) and ``out`` receives the
new bars only. Both are one body (``_f_core``, inlined into each): ``f`` is it started from
the zero state (``off = t0 = 0``, which the compiler folds, so the batch path is as fast as
before), so a stream of steps gives the batch result bit for bit by construction.

Non-finite inputs: ``±inf`` gives ``±inf`` sums, means and linear decays (NaN when both
signs are present) and NaN moments; the EMA restarts (re-seeds) after a NaN.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from core.dsl.kernels.elementwise import B1, I8, OUT, SERIES

RECENTRE_RATIO = 65536.0
"""Largest accepted ratio of accumulated squares to centred squares before re-centring."""

SUM_STATE = (2, 3)
"""(floats, ints) carried per symbol by :func:`window_sum_from`."""
STD_STATE = (5, 2)
"""(floats, ints) carried per symbol by :func:`std_zscore_from`."""
COV_STATE = (12, 3)
"""(floats, ints) carried per symbol by :func:`cov_corr_from`."""
DECAY_STATE = (4, 3)
"""(floats, ints) carried per symbol by :func:`decay_linear_from`."""
EMA_STATE = (1, 1)
"""(floats, ints) carried per symbol by :func:`ema_from`."""

F2 = types.Array(types.float64, 2, "C")
I2 = types.Array(types.int64, 2, "C")

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp split into two halves of <= 27 bits
_SPLIT_MAX = 1e290


@njit(cache=True, nogil=True)
def _acc(hi: float, lo: float, v: float) -> tuple[float, float]:
    """Add ``v`` to the compensated sum ``hi + lo`` (error-free two_sum into ``lo``)."""
    s = hi + v
    z = s - hi
    return s, lo + ((hi - (s - z)) + (v - z))


@njit(cache=True, nogil=True)
def _tally(v: float, sgn: int, nan: int, pos: int, neg: int) -> tuple[int, int, int]:
    """Count a non-finite ``v`` entering (``sgn`` 1) or leaving (-1) the window."""
    if v > 0.0:
        return nan, pos + sgn, neg
    if v < 0.0:
        return nan, pos, neg + sgn
    return nan + sgn, pos, neg


@njit(cache=True, nogil=True)
def _finish(nan: int, pos: int, neg: int, total: float, scale: float) -> float:
    if nan > 0 or (pos > 0 and neg > 0):
        return np.nan
    if pos > 0:
        return np.inf
    if neg > 0:
        return -np.inf
    return total * scale


@njit(inline="always", cache=True, nogil=True)
def _window_sum_core(x: np.ndarray, off: int, t0: int, w: int, mean: bool, fs: np.ndarray,
                     ist: np.ndarray, out: np.ndarray) -> None:
    scale = 1.0 / w if mean else 1.0
    for j in range(x.shape[0]):
        hi, lo = fs[j, 0], fs[j, 1]
        nan, pos, neg = ist[j, 0], ist[j, 1], ist[j, 2]
        for c in range(off, x.shape[1]):
            t = t0 + c - off
            v = x[j, c]
            if math.isfinite(v):
                hi, lo = _acc(hi, lo, v)
            else:
                nan, pos, neg = _tally(v, 1, nan, pos, neg)
            if t >= w:
                v = x[j, c - w]
                if math.isfinite(v):
                    hi, lo = _acc(hi, lo, -v)
                else:
                    nan, pos, neg = _tally(v, -1, nan, pos, neg)
            out[j, c - off] = np.nan if t < w - 1 else _finish(nan, pos, neg, hi + lo, scale)
        fs[j, 0], fs[j, 1] = hi, lo
        ist[j, 0], ist[j, 1], ist[j, 2] = nan, pos, neg


@njit(types.void(SERIES, I8, I8, I8, B1, F2, I2, OUT), cache=True, nogil=True)
def window_sum_from(x: np.ndarray, off: int, t0: int, w: int, mean: bool, fs: np.ndarray,
                    ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`window_sum`: state ``fs`` = (hi, lo), ``ist`` = (nan, pos, neg)."""
    _window_sum_core(x, off, t0, w, mean, fs, ist, out)


@njit(types.void(SERIES, I8, B1, OUT), cache=True, nogil=True)
def window_sum(x: np.ndarray, w: int, mean: bool, out: np.ndarray) -> None:
    """Sum of the last ``w`` bars, or their mean (``mean``)."""
    k = x.shape[0]
    _window_sum_core(x, 0, 0, w, mean, np.zeros((k, SUM_STATE[0])),
                    np.zeros((k, SUM_STATE[1]), np.int64), out)


@njit(inline="always", cache=True, nogil=True)
def _std_zscore_core(x: np.ndarray, off: int, t0: int, w: int, zscore: bool, fs: np.ndarray,
                     ist: np.ndarray, out: np.ndarray) -> None:
    inv_w = 1.0 / w
    inv_dof = 1.0 / (w - 1)
    for j in range(x.shape[0]):
        c, ah, al, bh, bl = fs[j, 0], fs[j, 1], fs[j, 2], fs[j, 3], fs[j, 4]
        bad, run = ist[j, 0], ist[j, 1]
        prev = x[j, off - 1] if off > 0 else np.nan
        for col in range(off, x.shape[1]):
            t = t0 + col - off
            u = x[j, col]
            run = run + 1 if u == prev else 1
            prev = u
            if math.isfinite(u):
                p = u - c
                ah, al = _acc(ah, al, p)
                bh, bl = _acc(bh, bl, p * p)
            else:
                bad += 1
            if t >= w:
                p = x[j, col - w] - c
                if math.isfinite(x[j, col - w]):
                    ah, al = _acc(ah, al, -p)
                    bh, bl = _acc(bh, bl, -(p * p))
                else:
                    bad -= 1
            if t < w - 1 or bad > 0:
                out[j, col - off] = np.nan
                continue
            if run >= w:
                out[j, col - off] = 0.0
                continue
            a = ah + al
            d = (bh - a * a * inv_w) + bl
            if not bh <= RECENTRE_RATIO * d:
                c = u
                ah = al = bh = bl = 0.0
                for k in range(col - w + 1, col + 1):
                    p = x[j, k] - c
                    ah, al = _acc(ah, al, p)
                    bh, bl = _acc(bh, bl, p * p)
                a = ah + al
                d = (bh - a * a * inv_w) + bl
            if d <= 0.0:
                out[j, col - off] = 0.0
            elif zscore:
                out[j, col - off] = ((u - c) - a * inv_w) / math.sqrt(d * inv_dof)
            else:
                out[j, col - off] = math.sqrt(d * inv_dof)
        fs[j, 0], fs[j, 1], fs[j, 2], fs[j, 3], fs[j, 4] = c, ah, al, bh, bl
        ist[j, 0], ist[j, 1] = bad, run


@njit(types.void(SERIES, I8, I8, I8, B1, F2, I2, OUT), cache=True, nogil=True)
def std_zscore_from(x: np.ndarray, off: int, t0: int, w: int, zscore: bool, fs: np.ndarray,
                    ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`std_zscore`: ``fs`` = (c, ah, al, bh, bl), ``ist`` = (bad, run)."""
    _std_zscore_core(x, off, t0, w, zscore, fs, ist, out)


@njit(types.void(SERIES, I8, B1, OUT), cache=True, nogil=True)
def std_zscore(x: np.ndarray, w: int, zscore: bool, out: np.ndarray) -> None:
    """Sample standard deviation of the last ``w`` bars, or the current bar's z-score.

    With ``zscore``, ``(x_t - mean) / std`` over the window, 0 where the std is 0.
    """
    k = x.shape[0]
    _std_zscore_core(x, 0, 0, w, zscore, np.zeros((k, STD_STATE[0])),
                    np.zeros((k, STD_STATE[1]), np.int64), out)


@njit(cache=True, nogil=True)
def _acc_pair(acc: tuple, p: float, q: float, sgn: float) -> tuple:
    """Add ``sgn *`` (p, q, p*p, q*q, p*q) to the five compensated sums in ``acc``."""
    axh, axl, ayh, ayl, bxh, bxl, byh, byl, bch, bcl = acc
    axh, axl = _acc(axh, axl, sgn * p)
    ayh, ayl = _acc(ayh, ayl, sgn * q)
    bxh, bxl = _acc(bxh, bxl, sgn * (p * p))
    byh, byl = _acc(byh, byl, sgn * (q * q))
    bch, bcl = _acc(bch, bcl, sgn * (p * q))
    return axh, axl, ayh, ayl, bxh, bxl, byh, byl, bch, bcl


@njit(inline="always", cache=True, nogil=True)
def _cov_corr_core(x: np.ndarray, y: np.ndarray, off: int, t0: int, w: int, corr: bool,
                   fs: np.ndarray, ist: np.ndarray, out: np.ndarray) -> None:
    inv_w = 1.0 / w
    zero = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(x.shape[0]):
        cx, cy = fs[j, 0], fs[j, 1]
        acc = (fs[j, 2], fs[j, 3], fs[j, 4], fs[j, 5], fs[j, 6], fs[j, 7], fs[j, 8], fs[j, 9],
               fs[j, 10], fs[j, 11])
        bad, run_x, run_y = ist[j, 0], ist[j, 1], ist[j, 2]
        prev_x = x[j, off - 1] if off > 0 else np.nan
        prev_y = y[j, off - 1] if off > 0 else np.nan
        for col in range(off, x.shape[1]):
            t = t0 + col - off
            u = x[j, col]
            v = y[j, col]
            run_x = run_x + 1 if u == prev_x else 1
            run_y = run_y + 1 if v == prev_y else 1
            prev_x, prev_y = u, v
            if math.isfinite(u) and math.isfinite(v):
                acc = _acc_pair(acc, u - cx, v - cy, 1.0)
            else:
                bad += 1
            if t >= w:
                if math.isfinite(x[j, col - w]) and math.isfinite(y[j, col - w]):
                    acc = _acc_pair(acc, x[j, col - w] - cx, y[j, col - w] - cy, -1.0)
                else:
                    bad -= 1
            if t < w - 1 or bad > 0:
                out[j, col - off] = np.nan
                continue
            if run_x >= w or run_y >= w:
                out[j, col - off] = 0.0
                continue
            ax, ay = acc[0] + acc[1], acc[2] + acc[3]
            dxx = (acc[4] - ax * ax * inv_w) + acc[5]
            dyy = (acc[6] - ay * ay * inv_w) + acc[7]
            if not (acc[4] <= RECENTRE_RATIO * dxx and acc[6] <= RECENTRE_RATIO * dyy):
                cx, cy = u, v
                acc = zero
                for k in range(col - w + 1, col + 1):
                    acc = _acc_pair(acc, x[j, k] - cx, y[j, k] - cy, 1.0)
                ax, ay = acc[0] + acc[1], acc[2] + acc[3]
                dxx = (acc[4] - ax * ax * inv_w) + acc[5]
                dyy = (acc[6] - ay * ay * inv_w) + acc[7]
            dxy = (acc[8] - ax * ay * inv_w) + acc[9]
            if not corr:
                out[j, col - off] = dxy / (w - 1)
            elif dxx <= 0.0 or dyy <= 0.0:
                out[j, col - off] = 0.0
            else:
                r = dxy / (math.sqrt(dxx) * math.sqrt(dyy))
                out[j, col - off] = min(max(r, -1.0), 1.0)
        fs[j, 0], fs[j, 1] = cx, cy
        for i in range(10):
            fs[j, 2 + i] = acc[i]
        ist[j, 0], ist[j, 1], ist[j, 2] = bad, run_x, run_y


@njit(types.void(SERIES, SERIES, I8, I8, I8, B1, F2, I2, OUT), cache=True, nogil=True)
def cov_corr_from(x: np.ndarray, y: np.ndarray, off: int, t0: int, w: int, corr: bool,
                  fs: np.ndarray, ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`cov_corr`: ``fs`` = (cx, cy, 10 sums), ``ist`` = (bad, run_x, run_y)."""
    _cov_corr_core(x, y, off, t0, w, corr, fs, ist, out)


@njit(types.void(SERIES, SERIES, I8, B1, OUT), cache=True, nogil=True)
def cov_corr(x: np.ndarray, y: np.ndarray, w: int, corr: bool, out: np.ndarray) -> None:
    """Sample covariance of ``x`` and ``y`` over the last ``w`` bars, or their correlation.

    With ``corr``, Pearson's correlation, 0 where either is constant, clamped to [-1, 1].
    """
    k = x.shape[0]
    _cov_corr_core(x, y, 0, 0, w, corr, np.zeros((k, COV_STATE[0])),
                  np.zeros((k, COV_STATE[1]), np.int64), out)


@njit(inline="always", cache=True, nogil=True)
def _decay_linear_core(x: np.ndarray, off: int, t0: int, w: int, fs: np.ndarray,
                       ist: np.ndarray, out: np.ndarray) -> None:
    scale = 2.0 / (w * (w + 1.0))
    for j in range(x.shape[0]):
        sh, sl, wh, wl = fs[j, 0], fs[j, 1], fs[j, 2], fs[j, 3]
        nan, pos, neg = ist[j, 0], ist[j, 1], ist[j, 2]
        for c in range(off, x.shape[1]):
            t = t0 + c - off
            wh, wl = _acc(wh, wl - sl, -sh)
            v = x[j, c]
            if math.isfinite(v):
                sh, sl = _acc(sh, sl, v)
                if abs(v) < _SPLIT_MAX:
                    head = _SPLIT * v - (_SPLIT * v - v)
                    wh, wl = _acc(wh, wl, w * head)
                    wh, wl = _acc(wh, wl, w * (v - head))
                else:
                    wh, wl = _acc(wh, wl, w * v)
            else:
                nan, pos, neg = _tally(v, 1, nan, pos, neg)
            if t >= w:
                v = x[j, c - w]
                if math.isfinite(v):
                    sh, sl = _acc(sh, sl, -v)
                else:
                    nan, pos, neg = _tally(v, -1, nan, pos, neg)
            out[j, c - off] = np.nan if t < w - 1 else _finish(nan, pos, neg, wh + wl, scale)
        fs[j, 0], fs[j, 1], fs[j, 2], fs[j, 3] = sh, sl, wh, wl
        ist[j, 0], ist[j, 1], ist[j, 2] = nan, pos, neg


@njit(types.void(SERIES, I8, I8, I8, F2, I2, OUT), cache=True, nogil=True)
def decay_linear_from(x: np.ndarray, off: int, t0: int, w: int, fs: np.ndarray,
                      ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`decay_linear`: ``fs`` = (sh, sl, wh, wl), ``ist`` = (nan, pos, neg)."""
    _decay_linear_core(x, off, t0, w, fs, ist, out)


@njit(types.void(SERIES, I8, OUT), cache=True, nogil=True)
def decay_linear(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """Weighted mean of the last ``w`` bars with weights ``w .. 1`` (newest heaviest).

    Runs ``W_t = W_{t-1} - S_{t-1} + w * x_t`` with the window sum ``S``; ``w * x_t`` is added
    exactly (Veltkamp split), so the weighted sum carries no rounding from bar to bar.
    """
    k = x.shape[0]
    _decay_linear_core(x, 0, 0, w, np.zeros((k, DECAY_STATE[0])),
                      np.zeros((k, DECAY_STATE[1]), np.int64), out)


@njit(inline="always", cache=True, nogil=True)
def _ema_core(x: np.ndarray, off: int, t0: int, w: int, fs: np.ndarray, ist: np.ndarray,
              out: np.ndarray) -> None:
    alpha = 2.0 / (w + 1.0)
    beta = 1.0 - alpha
    for j in range(x.shape[0]):
        run = ist[j, 0]
        level = fs[j, 0]
        for c in range(off, x.shape[1]):
            v = x[j, c]
            run = 0 if math.isnan(v) else run + 1
            if run < w:
                out[j, c - off] = np.nan
                continue
            if run == w:
                total = 0.0
                for k in range(c - w + 1, c + 1):
                    total += x[j, k]
                level = total / w
            else:
                level = alpha * v + beta * level
            if math.isnan(level):
                run = 0
            out[j, c - off] = level
        fs[j, 0] = level
        ist[j, 0] = run


@njit(types.void(SERIES, I8, I8, I8, F2, I2, OUT), cache=True, nogil=True)
def ema_from(x: np.ndarray, off: int, t0: int, w: int, fs: np.ndarray, ist: np.ndarray,
             out: np.ndarray) -> None:
    """Resumable :func:`ema`: ``fs`` = (level,), ``ist`` = (run,)."""
    _ema_core(x, off, t0, w, fs, ist, out)


@njit(types.void(SERIES, I8, OUT), cache=True, nogil=True)
def ema(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """Exponential average, ``alpha = 2 / (w + 1)``: ``e_t = alpha * x_t + (1 - alpha) * e_{t-1}``.

    Seeded with the mean of the first ``w`` values, NaN before; a NaN input (or a NaN
    average, from infinities) restarts it: NaN until ``w`` non-NaN inputs again, re-seeded.
    """
    k = x.shape[0]
    _ema_core(x, 0, 0, w, np.zeros((k, EMA_STATE[0])), np.zeros((k, EMA_STATE[1]), np.int64),
             out)


@njit(types.void(SERIES, I8, B1, OUT), cache=True, nogil=True)
def lag(x: np.ndarray, w: int, difference: bool, out: np.ndarray) -> None:
    """``delay``: ``x`` from ``w`` bars ago, or ``delta`` (``difference``): ``x`` minus it.

    NaN for the first ``w`` bars.
    """
    for j in range(x.shape[0]):  # one select per bar: vectorises better than split loops
        if difference:
            for t in range(x.shape[1]):
                out[j, t] = x[j, t] - x[j, t - w] if t >= w else np.nan
        else:
            for t in range(x.shape[1]):
                out[j, t] = x[j, t - w] if t >= w else np.nan

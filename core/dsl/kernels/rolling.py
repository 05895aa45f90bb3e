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


@njit(types.void(SERIES, I8, B1, OUT), cache=True, nogil=True)
def window_sum(x: np.ndarray, w: int, mean: bool, out: np.ndarray) -> None:
    """Sum of the last ``w`` bars, or their mean (``mean``)."""
    scale = 1.0 / w if mean else 1.0
    for j in range(x.shape[0]):
        hi = lo = 0.0
        nan = pos = neg = 0
        for t in range(x.shape[1]):
            v = x[j, t]
            if math.isfinite(v):
                hi, lo = _acc(hi, lo, v)
            else:
                nan, pos, neg = _tally(v, 1, nan, pos, neg)
            if t >= w:
                v = x[j, t - w]
                if math.isfinite(v):
                    hi, lo = _acc(hi, lo, -v)
                else:
                    nan, pos, neg = _tally(v, -1, nan, pos, neg)
            out[j, t] = np.nan if t < w - 1 else _finish(nan, pos, neg, hi + lo, scale)


@njit(types.void(SERIES, I8, B1, OUT), cache=True, nogil=True)
def std_zscore(x: np.ndarray, w: int, zscore: bool, out: np.ndarray) -> None:
    """Sample standard deviation of the last ``w`` bars, or the current bar's z-score.

    With ``zscore``, ``(x_t - mean) / std`` over the window, 0 where the std is 0.
    """
    inv_w = 1.0 / w
    inv_dof = 1.0 / (w - 1)
    for j in range(x.shape[0]):
        c = ah = al = bh = bl = 0.0
        bad = run = 0
        prev = np.nan
        for t in range(x.shape[1]):
            u = x[j, t]
            run = run + 1 if u == prev else 1
            prev = u
            if math.isfinite(u):
                p = u - c
                ah, al = _acc(ah, al, p)
                bh, bl = _acc(bh, bl, p * p)
            else:
                bad += 1
            if t >= w:
                p = x[j, t - w] - c
                if math.isfinite(x[j, t - w]):
                    ah, al = _acc(ah, al, -p)
                    bh, bl = _acc(bh, bl, -(p * p))
                else:
                    bad -= 1
            if t < w - 1 or bad > 0:
                out[j, t] = np.nan
                continue
            if run >= w:
                out[j, t] = 0.0
                continue
            a = ah + al
            d = (bh - a * a * inv_w) + bl
            if not bh <= RECENTRE_RATIO * d:
                c = u
                ah = al = bh = bl = 0.0
                for k in range(t - w + 1, t + 1):
                    p = x[j, k] - c
                    ah, al = _acc(ah, al, p)
                    bh, bl = _acc(bh, bl, p * p)
                a = ah + al
                d = (bh - a * a * inv_w) + bl
            if d <= 0.0:
                out[j, t] = 0.0
            elif zscore:
                out[j, t] = ((u - c) - a * inv_w) / math.sqrt(d * inv_dof)
            else:
                out[j, t] = math.sqrt(d * inv_dof)


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


@njit(types.void(SERIES, SERIES, I8, B1, OUT), cache=True, nogil=True)
def cov_corr(x: np.ndarray, y: np.ndarray, w: int, corr: bool, out: np.ndarray) -> None:
    """Sample covariance of ``x`` and ``y`` over the last ``w`` bars, or their correlation.

    With ``corr``, Pearson's correlation, 0 where either is constant, clamped to [-1, 1].
    """
    inv_w = 1.0 / w
    zero = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(x.shape[0]):
        cx = cy = 0.0
        acc = zero
        bad = run_x = run_y = 0
        prev_x = prev_y = np.nan
        for t in range(x.shape[1]):
            u = x[j, t]
            v = y[j, t]
            run_x = run_x + 1 if u == prev_x else 1
            run_y = run_y + 1 if v == prev_y else 1
            prev_x, prev_y = u, v
            if math.isfinite(u) and math.isfinite(v):
                acc = _acc_pair(acc, u - cx, v - cy, 1.0)
            else:
                bad += 1
            if t >= w:
                if math.isfinite(x[j, t - w]) and math.isfinite(y[j, t - w]):
                    acc = _acc_pair(acc, x[j, t - w] - cx, y[j, t - w] - cy, -1.0)
                else:
                    bad -= 1
            if t < w - 1 or bad > 0:
                out[j, t] = np.nan
                continue
            if run_x >= w or run_y >= w:
                out[j, t] = 0.0
                continue
            ax, ay = acc[0] + acc[1], acc[2] + acc[3]
            dxx = (acc[4] - ax * ax * inv_w) + acc[5]
            dyy = (acc[6] - ay * ay * inv_w) + acc[7]
            if not (acc[4] <= RECENTRE_RATIO * dxx and acc[6] <= RECENTRE_RATIO * dyy):
                cx, cy = u, v
                acc = zero
                for k in range(t - w + 1, t + 1):
                    acc = _acc_pair(acc, x[j, k] - cx, y[j, k] - cy, 1.0)
                ax, ay = acc[0] + acc[1], acc[2] + acc[3]
                dxx = (acc[4] - ax * ax * inv_w) + acc[5]
                dyy = (acc[6] - ay * ay * inv_w) + acc[7]
            dxy = (acc[8] - ax * ay * inv_w) + acc[9]
            if not corr:
                out[j, t] = dxy / (w - 1)
            elif dxx <= 0.0 or dyy <= 0.0:
                out[j, t] = 0.0
            else:
                r = dxy / (math.sqrt(dxx) * math.sqrt(dyy))
                out[j, t] = min(max(r, -1.0), 1.0)


@njit(types.void(SERIES, I8, OUT), cache=True, nogil=True)
def decay_linear(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """Weighted mean of the last ``w`` bars with weights ``w .. 1`` (newest heaviest).

    Runs ``W_t = W_{t-1} - S_{t-1} + w * x_t`` with the window sum ``S``; ``w * x_t`` is added
    exactly (Veltkamp split), so the weighted sum carries no rounding from bar to bar.
    """
    scale = 2.0 / (w * (w + 1.0))
    for j in range(x.shape[0]):
        sh = sl = wh = wl = 0.0
        nan = pos = neg = 0
        for t in range(x.shape[1]):
            wh, wl = _acc(wh, wl - sl, -sh)
            v = x[j, t]
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
                v = x[j, t - w]
                if math.isfinite(v):
                    sh, sl = _acc(sh, sl, -v)
                else:
                    nan, pos, neg = _tally(v, -1, nan, pos, neg)
            out[j, t] = np.nan if t < w - 1 else _finish(nan, pos, neg, wh + wl, scale)


@njit(types.void(SERIES, I8, OUT), cache=True, nogil=True)
def ema(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """Exponential average, ``alpha = 2 / (w + 1)``: ``e_t = alpha * x_t + (1 - alpha) * e_{t-1}``.

    Seeded with the mean of the first ``w`` values, NaN before; a NaN input (or a NaN
    average, from infinities) restarts it: NaN until ``w`` non-NaN inputs again, re-seeded.
    """
    alpha = 2.0 / (w + 1.0)
    beta = 1.0 - alpha
    for j in range(x.shape[0]):
        run = 0
        level = 0.0
        for t in range(x.shape[1]):
            v = x[j, t]
            run = 0 if math.isnan(v) else run + 1
            if run < w:
                out[j, t] = np.nan
                continue
            if run == w:
                total = 0.0
                for k in range(t - w + 1, t + 1):
                    total += x[j, k]
                level = total / w
            else:
                level = alpha * v + beta * level
            if math.isnan(level):
                run = 0
            out[j, t] = level


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

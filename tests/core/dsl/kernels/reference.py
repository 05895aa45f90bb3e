"""Slow, independent references for every kernel: plain per-window / per-row numpy loops.

Each takes and returns ``(bars, symbols)`` matrices. Moments are computed two-pass in
extended precision (``np.longdouble``) so the reference is more accurate than the kernels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LD = np.longdouble


def centred(a: np.ndarray) -> np.ndarray:
    """``a - a[0]`` in extended precision (exact for doubles of similar size)."""
    shift = a[0] if np.isfinite(a[0]) else 0.0
    return a.astype(LD) - LD(shift)


def _windows(fn, x: np.ndarray, w: int, *others: np.ndarray) -> np.ndarray:
    """Apply ``fn(window, *other_windows)`` to every full window; NaN before."""
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        for t in range(w - 1, x.shape[0]):
            out[t, j] = fn(x[t - w + 1: t + 1, j], *[o[t - w + 1: t + 1, j] for o in others])
    return out


def _any_nan(*wins: np.ndarray) -> bool:
    return any(np.isnan(win).any() for win in wins)


def _any_non_finite(*wins: np.ndarray) -> bool:
    return any(not np.isfinite(win).all() for win in wins)


def delay(x, w):
    out = np.full(x.shape, np.nan)
    out[w:] = x[:-w] if w < len(x) else out[w:]
    return out


def delta(x, w):
    return x - delay(x, w)


def ts_sum(x, w):
    return _windows(lambda a: float(np.sum(a.astype(LD))), x, w)


def ts_mean(x, w):
    return _windows(lambda a: float(np.mean(a.astype(LD))), x, w)


def _std(a):
    if a.max() == a.min():
        return LD(0)
    return np.std(centred(a), ddof=1)


def ts_std(x, w):
    return _windows(lambda a: np.nan if _any_non_finite(a) else float(_std(a)), x, w)


def ts_zscore(x, w):
    def z(a):
        if _any_non_finite(a):
            return np.nan
        s = _std(a)
        c = centred(a)
        return 0.0 if s == 0 else float((c[-1] - np.mean(c)) / s)
    return _windows(z, x, w)


def _cov(a, b):
    a, b = centred(a), centred(b)
    return np.sum((a - a.mean()) * (b - b.mean())) / (len(a) - 1)


def ts_cov(x, y, w):
    def c(a, b):
        if _any_non_finite(a, b):
            return np.nan
        if a.max() == a.min() or b.max() == b.min():
            return 0.0
        return float(_cov(a, b))
    return _windows(c, x, w, y)


def ts_corr(x, y, w):
    def c(a, b):
        if _any_non_finite(a, b):
            return np.nan
        if a.max() == a.min() or b.max() == b.min():
            return 0.0
        r = _cov(a, b) / (_std(a) * _std(b))
        return float(min(max(r, LD(-1)), LD(1)))
    return _windows(c, x, w, y)


def ts_min(x, w):
    return _windows(lambda a: np.nan if _any_nan(a) else a.min(), x, w)


def ts_max(x, w):
    return _windows(lambda a: np.nan if _any_nan(a) else a.max(), x, w)


def ts_argmax(x, w):
    return _windows(lambda a: np.nan if _any_nan(a) else float(np.argmax(a[::-1])), x, w)


def ts_argmin(x, w):
    return _windows(lambda a: np.nan if _any_nan(a) else float(np.argmin(a[::-1])), x, w)


def ts_rank(x, w):
    def r(a):
        if _any_nan(a):
            return np.nan
        less = int(np.sum(a < a[-1]))
        equal_others = int(np.sum(a == a[-1])) - 1
        return (less + 0.5 * equal_others) / (w - 1)
    return _windows(r, x, w)


def decay_linear(x, w):
    weights = np.arange(1, w + 1, dtype=LD)  # oldest 1 .. newest w
    return _windows(lambda a: float(np.dot(weights, a.astype(LD)) / weights.sum()), x, w)


def ema(x, w):
    """Restart after every NaN: NaN for w-1 bars, seed = mean of w values, then recurse."""
    alpha = 2.0 / (w + 1.0)
    out = np.full(x.shape, np.nan)
    for j in range(x.shape[1]):
        start = 0
        level = np.nan
        for t in range(x.shape[0]):
            v = x[t, j]
            if np.isnan(v):
                start = t + 1
                continue
            if t - start + 1 < w:
                continue
            if t - start + 1 == w:
                level = float(np.mean(x[start: t + 1, j]))
            else:
                level = alpha * v + (1.0 - alpha) * level
            out[t, j] = level
    return out


def _rows(fn, x):
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        row = x[t]
        ok = ~np.isnan(row)
        if ok.any():
            out[t, ok] = fn(row[ok])
    return out


def cs_rank(x):
    def r(v):
        if len(v) == 1:
            return 0.5
        return (pd.Series(v).rank(method="average").to_numpy() - 1) / (len(v) - 1)
    return _rows(r, x)


def cs_zscore(x):
    def z(v):
        if len(v) < 2 or v.max() == v.min():
            return 0.0
        v = centred(v)
        return ((v - v.mean()) / np.std(v)).astype(float)
    return _rows(z, x)


def cs_demean(x):
    return _rows(lambda v: (centred(v) - centred(v).mean()).astype(float), x)


TIME_SERIES = {
    "delay": delay, "delta": delta, "ts_sum": ts_sum, "ts_mean": ts_mean, "ts_std": ts_std,
    "ts_zscore": ts_zscore, "ts_min": ts_min, "ts_max": ts_max, "ts_argmin": ts_argmin,
    "ts_argmax": ts_argmax, "ts_rank": ts_rank, "ema": ema, "decay_linear": decay_linear,
}
PAIRS = {"ts_corr": ts_corr, "ts_cov": ts_cov}
CROSS_SECTION = {"cs_rank": cs_rank, "cs_zscore": cs_zscore, "cs_demean": cs_demean}

"""Rolling extremes: ts_min, ts_max, ts_argmin, ts_argmax in O(bars), whatever the window.

Kernels take symbol-major matrices ``(symbols, bars)`` (the transposed, C-contiguous view of
the evaluator's ``(bars, symbols)`` series) and write ``out``, which must not share memory
with the input. The output is NaN until the window ``t-w+1 .. t`` is full and while it holds
a NaN. Ties resolve to the most recent bar, so ``ts_argmax`` / ``ts_argmin`` give the bars
since the latest extreme (0 = this bar).

Algorithm (van Herk / Gil-Werman): bars are cut into blocks of ``w`` aligned on bar 0; a
window is the suffix of the previous block plus the prefix of the current one, so its
extreme is the better of a running suffix extreme (computed backwards over the previous,
complete block) and a running prefix extreme: about three compares per bar, no data-dependent
loops. Both parts cover only bars ``<= t``, so the result is causal. Windows up to
:data:`SCAN_MAX_WINDOW` bars are simply scanned, which is faster for them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from core.dsl.kernels.elementwise import B1, I8, OUT, SERIES

SCAN_MAX_WINDOW = 6
"""Windows up to this length are scanned bar by bar instead of split into blocks."""


@njit(cache=True, nogil=True)
def _scan(x: np.ndarray, j: int, w: int, sgn: float, arg: bool, out: np.ndarray) -> None:
    bad = 0
    for t in range(x.shape[1]):
        bad += math.isnan(x[j, t])
        if t >= w:
            bad -= math.isnan(x[j, t - w])
        if t < w - 1 or bad > 0:
            out[j, t] = np.nan
            continue
        best = sgn * x[j, t]
        at = t
        for k in range(t - 1, t - w, -1):
            if sgn * x[j, k] > best:
                best = sgn * x[j, k]
                at = k
        out[j, t] = t - at if arg else x[j, at]


@njit(types.void(SERIES, I8, B1, B1, OUT), cache=True, nogil=True)
def extreme(x: np.ndarray, w: int, maximum: bool, arg: bool, out: np.ndarray) -> None:
    """Rolling extreme of the last ``w`` bars.

    Args:
        x: Input, ``(symbols, bars)``.
        w: Window in bars (>= 1).
        maximum: Maximum if true, else minimum.
        arg: Write the bars since the extreme (0 = this bar) instead of its value.
        out: Output, same shape as ``x``.
    """
    n = x.shape[1]
    sgn = 1.0 if maximum else -1.0
    suffix = np.empty(max(1, min(w, n)))  # only read once a window is full (w <= n)
    where = np.empty(suffix.shape[0], dtype=np.int64)
    for j in range(x.shape[0]):
        if w <= SCAN_MAX_WINDOW:
            _scan(x, j, w, sgn, arg, out)
            continue
        bad = 0
        for b0 in range(0, n, w):
            if b0 >= w:  # running extremes of the previous block, from its end backwards
                best = -np.inf
                at = b0 - 1
                for i in range(w - 1, -1, -1):
                    key = sgn * x[j, b0 - w + i]
                    if key > best:
                        best = key
                        at = b0 - w + i
                    suffix[i] = best
                    where[i] = at
            best = -np.inf
            at = b0
            for t in range(b0, min(b0 + w, n)):
                v = x[j, t]
                key = sgn * v
                if key >= best:
                    best = key
                    at = t
                bad += math.isnan(v)
                if t >= w:
                    bad -= math.isnan(x[j, t - w])
                if t < w - 1 or bad > 0:
                    out[j, t] = np.nan
                    continue
                k = at
                i = t + 1 - b0  # the window starts at b0 - w + i
                if i < w and suffix[i] > best:
                    k = where[i]
                out[j, t] = t - k if arg else x[j, k]

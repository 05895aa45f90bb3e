"""Rolling rank: ts_rank = (#less + 0.5 * #equal others) / (w - 1) within the last w bars.

Kernels take symbol-major matrices ``(symbols, bars)`` (the transposed, C-contiguous view of
the evaluator's ``(bars, symbols)`` series) and write ``out``, which must not share memory
with the input. The window includes the current value; the output is NaN until the window is
full and while it holds a NaN.

Windows up to :data:`DIRECT_MAX_WINDOW` count directly (O(w) per bar in vectorised
compares). Longer windows use a Fenwick tree over the column's values ranked once
(coordinate compression by an LSD radix sort, ties sharing a rank): O(log bars) per bar.
Both produce exact integer counts, so the result at bar ``t`` has the same bits whatever
follows ``t`` (causality) and whichever algorithm ran.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from core.dsl.kernels.elementwise import I8, OUT, SERIES

_SIG = types.void(SERIES, I8, OUT)

DIRECT_MAX_WINDOW = 768
"""Windows up to this length count directly; longer ones use the Fenwick tree."""

_DIGIT_BITS = 16
_DIGITS = 1 << _DIGIT_BITS


@njit(cache=True, nogil=True)
def _direct(x: np.ndarray, j: int, w: int, out: np.ndarray) -> None:
    row = x[j]
    n = row.shape[0]
    for t in range(w - 1, n):  # kept free of branches so that the compares vectorise
        v = row[t]
        base = t - w + 1
        less = 0
        upto = 0
        for k in range(w):
            u = row[base + k]
            less += u < v
            upto += u <= v
        out[j, t] = (less + 0.5 * (upto - less - 1)) / (w - 1)
    _mask_warmup_and_nan(row, j, w, out)


@njit(cache=True, nogil=True)
def _mask_warmup_and_nan(row: np.ndarray, j: int, w: int, out: np.ndarray) -> None:
    """Set ``out[j]`` to NaN before the window is full and wherever it holds a NaN."""
    bad = 0
    for t in range(row.shape[0]):
        bad += math.isnan(row[t])
        if t >= w:
            bad -= math.isnan(row[t - w])
        if t < w - 1 or bad > 0:
            out[j, t] = np.nan


@njit(cache=True, nogil=True)
def _one_digit(keys: np.ndarray, n: int, shift: np.uint64) -> bool:
    """Whether ``keys[:n]`` all share the 16-bit digit at ``shift``."""
    mask = np.uint64(_DIGITS - 1)
    for i in range(1, n):  # noqa: SIM110 (numba has no all() over generators)
        if (keys[i] >> shift) & mask != (keys[0] >> shift) & mask:
            return False
    return True


@njit(cache=True, nogil=True)
def _compress(col: np.ndarray, ranks: np.ndarray, keys: np.ndarray, order: np.ndarray,
              keys2: np.ndarray, order2: np.ndarray, counts: np.ndarray) -> int:
    """Dense 1-based ranks of ``col`` into ``ranks`` (equal values share one; NaN gets 0).

    Sorts by an LSD radix sort of the order-preserving unsigned image of the float bits.
    """
    n = col.shape[0]
    top = np.uint64(1) << np.uint64(63)
    bits = col.view(np.uint64)
    for i in range(n):
        b = bits[i]
        keys[i] = ~b if b & top else b | top
        order[i] = i
    mask = np.uint64(_DIGITS - 1)
    for p in range(64 // _DIGIT_BITS):
        shift = np.uint64(p * _DIGIT_BITS)
        if _one_digit(keys, n, shift):
            continue  # every key has the same digit here: the pass would change nothing
        for d in range(_DIGITS):
            counts[d] = 0
        for i in range(n):
            counts[(keys[i] >> shift) & mask] += 1
        total = 0
        for d in range(_DIGITS):
            total += counts[d]
            counts[d] = total - counts[d]
        for i in range(n):
            d = (keys[i] >> shift) & mask
            keys2[counts[d]] = keys[i]
            order2[counts[d]] = order[i]
            counts[d] += 1
        for i in range(n):
            keys[i] = keys2[i]
            order[i] = order2[i]
    last = np.nan
    rank = 0
    for i in order:
        v = col[i]
        if math.isnan(v):
            ranks[i] = 0
            continue
        if v != last:
            rank += 1
            last = v
        ranks[i] = rank
    return rank


@njit(cache=True, nogil=True)
def _fenwick(x: np.ndarray, j: int, w: int, ranks: np.ndarray, tree: np.ndarray,
             counts: np.ndarray, size: int, out: np.ndarray) -> None:
    """Fenwick tree of the window's ranks (plus plain per-rank counts for the ties)."""
    for i in range(size + 1):
        tree[i] = 0
        counts[i] = 0
    bad = 0
    for t in range(x.shape[1]):
        r = ranks[t]
        bad += r == 0
        counts[r] += 1
        i = r
        while 0 < i <= size:
            tree[i] += 1
            i += i & -i
        if t >= w:
            i = ranks[t - w]
            bad -= i == 0
            counts[i] -= 1
            while 0 < i <= size:
                tree[i] -= 1
                i += i & -i
        if t < w - 1 or bad > 0:
            out[j, t] = np.nan
            continue
        upto = 0
        i = r
        while i > 0:
            upto += tree[i]
            i -= i & -i
        less = upto - counts[r]
        out[j, t] = (less + 0.5 * (upto - less - 1)) / (w - 1)


@njit(_SIG, cache=True, nogil=True)
def ts_rank_direct(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """ts_rank by counting the window at every bar: O(w) per bar."""
    for j in range(x.shape[0]):
        _direct(x, j, w, out)


@njit(_SIG, cache=True, nogil=True)
def ts_rank_fenwick(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """ts_rank with a Fenwick tree over the column's ranked values: O(log bars) per bar."""
    n = x.shape[1]
    ranks = np.empty(n, dtype=np.int64)
    tree = np.empty(n + 1, dtype=np.int32)
    in_window = np.empty(n + 1, dtype=np.int32)
    keys = np.empty(n, dtype=np.uint64)
    keys2 = np.empty(n, dtype=np.uint64)
    order = np.empty(n, dtype=np.int64)
    order2 = np.empty(n, dtype=np.int64)
    counts = np.empty(_DIGITS, dtype=np.int64)
    for j in range(x.shape[0]):
        col = np.ascontiguousarray(x[j])
        size = _compress(col, ranks, keys, order, keys2, order2, counts)
        _fenwick(x, j, w, ranks, tree, in_window, size, out)


@njit(_SIG, cache=True, nogil=True)
def ts_rank(x: np.ndarray, w: int, out: np.ndarray) -> None:
    """Rank of each bar within its last ``w`` bars (``w`` >= 2), in [0, 1]."""
    if w <= DIRECT_MAX_WINDOW:
        ts_rank_direct(x, w, out)
    else:
        ts_rank_fenwick(x, w, out)

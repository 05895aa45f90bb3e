"""From an alpha's signal to target positions for the backtester (numba, causal).

Every mapping returns targets in ``[-1, 1]`` (multiples of the sizing unit), NaN while the
signal is still warming up. Continuous mappings are quantised to ``step`` so that a target —
and therefore an order — only changes when the signal moves by a meaningful amount.

The mappings with state (``threshold``, ``zscore``) have resumable twins (``*_from``) that
carry it between calls; the batch functions are those started from the initial state, which
is what makes the streaming mapping (:mod:`core.dsl.stream`) equal to the batch one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from configs.alpha import MappingConfig


@njit(cache=True, nogil=True)
def _quantize(value: float, step: float) -> float:
    if step <= 0.0:
        return value
    return math.floor(value / step + 0.5) * step


@njit(cache=True, nogil=True)
def sign_targets(signal: np.ndarray) -> np.ndarray:
    """+1 where the signal is positive, -1 where negative, 0 at zero, NaN where NaN."""
    out = np.empty_like(signal)
    for j in range(signal.shape[1]):
        for i in range(signal.shape[0]):
            x = signal[i, j]
            out[i, j] = np.nan if x != x else (1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0))
    return out


@njit(cache=True, nogil=True)
def threshold_from(signal: np.ndarray, entry: float, exit_: float, state: np.ndarray,
                   out: np.ndarray) -> None:
    """Resumable :func:`threshold_targets`: ``state`` (per symbol, NaN at start) is updated."""
    for j in range(signal.shape[1]):
        s = state[j]
        for i in range(signal.shape[0]):
            x = signal[i, j]
            if x == x:
                if s != s:
                    s = 0.0
                if s == 0.0:
                    if x > entry:
                        s = 1.0
                    elif x < -entry:
                        s = -1.0
                elif s > 0.0:
                    if x < exit_:
                        s = -1.0 if x < -entry else 0.0
                elif x > -exit_:
                    s = 1.0 if x > entry else 0.0
            out[i, j] = s
        state[j] = s


@njit(cache=True, nogil=True)
def threshold_targets(signal: np.ndarray, entry: float, exit_: float) -> np.ndarray:
    """Hysteresis: long above ``entry``, flat again below ``exit_``; short mirrored.

    Flat -> long when x > entry, long -> flat when x < exit_; flat -> short when
    x < -entry, short -> flat when x > -exit_ (requires ``exit_ < entry``). A NaN signal
    keeps the state; targets are NaN until the first non-NaN signal.
    """
    out = np.empty_like(signal)
    threshold_from(signal, entry, exit_, np.full(signal.shape[1], np.nan), out)
    return out


@njit(cache=True, nogil=True)
def zscore_from(signal: np.ndarray, off: int, i0: int, lookback: int, cap: float, step: float,
                sums: np.ndarray, nans: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`zscore_targets`.

    ``signal`` holds ``off`` already-seen bars (at least ``min(lookback, i0)``) then the new
    ones, ``i0`` bars were seen before; ``sums`` (total, total of squares) and ``nans`` per
    symbol are updated in place; ``out`` receives the new bars.
    """
    n, k = signal.shape
    for j in range(k):
        total = sums[j, 0]
        total_sq = sums[j, 1]
        count = nans[j]
        for r in range(off, n):
            i = i0 + r - off
            x = signal[r, j]
            if x != x:
                count += 1
            else:
                total += x
                total_sq += x * x
            if i >= lookback:
                old = signal[r - lookback, j]
                if old != old:
                    count -= 1
                else:
                    total -= old
                    total_sq -= old * old
            if i % 1024 == 0 and i >= lookback - 1:
                total = 0.0
                total_sq = 0.0
                for t in range(r - lookback + 1, r + 1):
                    y = signal[t, j]
                    if y == y:
                        total += y
                        total_sq += y * y
            if i < lookback - 1 or count > 0:
                out[r - off, j] = np.nan
                continue
            mean = total / lookback
            var = max((total_sq - lookback * mean * mean) / (lookback - 1), 0.0)
            std = math.sqrt(var)
            z = 0.0 if std <= 1e-12 * max(abs(mean), 1.0) else (x - mean) / std
            out[r - off, j] = _quantize(min(max(z / cap, -1.0), 1.0), step)
        sums[j, 0] = total
        sums[j, 1] = total_sq
        nans[j] = count


@njit(cache=True, nogil=True)
def zscore_targets(signal: np.ndarray, lookback: int, cap: float, step: float) -> np.ndarray:
    """Per symbol: z-score of the signal over ``lookback`` bars, scaled by ``cap``, in [-1, 1].

    target = quantize(clip(z / cap, -1, 1), step); NaN until ``lookback`` consecutive
    non-NaN signals exist. Window sums run in O(1) per bar and are recomputed exactly every
    1,024 bars (a cadence fixed by the bar index, so a prefix gives the same values).
    """
    n, k = signal.shape
    out = np.full((n, k), np.nan)
    zscore_from(signal, 0, 0, lookback, cap, step, np.zeros((k, 2)), np.zeros(k, np.int64), out)
    return out


@njit(cache=True, nogil=True)
def cs_rank_targets(signal: np.ndarray, cap: float, step: float) -> np.ndarray:
    """Across symbols: dollar-neutral weights from ranks, gross 1, each |w| <= cap.

    Ranks of the valid symbols are centred and scaled so that sum |w| = 1, clipped to
    ``cap`` and quantised. A bar with fewer than 2 valid symbols gives NaN.
    """
    n, k = signal.shape
    out = np.full((n, k), np.nan)
    ranks = np.empty(k)
    for i in range(n):
        m = 0
        for j in range(k):
            if signal[i, j] == signal[i, j]:
                m += 1
        if m < 2:
            continue
        for j in range(k):
            x = signal[i, j]
            if x != x:
                ranks[j] = np.nan
                continue
            less = 0.0
            equal = 0.0
            for other in range(k):
                y = signal[i, other]
                if y == y:
                    if y < x:
                        less += 1.0
                    elif y == x:
                        equal += 1.0
            ranks[j] = less + 0.5 * (equal - 1.0) - 0.5 * (m - 1)
        gross = 0.0
        for j in range(k):
            if ranks[j] == ranks[j]:
                gross += abs(ranks[j])
        for j in range(k):
            if ranks[j] != ranks[j]:
                continue
            w = 0.0 if gross == 0.0 else ranks[j] / gross
            out[i, j] = _quantize(min(max(w, -cap), cap), step)
    return out


def map_positions(signal: np.ndarray, mapping: MappingConfig) -> np.ndarray:
    """Target positions for a ``(bars, symbols)`` signal under ``mapping``."""
    signal = np.asfortranarray(signal, dtype=np.float64)
    if mapping.kind == "sign":
        return sign_targets(signal)
    if mapping.kind == "threshold":
        return threshold_targets(signal, mapping.entry, mapping.exit)
    if mapping.kind == "zscore":
        return zscore_targets(signal, mapping.lookback, mapping.z_cap, mapping.step)
    return cs_rank_targets(signal, mapping.max_weight, mapping.step)

"""Elementwise kernels: one value in, one value out, at every (bar, symbol).

Each kernel takes symbol-major matrices ``(symbols, bars)`` (the transposed, C-contiguous
view of the evaluator's column-major ``(bars, symbols)`` series) and writes ``out``. ``out``
may be the very same buffer as an input: every element is read before it is written.

Each kernel agrees bit for bit with the scalar reference in :mod:`core.dsl.scalar` (signed
zeros included; NaN where it gives NaN), which is what constant folding uses. The only
difference: where the reference raises ``OverflowError`` (``pow`` overflowing), the kernel
returns ``±inf`` like IEEE arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from core.dsl.operators import PROTECT_EPS

EPS = PROTECT_EPS

SERIES = types.Array(types.float64, 2, "C", readonly=True)
"""Numba type of a kernel input: a ``(symbols, bars)`` C-contiguous view (writable or not)."""
OUT = types.Array(types.float64, 2, "C")
"""Numba type of a kernel output."""
F8, I8, B1 = types.float64, types.int64, types.boolean
UNARY = types.void(SERIES, OUT)
BINARY = types.void(SERIES, SERIES, OUT)


@njit(BINARY, cache=True, nogil=True)
def add(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``a + b``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = a[j, i] + b[j, i]


@njit(BINARY, cache=True, nogil=True)
def sub(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``a - b``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = a[j, i] - b[j, i]


@njit(BINARY, cache=True, nogil=True)
def mul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``a * b``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = a[j, i] * b[j, i]


@njit(BINARY, cache=True, nogil=True)
def div(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Protected ``a / b``: 0 where ``|b| < PROTECT_EPS``; NaN if either is NaN."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            y = b[j, i]
            if math.isnan(x) or math.isnan(y):
                out[j, i] = np.nan
            elif abs(y) < EPS:
                out[j, i] = 0.0
            else:
                out[j, i] = x / y


@njit(UNARY, cache=True, nogil=True)
def neg(a: np.ndarray, out: np.ndarray) -> None:
    """``-a``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = -a[j, i]


@njit(UNARY, cache=True, nogil=True)
def abs_(a: np.ndarray, out: np.ndarray) -> None:
    """``|a|``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = abs(a[j, i])


@njit(UNARY, cache=True, nogil=True)
def sign(a: np.ndarray, out: np.ndarray) -> None:
    """-1, 0 or 1 (0 for both signed zeros); NaN stays NaN."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            if x > 0.0:
                out[j, i] = 1.0
            elif x < 0.0:
                out[j, i] = -1.0
            elif x == 0.0:
                out[j, i] = 0.0
            else:
                out[j, i] = np.nan


@njit(UNARY, cache=True, nogil=True)
def log(a: np.ndarray, out: np.ndarray) -> None:
    """Protected ``log|a|``: 0 where ``|a| < PROTECT_EPS``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = abs(a[j, i])
            if math.isnan(x):
                out[j, i] = np.nan
            elif x < EPS:
                out[j, i] = 0.0
            else:
                out[j, i] = math.log(x)


@njit(UNARY, cache=True, nogil=True)
def sqrt(a: np.ndarray, out: np.ndarray) -> None:
    """Protected ``sqrt|a|``."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = math.sqrt(abs(a[j, i]))


@njit(types.void(SERIES, F8, OUT), cache=True, nogil=True)
def pow_(a: np.ndarray, p: float, out: np.ndarray) -> None:
    """Signed power ``sign(a) * |a| ** p``; 0 where ``a == 0``.

    Exponents 2, 0.5 and -1 are computed as ``|a| * |a|``, ``sqrt|a|`` and ``1 / |a|`` (the
    same definition as ``core.dsl.scalar``), avoiding the C library's slow ``pow``.
    """
    mode = 1 if p == 2.0 else (2 if p == 0.5 else (3 if p == -1.0 else 0))
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            if math.isnan(x):
                out[j, i] = np.nan
            elif x == 0.0:
                out[j, i] = 0.0
            else:
                m = abs(x)
                if mode == 1:
                    y = m * m
                elif mode == 2:
                    y = math.sqrt(m)
                elif mode == 3:
                    y = 1.0 / m
                else:
                    y = math.pow(m, p)
                out[j, i] = math.copysign(y, x)


@njit(types.void(SERIES, F8, F8, OUT), cache=True, nogil=True)
def clip(a: np.ndarray, lo: float, hi: float, out: np.ndarray) -> None:
    """``a`` limited to ``[lo, hi]`` (Python's ``min(max(a, lo), hi)``, signed zeros too)."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            if math.isnan(x):
                out[j, i] = np.nan
            else:
                if lo > x:
                    x = lo
                if hi < x:
                    x = hi
                out[j, i] = x


@njit(BINARY, cache=True, nogil=True)
def maximum(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Elementwise maximum (the first argument on ties); NaN if either is NaN."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            y = b[j, i]
            if math.isnan(x) or math.isnan(y):
                out[j, i] = np.nan
            else:
                out[j, i] = y if y > x else x


@njit(BINARY, cache=True, nogil=True)
def minimum(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Elementwise minimum (the first argument on ties); NaN if either is NaN."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            x = a[j, i]
            y = b[j, i]
            if math.isnan(x) or math.isnan(y):
                out[j, i] = np.nan
            else:
                out[j, i] = y if y < x else x


@njit(types.void(SERIES, SERIES, SERIES, SERIES, OUT), cache=True, nogil=True)
def if_gt(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray,
          out: np.ndarray) -> None:
    """``x`` where ``a > b`` else ``y``; NaN if ``a`` or ``b`` is NaN."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            u = a[j, i]
            v = b[j, i]
            if math.isnan(u) or math.isnan(v):
                out[j, i] = np.nan
            else:
                out[j, i] = x[j, i] if u > v else y[j, i]

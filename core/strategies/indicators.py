"""Causal rolling indicators: mean, standard deviation, z-score, EMA and OLS hedge ratio.

Every value at bar ``t`` uses only bars ``t - window + 1 .. t`` (the current bar included) and
is NaN until that window is full — warm-up is explicit, never back-filled. A non-finite input
makes every window that contains it NaN; the indicator resumes once a full window of finite
values has passed again.

Windows of up to 32 bars are computed exactly (two-pass) at every bar. Longer windows are updated
in O(1) per bar (sliding Welford updates) and recomputed exactly whenever ``t % 32 == 0``, which
bounds rounding drift (e.g. after an outlier leaves the window) to at most 32 bars. The schedule
depends only on the bar index, so a series truncated at ``t`` gives bit-identical values up to
``t`` (strict causality, tested).

The loop kernels have resumable twins (:func:`comoments_from`, :func:`ema_from`) that carry
their state between calls; the batch kernels are those started from the initial state, so the
streaming strategies (:mod:`core.strategies.stream`) equal the batch ones bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from core.errors import BacktestError

# Exact recomputation period of the sliding moments (and the window size below which every bar
# is computed exactly).
_RECOMPUTE_EVERY = 32
# A standard deviation at or below this fraction of |mean| is rounding noise: treated as zero.
_REL_ZERO_STD = 1e-12


@njit(cache=True)
def comoments_from(x: np.ndarray, y: np.ndarray, off: int, i0: int, window: int,
                   fs: np.ndarray, ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable :func:`_rolling_comoments` over ``x``/``y`` = ``off`` seen bars + new bars.

    ``i0`` bars were seen before; the tail must hold at least ``min(window, i0)`` of them.
    ``fs`` = (mean_x, mean_y, m2_x, m2_y, c_xy) and ``ist`` = (last bad bar, valid) are
    updated in place; ``out`` ``(5, new bars)`` receives the new bars (left NaN where the
    window is not full and finite).
    """
    n = len(x)
    last_bad = ist[0]
    valid = ist[1] != 0
    mx, my, m2x, m2y, cxy = fs[0], fs[1], fs[2], fs[3], fs[4]
    for c in range(off, n):
        i = i0 + c - off
        if not (np.isfinite(x[c]) and np.isfinite(y[c])):
            last_bad = i
            valid = False
            continue
        if i - last_bad < window:
            continue
        start = c - window + 1
        if not valid or window <= _RECOMPUTE_EVERY or i % _RECOMPUTE_EVERY == 0:
            mx = 0.0
            my = 0.0
            for j in range(start, c + 1):
                mx += x[j]
                my += y[j]
            mx /= window
            my /= window
            m2x = m2y = cxy = 0.0
            for j in range(start, c + 1):
                dx = x[j] - mx
                dy = y[j] - my
                m2x += dx * dx
                m2y += dy * dy
                cxy += dx * dy
            valid = True
        else:
            # add the new point (window + 1 points), then remove the oldest (back to window)
            xn, yn, xo, yo = x[c], y[c], x[start - 1], y[start - 1]
            dx = xn - mx
            dy = yn - my
            mx += dx / (window + 1)
            my += dy / (window + 1)
            m2x += dx * (xn - mx)
            m2y += dy * (yn - my)
            cxy += dx * (yn - my)
            mx_old = mx - (xo - mx) / window
            my_old = my - (yo - my) / window
            m2x -= (xo - mx_old) * (xo - mx)
            m2y -= (yo - my_old) * (yo - my)
            cxy -= (xo - mx_old) * (yo - my)
            mx, my = mx_old, my_old
            m2x = max(m2x, 0.0)
            m2y = max(m2y, 0.0)
        out[0, c - off] = mx
        out[1, c - off] = my
        out[2, c - off] = m2x
        out[3, c - off] = m2y
        out[4, c - off] = cxy
    fs[0], fs[1], fs[2], fs[3], fs[4] = mx, my, m2x, m2y, cxy
    ist[0] = last_bad
    ist[1] = 1 if valid else 0


@njit(cache=True)
def _rolling_comoments(x: np.ndarray, y: np.ndarray, window: int) -> np.ndarray:
    """Return rows ``mean_x, mean_y, m2_x, m2_y, c_xy`` of every full finite window."""
    out = np.full((5, len(x)), np.nan)
    ist = np.zeros(2, np.int64)
    ist[0] = -1
    comoments_from(x, y, 0, 0, window, np.zeros(5), ist, out)
    return out


@njit(cache=True)
def ema_from(x: np.ndarray, off: int, span: int, fs: np.ndarray, ist: np.ndarray,
             out: np.ndarray) -> None:
    """Resumable :func:`_ema`: ``fs`` = (value,), ``ist`` = (run,); ``off`` >= span - 1 or all."""
    n = len(x)
    alpha = 2.0 / (span + 1.0)
    run = ist[0]
    value = fs[0]
    for i in range(off, n):
        if not np.isfinite(x[i]):
            run = 0
            continue
        run += 1
        if run < span:
            continue
        if run == span:
            value = 0.0
            for j in range(i - span + 1, i + 1):
                value += x[j]
            value /= span
        else:
            value += alpha * (x[i] - value)
        out[i - off] = value
    fs[0] = value
    ist[0] = run


@njit(cache=True)
def _ema(x: np.ndarray, span: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    ema_from(x, 0, span, np.zeros(1), np.zeros(1, np.int64), out)
    return out


def _series(values: ArrayLike, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if array.ndim != 1:
        raise BacktestError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _window(window: int, minimum: int = 1) -> int:
    ok = isinstance(window, int | np.integer) and not isinstance(window, bool)
    if not ok or window < minimum:
        raise BacktestError(f"window must be an integer >= {minimum}, got {window!r}")
    return int(window)


def rolling_mean(values: ArrayLike, window: int) -> np.ndarray:
    """Simple moving average over the last ``window`` bars (current bar included).

    Args:
        values: 1-D series.
        window: Number of bars, >= 1 (``window == 1`` returns the finite inputs unchanged).

    Returns:
        Float64 array of the same length; NaN for the first ``window - 1`` bars.
    """
    x = _series(values, "values")
    return _rolling_comoments(x, x, _window(window))[0]


def rolling_std(values: ArrayLike, window: int, ddof: int = 1) -> np.ndarray:
    """Rolling standard deviation over the last ``window`` bars.

    Args:
        values: 1-D series.
        window: Number of bars, must exceed ``ddof``.
        ddof: Delta degrees of freedom (1 = sample, as pandas; 0 = population).

    Returns:
        Float64 array of the same length; NaN for the first ``window - 1`` bars.
    """
    x = _series(values, "values")
    window = _window(window, ddof + 1)
    return np.sqrt(_rolling_comoments(x, x, window)[2] / (window - ddof))


def rolling_zscore(values: ArrayLike, window: int, ddof: int = 1) -> np.ndarray:
    """``(x - rolling mean) / rolling std`` over the last ``window`` bars (current included).

    Args:
        values: 1-D series.
        window: Number of bars, >= 2.
        ddof: Delta degrees of freedom of the standard deviation.

    Returns:
        Float64 array; NaN during warm-up and wherever the window has (numerically) zero
        variance, i.e. std <= 1e-12 * |mean|.
    """
    x = _series(values, "values")
    window = _window(window, max(2, ddof + 1))
    return zscore_of_moments(x, _rolling_comoments(x, x, window), window, ddof)


def zscore_of_moments(x: np.ndarray, moments: np.ndarray, window: int, ddof: int = 1
                      ) -> np.ndarray:
    """The z-score of ``x`` from its rolling moments (elementwise; see :func:`rolling_zscore`)."""
    mean, std = moments[0], np.sqrt(moments[2] / (window - ddof))
    flat = std <= _REL_ZERO_STD * np.abs(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x - mean) / std
    z[flat | (std == 0)] = np.nan
    return z


def ema(values: ArrayLike, span: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``, seeded by an SMA.

    The first value (bar ``span - 1``) is the simple mean of the first ``span`` bars, then
    ``ema[t] = ema[t - 1] + alpha * (x[t] - ema[t - 1])``. A non-finite input restarts the
    warm-up.

    Args:
        values: 1-D series.
        span: Span in bars, >= 1.

    Returns:
        Float64 array of the same length; NaN for the first ``span - 1`` bars.
    """
    return _ema(_series(values, "values"), _window(span))


def rolling_ols(y: ArrayLike, x: ArrayLike, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling least-squares fit ``y ~ alpha + beta * x`` over the last ``window`` bars.

    Args:
        y: Dependent series.
        x: Regressor series of the same length.
        window: Number of bars, >= 2.

    Returns:
        ``(beta, alpha)`` float64 arrays; NaN during warm-up and where ``x`` has (numerically)
        zero variance over the window.

    Raises:
        BacktestError: If the series differ in length or the window is too small.
    """
    beta, alpha, _ = _rolling_fit(y, x, window)
    return beta, alpha


def rolling_residual_zscore(
    y: ArrayLike, x: ArrayLike, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rolling hedge ratio and z-score of the current bar's spread against its own window.

    With ``beta_t`` fitted over bars ``t - window + 1 .. t``, the spread
    ``s_j = y_j - beta_t * x_j`` is formed over that same window and
    ``z_t = (s_t - mean(s)) / std(s, ddof=1)``; ``mean(s)`` is the OLS intercept, so ``z_t`` is
    the current OLS residual in units of the window's residual standard deviation. Using one
    beta for the whole window (rather than z-scoring a spread built with a beta that changes
    every bar) keeps the spread and its statistics consistent.

    Args:
        y: Dependent series (e.g. log price of A).
        x: Regressor series (e.g. log price of B).
        window: Number of bars, >= 3.

    Returns:
        ``(beta, z)`` float64 arrays; NaN during warm-up, where ``x`` has zero variance and
        where the fit is (numerically) perfect.
    """
    yy = _series(y, "y")
    beta, alpha, resid_ss = _rolling_fit(yy, x, _window(window, 3))
    return beta, residual_zscore(yy, _series(x, "x"), beta, alpha, resid_ss, window)


def residual_zscore(y: np.ndarray, x: np.ndarray, beta: np.ndarray, alpha: np.ndarray,
                    resid_ss: np.ndarray, window: int) -> np.ndarray:
    """The residual z-score from a fit (elementwise; see :func:`rolling_residual_zscore`)."""
    resid_std = np.sqrt(resid_ss / (window - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (y - alpha - beta * x) / resid_std
    z[~(resid_std > 0)] = np.nan
    return z


def _rolling_fit(
    y: ArrayLike, x: ArrayLike, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``beta, alpha`` and the residual sum of squares of rolling ``y ~ x`` fits.

    The residual sum of squares is NaN where it is rounding noise (perfect fit), i.e. where the
    residual std is at most 1e-12 of the scale of ``y`` (|mean| + std).
    """
    yy, xx = _series(y, "y"), _series(x, "x")
    if len(yy) != len(xx):
        raise BacktestError(f"y and x differ in length: {len(yy)} vs {len(xx)}")
    window = _window(window, 2)
    return fit_of_moments(_rolling_comoments(xx, yy, window), window)


def fit_of_moments(moments: np.ndarray, window: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``beta, alpha`` and residual sum of squares from the rolling comoments of ``(x, y)``."""
    mx, my, m2x, m2y, cxy = moments
    degenerate = ~(np.sqrt(m2x / window) > _REL_ZERO_STD * np.abs(mx))
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = cxy / m2x
    beta[degenerate] = np.nan
    alpha = my - beta * mx
    resid_ss = np.maximum(m2y - beta * cxy, 0.0)
    scale = np.abs(my) + np.sqrt(m2y / window)
    resid_ss[~(np.sqrt(resid_ss / window) > _REL_ZERO_STD * scale)] = np.nan
    return beta, alpha, resid_ss

"""Returns, growth and volatility of an equity curve, annualised over a 365-day crypto year.

Input rules shared by every module of :mod:`core.metrics`:

* Inputs are one-dimensional array-likes; anything else raises :class:`BacktestError`.
* An **equity curve** must be finite (NaN/inf is corrupt data and raises
  :class:`BacktestError`: the backtester never produces one).
* A **return or PnL series** is a set of observations: NaN entries mean "no observation" and
  are dropped before computing (pandas' ``skipna``); ``+-inf`` raises :class:`BacktestError`.
* Too little data (empty input, fewer than two observations for a sample standard deviation,
  zero variance, ...) yields ``nan`` instead of an exception or a division by zero.
* Results are plain Python floats.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from core.data.timeframes import YEAR_MS
from core.errors import BacktestError


def _as_1d(values: ArrayLike, what: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array or raise :class:`BacktestError`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BacktestError(f"{what} must be numeric: {exc}") from None
    if array.ndim != 1:
        raise BacktestError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _as_equity(equity: ArrayLike) -> np.ndarray:
    """Validate an equity curve: 1-D and finite everywhere."""
    array = _as_1d(equity, "equity")
    if not np.all(np.isfinite(array)):
        row = int(np.flatnonzero(~np.isfinite(array))[0])
        raise BacktestError(f"equity must be finite; row {row} is {array[row]}")
    return array


def _as_observations(values: ArrayLike, what: str = "returns") -> np.ndarray:
    """Validate a return/PnL series and drop its NaN entries; ``+-inf`` raises."""
    array = _as_1d(values, what)
    if np.any(np.isinf(array)):
        row = int(np.flatnonzero(np.isinf(array))[0])
        raise BacktestError(f"{what} must not be infinite; row {row} is {array[row]}")
    return array[~np.isnan(array)]


def _check_ppy(ppy: float) -> float:
    if not (math.isfinite(ppy) and ppy > 0):
        raise BacktestError(f"periods per year must be a positive finite number, got {ppy}")
    return float(ppy)


def _sample_std(x: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); nan for fewer than two values, 0.0 if all equal.

    All-equal values are tested exactly so that rounding noise in the mean of a constant series
    (e.g. ``[0.1, 0.1, 0.1]``) never turns into a tiny positive deviation.
    """
    if len(x) < 2:
        return math.nan
    if x.min() == x.max():
        return 0.0
    return float(np.std(x, ddof=1))


def simple_returns(equity: ArrayLike) -> np.ndarray:
    """Bar-to-bar simple returns ``equity[i + 1] / equity[i] - 1``.

    Args:
        equity: Finite equity curve of length n.

    Returns:
        Float64 array of length ``max(n - 1, 0)``. A return starting from non-positive equity
        is undefined and reported as NaN (which return statistics then skip).

    Raises:
        BacktestError: If the curve is not 1-D or not finite.
    """
    e = _as_equity(equity)
    if len(e) < 2:
        return np.empty(0, dtype=np.float64)
    prev, nxt = e[:-1], e[1:]
    out = np.full(len(prev), np.nan)
    ok = prev > 0
    out[ok] = nxt[ok] / prev[ok] - 1.0
    return out


def total_return(equity: ArrayLike) -> float:
    """Return ``equity[-1] / equity[0] - 1``.

    Args:
        equity: Finite equity curve.

    Returns:
        The total return as a fraction; nan with fewer than two points or a non-positive start.
    """
    e = _as_equity(equity)
    if len(e) < 2 or e[0] <= 0:
        return math.nan
    return float(e[-1] / e[0] - 1.0)


def cagr(equity: ArrayLike, timeframe_ms: int) -> float:
    """Compound annual growth rate over a 365-day year.

    ``years = (n - 1) * timeframe_ms / 365 days`` (n points span n - 1 bars) and
    ``cagr = (equity[-1] / equity[0]) ** (1 / years) - 1``. Very short, very profitable
    curves can overflow to ``inf``; that is reported as is.

    Args:
        equity: Finite equity curve sampled once per bar.
        timeframe_ms: Bar length in milliseconds.

    Returns:
        The CAGR as a fraction; ``-1.0`` if the final equity is <= 0 (the account is gone);
        nan with fewer than two points or a non-positive starting equity.

    Raises:
        BacktestError: If ``timeframe_ms`` is not positive or the curve is invalid.
    """
    if timeframe_ms <= 0:
        raise BacktestError(f"timeframe_ms must be positive, got {timeframe_ms}")
    e = _as_equity(equity)
    if len(e) < 2 or e[0] <= 0:
        return math.nan
    if e[-1] <= 0:
        return -1.0
    years = (len(e) - 1) * timeframe_ms / YEAR_MS
    with np.errstate(over="ignore"):
        growth = np.exp(np.log(e[-1] / e[0]) / years)
    return float(growth - 1.0)


def annual_volatility(returns: ArrayLike, ppy: float) -> float:
    """Annualised volatility: sample standard deviation (ddof=1) times ``sqrt(ppy)``.

    Args:
        returns: Per-bar simple returns (NaN entries are skipped).
        ppy: Periods per year, e.g. ``periods_per_year(timeframe_ms)``.

    Returns:
        The annualised volatility; 0.0 for all-equal returns, nan with fewer than two
        observations.
    """
    ppy = _check_ppy(ppy)
    return _sample_std(_as_observations(returns)) * math.sqrt(ppy)

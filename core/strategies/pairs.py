"""Pairs trading on the z-score of a rolling-OLS spread between two symbols A and B.

At every bar ``t`` a least-squares fit ``a ~ alpha + beta * b`` over the last ``lookback`` bars
(current bar included) gives the hedge ratio ``beta_t``, where ``a, b`` are log closes
(``use_log=True``) or raw closes. The spread over that window is ``a - beta_t * b`` and its
z-score ``z_t`` is the current bar's spread against the window's mean and sample std — see
:func:`core.strategies.indicators.rolling_residual_zscore`.

Entries and exits use the mean-reversion state machine
(:func:`core.strategies.mean_reversion.hysteresis_positions`, shorts allowed): long the spread
when ``z < -entry_z``, short it when ``z > entry_z``, exit a long once ``z > -exit_z`` and a
short once ``z < exit_z``. That contains the rule "exit when |z| < exit_z" and also closes a
position whose spread overshoots straight through the band; a jump beyond the opposite entry
level flips the position in one bar.

Weights. Long the spread = long A, short B in hedge proportion ``h`` (the notional of B per unit
notional of A): ``h = beta`` on log prices (beta is an elasticity, so it is a notional ratio),
``h = beta * close_B / close_A`` on raw prices (beta is a quantity ratio). The pair is
normalised to unit gross exposure::

    w_A = s / (1 + |h|),    w_B = -s * h / (1 + |h|),    |w_A| + |w_B| = 1,

with ``s = +1`` long / ``-1`` short the spread. ``h`` is frozen at the entry bar and held until
the exit (or a flip), so an open position does not churn as beta drifts. A negative beta gives
two positions of the same sign. Both targets are NaN until the first bar with a defined z
(warm-up ``lookback - 1`` bars at least), 0 while flat.

One leg is always short: run pairs with ``direction="long_short"`` (a long-only backtest would
clip the short leg to flat and leave an unhedged position).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from pydantic import BaseModel, Field

from core.data.candles import Candles
from core.errors import BacktestError
from core.strategies.bands import ZBandParams
from core.strategies.indicators import rolling_residual_zscore
from core.strategies.mean_reversion import hysteresis_positions


class PairsParams(ZBandParams):
    """Parameters of the pairs strategy."""

    lookback: int = Field(
        100, ge=3, le=1_000_000, description="Bars in the hedge-ratio and z-score window."
    )
    use_log: bool = Field(True, description="Regress log prices (True) or raw prices.")


@njit(cache=True)
def leg_weights_from(state: np.ndarray, hedge: np.ndarray, fs: np.ndarray, wa: np.ndarray,
                     wb: np.ndarray) -> None:
    """Resumable leg weights: ``fs`` = (held state, frozen hedge), updated in place."""
    held = fs[0]
    h = fs[1]
    for i in range(len(state)):
        s = state[i]
        if np.isnan(s):
            continue
        if s != held:
            held = s
            h = hedge[i]
        if held == 0.0:
            wa[i] = 0.0
            wb[i] = 0.0
        else:
            wa[i] = held / (1.0 + abs(h))
            wb[i] = -held * h / (1.0 + abs(h))
    fs[0] = held
    fs[1] = h


@njit(cache=True)
def _leg_weights(state: np.ndarray, hedge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(state)
    wa = np.full(n, np.nan)
    wb = np.full(n, np.nan)
    leg_weights_from(state, hedge, np.zeros(2), wa, wb)
    return wa, wb


def pairs_targets(
    close_a: ArrayLike,
    close_b: ArrayLike,
    lookback: int,
    entry_z: float,
    exit_z: float,
    use_log: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Target positions of A and B for the spread strategy described in the module docstring.

    Args:
        close_a: Closing prices of A (the dependent leg), aligned bar by bar with B.
        close_b: Closing prices of B (the hedge leg).
        lookback: Window of the hedge ratio and z-score (>= 3).
        entry_z: Entry threshold (> 0).
        exit_z: Exit threshold (>= 0, < entry_z).
        use_log: Regress log prices (True) or raw prices.

    Returns:
        ``(target_a, target_b)`` float64 arrays with ``|a| + |b| = 1`` while in a position.

    Raises:
        BacktestError: On different lengths or non-positive prices with ``use_log``.
    """
    a = np.asarray(close_a, dtype=np.float64)
    b = np.asarray(close_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise BacktestError(f"pairs needs two aligned 1-D series, got {a.shape} and {b.shape}")
    if use_log:
        if np.any(a <= 0) or np.any(b <= 0):
            raise BacktestError("pairs with use_log=True needs strictly positive prices")
        ya, xb = np.log(a), np.log(b)
    else:
        ya, xb = a, b
    beta, z = rolling_residual_zscore(ya, xb, lookback)
    state = hysteresis_positions(z, entry_z, exit_z, allow_short=True)
    hedge = beta if use_log else beta * b / a
    return _leg_weights(state, np.ascontiguousarray(hedge))


def compute_pairs(candles: Sequence[Candles], params: BaseModel) -> list[np.ndarray]:
    """Registry entry point: targets of A (``candles[0]``) and B (``candles[1]``).

    Args:
        candles: Exactly two candle series with identical timestamps.
        params: A :class:`PairsParams`.

    Returns:
        ``[target_a, target_b]``.

    Raises:
        BacktestError: On a wrong number of series, misaligned bars or a wrong params type.
    """
    if len(candles) != 2:
        raise BacktestError(f"pairs trades two symbols, got {len(candles)} series")
    if not isinstance(params, PairsParams):
        raise BacktestError(f"pairs needs PairsParams, got {type(params).__name__}")
    first, second = candles
    if not np.array_equal(first.timestamp, second.timestamp):
        raise BacktestError(
            f"pairs needs aligned bars: {first.meta.symbol} and {second.meta.symbol} "
            "have different timestamps"
        )
    target_a, target_b = pairs_targets(
        first.close, second.close, params.lookback, params.entry_z, params.exit_z, params.use_log
    )
    return [target_a, target_b]

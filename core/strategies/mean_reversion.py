"""Z-score mean reversion with hysteresis: buy stretched lows, exit when the stretch fades.

``z = (close - rolling mean) / rolling std`` (sample std, current bar included). A causal state
machine (numba) turns z into targets:

* flat -> long (+1) when ``z < -entry_z``; flat -> short (-1) when ``z > entry_z`` and shorts
  are allowed;
* long -> flat when ``z > -exit_z``; short -> flat when ``z < exit_z``;
* exits are evaluated before entries on the same bar, so a jump from ``z < -entry_z`` to
  ``z > entry_z`` flips long -> short in one bar (when shorts are allowed);
* a bar with undefined z (zero variance, non-finite input) keeps the state.

Targets are NaN until the first bar with a defined z (the warm-up: ``lookback - 1`` bars at
least), then the state (0, +1 or -1) on every bar.
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
from core.strategies.indicators import rolling_zscore


class MeanReversionParams(ZBandParams):
    """Parameters of the z-score mean reversion."""

    lookback: int = Field(
        20, ge=2, le=1_000_000, description="Bars in the rolling mean/std window."
    )
    allow_short: bool = Field(False, description="Also short stretched highs.")


@njit(cache=True)
def hysteresis_from(z: np.ndarray, entry_z: float, exit_z: float, allow_short: bool,
                    fs: np.ndarray, ist: np.ndarray, out: np.ndarray) -> None:
    """Resumable state machine: ``fs`` = (state,), ``ist`` = (started,), updated in place."""
    state = fs[0]
    started = ist[0] != 0
    for i in range(len(z)):
        value = z[i]
        if np.isfinite(value):
            started = True
            if (state > 0 and value > -exit_z) or (state < 0 and value < exit_z):
                state = 0.0  # exit first, so a jump past the far band can flip below
            if state == 0:
                if value < -entry_z:
                    state = 1.0
                elif allow_short and value > entry_z:
                    state = -1.0
        if started:
            out[i] = state
    fs[0] = state
    ist[0] = 1 if started else 0


@njit(cache=True)
def _hysteresis(z: np.ndarray, entry_z: float, exit_z: float, allow_short: bool) -> np.ndarray:
    out = np.full(len(z), np.nan)
    hysteresis_from(z, entry_z, exit_z, allow_short, np.zeros(1), np.zeros(1, np.int64), out)
    return out


def hysteresis_positions(
    z: ArrayLike, entry_z: float, exit_z: float, allow_short: bool
) -> np.ndarray:
    """Run the entry/exit state machine described in the module docstring over ``z``.

    Args:
        z: Z-scores, NaN where undefined.
        entry_z: Entry threshold (> 0).
        exit_z: Exit threshold (>= 0, < entry_z).
        allow_short: Whether ``z > entry_z`` opens a short.

    Returns:
        Float64 array of states (+1, 0, -1); NaN before the first finite z.

    Raises:
        BacktestError: If the thresholds are inconsistent.
    """
    if not 0.0 <= exit_z < entry_z:
        raise BacktestError(f"need 0 <= exit_z < entry_z, got entry_z={entry_z}, exit_z={exit_z}")
    zz = np.ascontiguousarray(np.asarray(z, dtype=np.float64))
    if zz.ndim != 1:
        raise BacktestError(f"z must be one-dimensional, got shape {zz.shape}")
    return _hysteresis(zz, float(entry_z), float(exit_z), bool(allow_short))


def mean_reversion_targets(
    close: ArrayLike, lookback: int, entry_z: float, exit_z: float, allow_short: bool = False
) -> np.ndarray:
    """Target positions of the z-score mean reversion.

    Args:
        close: Closing prices.
        lookback: Window of the rolling mean and standard deviation (>= 2).
        entry_z: Entry threshold (> 0).
        exit_z: Exit threshold (>= 0, < entry_z).
        allow_short: Whether stretched highs are shorted.

    Returns:
        Float64 targets in {+1, 0, -1}; NaN during the warm-up.
    """
    return hysteresis_positions(rolling_zscore(close, lookback), entry_z, exit_z, allow_short)


def compute_mean_reversion(candles: Sequence[Candles], params: BaseModel) -> list[np.ndarray]:
    """Registry entry point: targets of the single symbol in ``candles``.

    Args:
        candles: Exactly one candle series.
        params: A :class:`MeanReversionParams`.

    Returns:
        A one-element list with the target array.

    Raises:
        BacktestError: On a wrong number of series or a wrong params type.
    """
    if len(candles) != 1:
        raise BacktestError(f"mean_reversion trades one symbol, got {len(candles)} series")
    if not isinstance(params, MeanReversionParams):
        raise BacktestError(
            f"mean_reversion needs MeanReversionParams, got {type(params).__name__}"
        )
    return [
        mean_reversion_targets(
            candles[0].close, params.lookback, params.entry_z, params.exit_z, params.allow_short
        )
    ]

"""Moving-average cross momentum: long while the fast average is above the slow one.

Targets follow the package convention (see :mod:`core.strategies`): one float64 per bar,
computed from closes up to and including that bar; NaN until the slow average is defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, Field, model_validator

from configs.base import StrictModel
from core.data.candles import Candles
from core.errors import BacktestError
from core.strategies.indicators import ema, rolling_mean


class MomentumParams(StrictModel):
    """Parameters of the moving-average cross."""

    fast: int = Field(20, ge=1, le=100_000, description="Bars in the fast moving average.")
    slow: int = Field(
        50, ge=2, le=1_000_000, description="Bars in the slow moving average; > fast."
    )
    allow_short: bool = Field(
        False, description="Go short (-1) when fast < slow instead of staying flat."
    )
    ma: Literal["sma", "ema"] = Field(
        "sma", description="Average type: simple, or exponential seeded by an SMA."
    )

    @model_validator(mode="after")
    def _slow_above_fast(self) -> Self:
        if self.slow <= self.fast:
            raise ValueError(
                f"slow must be greater than fast (got fast={self.fast}, slow={self.slow})"
            )
        return self


def momentum_targets(
    close: ArrayLike,
    fast: int,
    slow: int,
    allow_short: bool = False,
    ma: Literal["sma", "ema"] = "sma",
) -> np.ndarray:
    """Target positions of a moving-average cross.

    ``+1`` when the fast average is strictly above the slow one; when it is strictly below,
    ``-1`` if ``allow_short`` else ``0``; ``0`` when they are equal (e.g. a flat market), so a
    tie never opens a short.

    Args:
        close: Closing prices.
        fast: Fast window in bars (>= 1; 1 means the close itself).
        slow: Slow window in bars (> fast).
        allow_short: Whether a bearish cross goes short.
        ma: ``"sma"`` or ``"ema"`` (EMA with ``alpha = 2 / (span + 1)``, SMA-seeded).

    Returns:
        Float64 targets; NaN for the first ``slow - 1`` bars (and wherever an average is
        undefined because of non-finite input).

    Raises:
        BacktestError: If the windows are inconsistent or ``ma`` is unknown.
    """
    if not 1 <= fast < slow:
        raise BacktestError(f"need 1 <= fast < slow, got fast={fast}, slow={slow}")
    if ma == "sma":
        fast_ma, slow_ma = rolling_mean(close, fast), rolling_mean(close, slow)
    elif ma == "ema":
        fast_ma, slow_ma = ema(close, fast), ema(close, slow)
    else:
        raise BacktestError(f"unknown moving average {ma!r}; known: sma, ema")
    return cross_targets(fast_ma, slow_ma, allow_short)


def cross_targets(fast_ma: np.ndarray, slow_ma: np.ndarray, allow_short: bool) -> np.ndarray:
    """Targets of the cross from the two averages (elementwise; see :func:`momentum_targets`)."""
    bearish = -1.0 if allow_short else 0.0
    target = np.where(fast_ma > slow_ma, 1.0, np.where(fast_ma < slow_ma, bearish, 0.0))
    target[np.isnan(fast_ma) | np.isnan(slow_ma)] = np.nan
    return target


def compute_momentum(candles: Sequence[Candles], params: BaseModel) -> list[np.ndarray]:
    """Registry entry point: targets of the single symbol in ``candles``.

    Args:
        candles: Exactly one candle series.
        params: A :class:`MomentumParams`.

    Returns:
        A one-element list with the target array.

    Raises:
        BacktestError: On a wrong number of series or a wrong params type.
    """
    if len(candles) != 1:
        raise BacktestError(f"momentum trades one symbol, got {len(candles)} series")
    if not isinstance(params, MomentumParams):
        raise BacktestError(f"momentum needs MomentumParams, got {type(params).__name__}")
    return [
        momentum_targets(candles[0].close, params.fast, params.slow, params.allow_short, params.ma)
    ]

"""The series an expression reads: market columns plus derived ``returns`` and ``vwap``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.backtest.market import MarketArrays
from core.errors import DSLError


def _frozen(values: np.ndarray) -> np.ndarray:
    array = np.asfortranarray(values, dtype=np.float64)
    if array is values:
        array = array.copy(order="F")
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class AlphaData:
    """Terminal series as read-only ``(bars, symbols)`` F-order matrices.

    Attributes:
        timestamp: Bar open times (ms UTC).
        symbols: One name per column.
        series: Terminal name -> matrix.
    """

    timestamp: np.ndarray
    symbols: tuple[str, ...]
    series: dict[str, np.ndarray]

    @property
    def n_bars(self) -> int:
        """Number of bars."""
        return len(self.timestamp)

    @property
    def n_symbols(self) -> int:
        """Number of symbols (columns)."""
        return len(self.symbols)

    @classmethod
    def from_market(cls, market: MarketArrays) -> AlphaData:
        """Build the terminals from market arrays.

        ``returns`` is close over the previous close minus one (NaN on the first bar),
        ``vwap`` the typical price (high + low + close) / 3, ``funding`` the market's
        funding rates when it has them.
        """
        close = market.close
        returns = np.full(close.shape, np.nan, order="F")
        returns[1:] = close[1:] / close[:-1] - 1.0
        series = {
            "open": market.open, "high": market.high, "low": market.low, "close": close,
            "volume": market.volume, "returns": _frozen(returns),
            "vwap": _frozen((market.high + market.low + close) / 3.0),
        }
        if market.funding is not None:
            series["funding"] = market.funding
        return cls(market.timestamp, market.symbols, series)

    def window(self, start: int, stop: int) -> AlphaData:
        """Only bars ``[start, stop)``, as if the data began and ended there.

        ``returns`` is recomputed so its first bar is NaN again: nothing before ``start``
        leaks in.
        """
        series = {name: _frozen(values[start:stop]) for name, values in self.series.items()}
        returns = np.full(series["close"].shape, np.nan, order="F")
        close = series["close"]
        returns[1:] = close[1:] / close[:-1] - 1.0
        series["returns"] = _frozen(returns)
        return AlphaData(self.timestamp[start:stop], self.symbols, series)

    def get(self, name: str) -> np.ndarray:
        """The series ``name``.

        Raises:
            DSLError: If the data has no such series (e.g. ``funding`` on spot data).
        """
        try:
            return self.series[name]
        except KeyError:
            have = ", ".join(sorted(self.series))
            raise DSLError(f"terminal {name!r} is not available in this data (have: {have})"
                           ) from None

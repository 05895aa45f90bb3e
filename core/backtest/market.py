"""Market arrays for the backtester: aligned (bars x columns) matrices in column-major order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.data.candles import Candles
from core.errors import BacktestError


def _matrix(values: np.ndarray, name: str, n: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[0] != n:
        raise BacktestError(f"{name} must have shape (bars={n}, columns), got {array.shape}")
    array = np.asfortranarray(array)
    if array is values and array.flags.writeable:
        array = array.copy(order="F")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True)
class MarketArrays:
    """OHLCV (and optional spread/funding) as read-only ``(n_bars, n_columns)`` F-order matrices.

    Columns are assets; a single column can also be shared by many instruction columns
    (parameter sets), in which case the engine broadcasts it.

    Attributes:
        timestamp: int64 bar open times in ms UTC, shape ``(n_bars,)``.
        open: Opening prices.
        high: Highs.
        low: Lows.
        close: Closes.
        volume: Volumes in the base asset.
        timeframe_ms: Bar length in ms.
        symbols: One name per column.
        synthetic: True if any column was generated rather than observed.
        spread: Optional quoted spread in price units.
        funding: Optional funding rate settled at each bar's open (0 where none).
    """

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe_ms: int
    symbols: tuple[str, ...]
    synthetic: bool = False
    spread: np.ndarray | None = None
    funding: np.ndarray | None = None

    @property
    def n_bars(self) -> int:
        """Number of bars."""
        return int(self.close.shape[0])

    @property
    def n_columns(self) -> int:
        """Number of price columns."""
        return int(self.close.shape[1])

    @classmethod
    def from_arrays(
        cls,
        timestamp: np.ndarray,
        open: np.ndarray,  # noqa: A002 - OHLC naming
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        *,
        timeframe_ms: int,
        symbols: Sequence[str] | None = None,
        spread: np.ndarray | None = None,
        funding: np.ndarray | None = None,
        synthetic: bool = False,
        check: bool = True,
    ) -> MarketArrays:
        """Build market arrays from 1-D or 2-D numpy arrays.

        Args:
            timestamp: Bar open times (ms UTC), strictly increasing.
            open: Opening prices, shape ``(n,)`` or ``(n, k)``.
            high: Highs, same shape.
            low: Lows, same shape.
            close: Closes, same shape.
            volume: Volumes, same shape.
            timeframe_ms: Bar length in ms.
            symbols: Column names (defaults to ``col0``, ``col1``, ...).
            spread: Optional quoted spreads in price units.
            funding: Optional funding rates at bar opens.
            synthetic: Whether the data is generated.
            check: Verify finiteness, positivity and OHLC consistency (one vectorised pass).

        Raises:
            BacktestError: On inconsistent shapes or invalid values.
        """
        ts = np.ascontiguousarray(np.asarray(timestamp, dtype=np.int64))
        n = ts.shape[0]
        if ts.ndim != 1 or n < 2:
            raise BacktestError(f"need at least 2 bars of 1-D timestamps, got shape {ts.shape}")
        matrices = {
            name: _matrix(values, name, n)
            for name, values in (("open", open), ("high", high), ("low", low),
                                 ("close", close), ("volume", volume))
        }
        k = matrices["close"].shape[1]
        for name, matrix in matrices.items():
            if matrix.shape[1] != k:
                raise BacktestError(f"{name} has {matrix.shape[1]} columns, close has {k}")
        extra = {
            name: None if values is None else _matrix(values, name, n)
            for name, values in (("spread", spread), ("funding", funding))
        }
        names = tuple(symbols) if symbols is not None else tuple(f"col{j}" for j in range(k))
        if len(names) != k:
            raise BacktestError(f"{len(names)} symbols given for {k} columns")
        if check:
            _check_values(ts, matrices, extra)
        ts.setflags(write=False)
        return cls(timestamp=ts, open=matrices["open"], high=matrices["high"],
                   low=matrices["low"], close=matrices["close"], volume=matrices["volume"],
                   timeframe_ms=int(timeframe_ms), symbols=names, synthetic=synthetic,
                   spread=extra["spread"], funding=extra["funding"])

    @classmethod
    def from_candles(cls, candles: Sequence[Candles]) -> MarketArrays:
        """Stack validated candle series as columns, keeping the timestamps they all share.

        Raises:
            BacktestError: If no series is given, timeframes differ or nothing overlaps.
        """
        if not candles:
            raise BacktestError("no candle series given")
        timeframes = {c.meta.timeframe for c in candles}
        if len(timeframes) != 1:
            raise BacktestError(f"all series must share one timeframe, got {sorted(timeframes)}")
        common = candles[0].timestamp
        for series in candles[1:]:
            common = np.intersect1d(common, series.timestamp, assume_unique=True)
        if len(common) < 2:
            raise BacktestError("the series share fewer than 2 bars")
        picks = [np.searchsorted(c.timestamp, common) for c in candles]

        def stack(name: str) -> np.ndarray:
            return np.column_stack([getattr(c, name)[idx] for c, idx in zip(candles, picks,
                                                                              strict=True)])

        def optional(name: str) -> np.ndarray | None:
            if all(getattr(c, name) is None for c in candles):
                return None
            return np.column_stack([
                np.zeros(len(common)) if getattr(c, name) is None else getattr(c, name)[idx]
                for c, idx in zip(candles, picks, strict=True)
            ])

        return cls.from_arrays(
            common, stack("open"), stack("high"), stack("low"), stack("close"), stack("volume"),
            timeframe_ms=candles[0].timeframe_ms,
            symbols=[c.meta.symbol for c in candles],
            spread=optional("spread"), funding=optional("funding"),
            synthetic=any(c.meta.synthetic for c in candles), check=False,
        )

    def column(self, j: int) -> MarketArrays:
        """The single price column ``j`` as its own market."""
        def pick(values: np.ndarray) -> np.ndarray:
            return values[:, j : j + 1]

        def maybe(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else pick(values)

        return MarketArrays(
            timestamp=self.timestamp, open=pick(self.open), high=pick(self.high),
            low=pick(self.low), close=pick(self.close), volume=pick(self.volume),
            timeframe_ms=self.timeframe_ms, symbols=(self.symbols[j],),
            synthetic=self.synthetic, spread=maybe(self.spread), funding=maybe(self.funding),
        )


def _check_values(ts: np.ndarray, prices: dict[str, np.ndarray],
                  extra: dict[str, np.ndarray | None]) -> None:
    if np.any(np.diff(ts) <= 0):
        row = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise BacktestError(f"timestamps must increase strictly (row {row}, ts {ts[row]})")
    for name, matrix in {**prices, **{k: v for k, v in extra.items() if v is not None}}.items():
        bad = ~np.isfinite(matrix)
        if name in ("open", "high", "low", "close"):
            bad |= matrix <= 0.0
        elif name in ("volume", "spread"):
            bad |= matrix < 0.0
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise BacktestError(
                f"{name} has an invalid value {float(matrix[row, col])} at row {row}, "
                f"column {col}"
            )
    high, low = prices["high"], prices["low"]
    for name in ("open", "close"):
        outside = (prices[name] > high) | (prices[name] < low)
        if outside.any():
            row, col = np.argwhere(outside)[0]
            raise BacktestError(f"{name} outside [low, high] at row {row}, column {col}")

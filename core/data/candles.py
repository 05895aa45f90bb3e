"""Candles: one OHLCV series as immutable columnar numpy arrays plus its provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.timeframes import timeframe_to_ms
from core.errors import DataError

if TYPE_CHECKING:  # pandas loads only where frames are used (not in the trading actors)
    import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
OHLCV_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("spread", "funding")


@dataclass(frozen=True, slots=True)
class SeriesMeta:
    """Identity and provenance of a candle series.

    Attributes:
        venue: Venue token as used in file names, e.g. ``"BINANCE"`` or ``"BINANCEUSDM"``.
        symbol: ccxt-style symbol, e.g. ``"BTC/USDT"``.
        timeframe: Bar length, e.g. ``"1h"``.
        source: Human-readable origin (file path, URL or generator description).
        synthetic: True when the bars were generated rather than observed on a market.
        files: ``(path, sha256)`` of every file the bars were read from.
        filled_bars: Number of bars inserted by an explicit gap fill (0 when untouched).
        fill_method: Name of the gap-fill method used, or None when nothing was filled.
    """

    venue: str
    symbol: str
    timeframe: str
    source: str = ""
    synthetic: bool = False
    files: tuple[tuple[str, str], ...] = ()
    filled_bars: int = 0
    fill_method: str | None = None

    def provenance(self) -> dict[str, Any]:
        """Return the provenance as a JSON-serialisable dict for artifacts."""
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "source": self.source,
            "synthetic": self.synthetic,
            "files": [{"path": path, "sha256": digest} for path, digest in self.files],
            "filled_bars": self.filled_bars,
            "fill_method": self.fill_method,
        }


def _frozen(values: Any, dtype: type, name: str) -> np.ndarray:
    array: np.ndarray = np.ascontiguousarray(np.asarray(values, dtype=dtype))
    if array.ndim != 1:
        raise DataError(f"column {name!r} must be one-dimensional, got shape {array.shape}")
    if array.flags.writeable:
        if array is values or array.base is not None:
            array = array.copy()  # never freeze or alias the caller's buffer
        array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True)
class Candles:
    """An OHLCV series as read-only columnar arrays.

    Timestamps are bar **open** times in milliseconds since the epoch (UTC). Construction only
    normalises dtypes and checks that the columns have equal lengths; content checks (NaN,
    ordering, OHLC consistency, ...) live in :func:`core.data.validation.validate_candles`,
    which every reader calls.

    Attributes:
        timestamp: int64 open times, ms UTC.
        open: float64 opening prices.
        high: float64 highs.
        low: float64 lows.
        close: float64 closing prices.
        volume: float64 volumes in the base asset.
        meta: Identity and provenance.
        spread: Optional float64 quoted bid/ask spread in price units.
        funding: Optional float64 funding rate settled at each bar's open (0 where none).
    """

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    meta: SeriesMeta
    spread: np.ndarray | None = field(default=None)
    funding: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamp", _frozen(self.timestamp, np.int64, "timestamp"))
        n = len(self.timestamp)
        for name in ("open", "high", "low", "close", "volume", "spread", "funding"):
            values = getattr(self, name)
            if values is None:
                continue
            array = _frozen(values, np.float64, name)
            if len(array) != n:
                raise DataError(
                    f"column {name!r} has {len(array)} rows but timestamp has {n} "
                    f"({self.meta.source or self.meta.symbol})"
                )
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.timestamp)

    @property
    def timeframe_ms(self) -> int:
        """Length of one bar in milliseconds."""
        return timeframe_to_ms(self.meta.timeframe)

    def replace(self, **changes: Any) -> Candles:
        """Return a copy with the given fields replaced (arrays are re-validated for shape)."""
        return dataclasses.replace(self, **changes)

    def take(self, index: slice | np.ndarray) -> Candles:
        """Return the bars selected by a slice or an index/boolean array."""
        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[index]

        return Candles(
            timestamp=self.timestamp[index],
            open=self.open[index],
            high=self.high[index],
            low=self.low[index],
            close=self.close[index],
            volume=self.volume[index],
            meta=self.meta,
            spread=pick(self.spread),
            funding=pick(self.funding),
        )

    def between(self, start_ms: int | None = None, end_ms: int | None = None) -> Candles:
        """Return the bars whose open time lies in ``[start_ms, end_ms)``; None means unbounded."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.timestamp, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.timestamp, end_ms, "left"))
        return self.take(slice(lo, max(lo, hi)))

    def to_frame(self) -> pd.DataFrame:
        """Return the bars as a DataFrame with the store's column names."""
        columns: dict[str, np.ndarray] = {name: getattr(self, name) for name in OHLCV_COLUMNS}
        for name in OPTIONAL_COLUMNS:
            values = getattr(self, name)
            if values is not None:
                columns[name] = values
        import pandas as pd

        return pd.DataFrame(columns)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, meta: SeriesMeta) -> Candles:
        """Build candles from a DataFrame holding at least the OHLCV columns.

        Raises:
            DataError: If a required column is missing.
        """
        missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
        if missing:
            raise DataError(
                f"{meta.source or meta.symbol}: missing column(s) {missing}; "
                f"expected {list(OHLCV_COLUMNS)}"
            )
        optional = {
            name: frame[name].to_numpy() for name in OPTIONAL_COLUMNS if name in frame.columns
        }
        return cls(
            timestamp=frame["timestamp"].to_numpy(),
            open=frame["open"].to_numpy(),
            high=frame["high"].to_numpy(),
            low=frame["low"].to_numpy(),
            close=frame["close"].to_numpy(),
            volume=frame["volume"].to_numpy(),
            meta=meta,
            **optional,
        )

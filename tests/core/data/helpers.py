"""Builders shared by the core/data tests: hand-made candles and real shared files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data import Candles, SeriesMeta, timeframe_to_ms

T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC
HOUR = 3_600_000


def make_candles(
    closes: list[float] | np.ndarray,
    *,
    timeframe: str = "1h",
    start_ms: int = T0,
    timestamps: list[int] | np.ndarray | None = None,
    source: str = "unit-test",
    **columns: list[float] | np.ndarray,
) -> Candles:
    """Consistent bars around ``closes`` (open = previous close); columns override."""
    close = np.asarray(closes, dtype=np.float64)
    step = timeframe_to_ms(timeframe)
    ts = (
        start_ms + np.arange(len(close), dtype=np.int64) * step
        if timestamps is None
        else np.asarray(timestamps, dtype=np.int64)
    )
    open_ = np.concatenate([close[:1], close[:-1]])
    data: dict[str, np.ndarray] = {
        "open": open_,
        "high": np.maximum(open_, close) + 1.0,
        "low": np.minimum(open_, close) - 1.0,
        "close": close,
        "volume": np.full(len(close), 10.0),
    }
    data.update({name: np.asarray(values, dtype=np.float64) for name, values in columns.items()})
    return Candles(
        timestamp=ts,
        meta=SeriesMeta("TEST", "BTC/USDT", timeframe, source=source),
        **data,
    )


def load_shared(shared_data: Path, name: str) -> Candles:
    """Read ``ohlcv/<name>.parquet`` from the shared data folder (I/O lives in the tests)."""
    venue, token, timeframe = name.split("_")
    path = shared_data / "ohlcv" / f"{name}.parquet"
    meta = SeriesMeta(venue, token.replace("-", "/"), timeframe, source=str(path))
    return Candles.from_frame(pd.read_parquet(path), meta)

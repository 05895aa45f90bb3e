"""Helpers for strategy tests: synthetic candles labelled as such."""

from __future__ import annotations

import numpy as np

from core.data.candles import Candles, SeriesMeta
from core.data.timeframes import HOUR_MS


def make_candles(close: np.ndarray, symbol: str = "AAA/USDT", start_ms: int = 0) -> Candles:
    """Synthetic hourly candles whose OHLC all equal ``close``."""
    close = np.asarray(close, dtype=np.float64)
    n = len(close)
    return Candles(
        timestamp=start_ms + np.arange(n, dtype=np.int64) * HOUR_MS,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=np.ones(n),
        meta=SeriesMeta(
            venue="SYNTH", symbol=symbol, timeframe="1h", source="test", synthetic=True
        ),
    )


def random_walk(n: int, seed: int, vol: float = 0.01, start: float = 100.0) -> np.ndarray:
    """Geometric random walk of ``n`` closes."""
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))

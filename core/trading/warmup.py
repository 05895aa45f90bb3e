"""Warm-up: the trading code run once on a tiny made-up market.

A fresh process then loads (or compiles) its numba kernels before its first real step, not
during it.

The market is synthetic and thrown away; nothing of it reaches a book, a store or a file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.trading.book import PaperBook
from core.trading.choice import StrategyChoice
from core.trading.messages import MarketBatch, Signal

WARMUP_BARS = 64
_T0 = 1_514_764_800_000


def _market(symbols: Sequence[str], timeframe_ms: int, bars: int = WARMUP_BARS
            ) -> MarketBatch:
    rng = np.random.default_rng(0)
    steps = rng.normal(0.0, 0.01, size=(bars, len(symbols)))
    close = 100.0 * np.exp(np.cumsum(steps, axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    ts = _T0 + np.arange(bars, dtype=np.int64) * timeframe_ms
    funding = np.where(np.arange(bars)[:, None] % 8 == 0, 1e-4, 0.0) * np.ones((1, len(symbols)))
    arrays = [_readonly(a) for a in (ts, open_, high, low, close,
                                     np.full((bars, len(symbols)), 1e6), funding)]
    # read-only C arrays, as the feeds' aligned batches: numba specialises on that
    return MarketBatch(-1, 0, "WARMUP", tuple(symbols), timeframe_ms, *arrays[:6],
                       funding=arrays[6])


def _readonly(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    values.flags.writeable = False
    return values


def warm_up_trading(config: BacktestConfig, symbols: Sequence[str], timeframe_ms: int,
                    risk: RiskLimits | None = None) -> None:
    """Trade a made-up market once through a paper book with this configuration."""
    batch = _market(symbols, timeframe_ms)
    targets = (1.0, -1.0, 0.0, 1.0)
    signals = [Signal("warmup", s, int(batch.ts[8 + 12 * k]), targets[k % len(targets)])
               for k in range(4) for s in symbols]
    book = PaperBook(config, symbols, timeframe_ms, risk=risk)
    book.step(batch, sorted(signals, key=lambda s: s.ts))


def warm_up_strategy(choice: StrategyChoice, symbols: Sequence[str], timeframe_ms: int
                     ) -> None:
    """Run throwaway runners of ``choice`` over a made-up market.

    Errors are ignored here: the real runners report them.
    """
    from core.trading.runners import build_runners, run_batch

    try:
        run_batch(build_runners(choice, symbols), _market(symbols, timeframe_ms, 512))
    except Exception:  # noqa: BLE001 - a strategy that fails here fails for real later
        return

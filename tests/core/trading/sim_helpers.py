"""Builders shared by the tests of the new trading core (paper client, portfolio, trader).

Markets are :class:`~core.backtest.MarketArrays` (what ``run_backtest`` takes) cut into
:class:`~core.trading.messages.MarketBatch` pieces (what the paper venue and the trader take);
targets become :class:`~core.trading.messages.Signal` at each change, as the backtester reads
them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.backtest import MarketArrays
from core.backtest.layout import O_BAR, O_FEE, O_PRICE, O_QTY, O_REASON, O_SIDE, REASON_NAMES
from core.data.candles import Candles
from core.data.funding import FundingRates, align_funding
from core.trading.book import PaperBook
from core.trading.messages import Fill, MarketBatch, Side, Signal
from core.trading.trader import StepOutcome
from tests.core.data.helpers import load_shared

HOUR = 3_600_000
BTC, ETH = "BTC/USDT", "ETH/USDT"
NO_COSTS = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, "half_spread_bps": 0.0}


def market_of(ts: Sequence[int] | np.ndarray, open_: np.ndarray | Sequence[float],
              high: np.ndarray | Sequence[float], low: np.ndarray | Sequence[float],
              close: np.ndarray | Sequence[float], volume: np.ndarray | Sequence[float],
              symbols: Sequence[str] = (BTC,), funding: np.ndarray | None = None
              ) -> MarketArrays:
    """Hand-made or generated bars (1-D arrays: one symbol)."""
    return MarketArrays.from_arrays(np.asarray(ts, dtype=np.int64), np.asarray(open_),
                                    np.asarray(high), np.asarray(low), np.asarray(close),
                                    np.asarray(volume), timeframe_ms=HOUR,
                                    symbols=tuple(symbols), funding=funding, synthetic=True)


def hand_market(open_: Sequence[float], high: Sequence[float], low: Sequence[float],
                close: Sequence[float], symbol: str = BTC, volume: float = 1e9,
                funding: Sequence[float] | None = None) -> MarketArrays:
    """One symbol, bars at 0, 1h, 2h, ... (golden tests)."""
    n = len(close)
    return market_of(np.arange(n, dtype=np.int64) * HOUR, open_, high, low, close,
                     [volume] * n, (symbol,),
                     None if funding is None else np.asarray(funding, dtype=np.float64))


def batch_of(market: MarketArrays, a: int = 0, b: int | None = None, seq: int = 0
             ) -> MarketBatch:
    """Bars ``[a, b)`` of ``market`` as batch ``seq`` (funding included when present)."""
    cut = slice(a, market.n_bars if b is None else b)
    return MarketBatch(seq, a, "TEST", market.symbols, market.timeframe_ms,
                       market.timestamp[cut], market.open[cut], market.high[cut],
                       market.low[cut], market.close[cut], market.volume[cut],
                       None if market.funding is None else market.funding[cut])


def cuts(n: int, size: int | Sequence[int] | None) -> list[tuple[int, int]]:
    """``[a, b)`` bounds: one batch (None), batches of ``size`` bars, or the given lengths."""
    if size is None:
        return [(0, n)]
    if isinstance(size, int):
        return [(a, min(a + size, n)) for a in range(0, n, size)]
    bounds, a = [], 0
    for length in size:
        if a >= n:
            break
        bounds.append((a, min(a + length, n)))
        a = bounds[-1][1]
    if a < n:
        bounds.append((a, n))
    return bounds


def batches(market: MarketArrays, size: int | Sequence[int] | None) -> Iterator[MarketBatch]:
    """The market cut into consecutive batches (see :func:`cuts`)."""
    for seq, (a, b) in enumerate(cuts(market.n_bars, size)):
        yield batch_of(market, a, b, seq)


def signals_from_targets(targets: np.ndarray, ts: np.ndarray, strategy: str, symbol: str,
                         tag: str = "core") -> list[Signal]:
    """One Signal per target change (NaN = keep), as the backtester reads targets."""
    out, last = [], np.nan
    for i, value in enumerate(targets):
        if value == value and value != last:
            out.append(Signal(strategy, symbol, int(ts[i]), float(value), tag=tag))
            last = value
    return out


def split_signals(signals: Sequence[Signal], when: np.ndarray, batch: MarketBatch
                  ) -> list[Signal]:
    """The signals on the batch's bars (``signals`` sorted by time, ``when`` their times)."""
    lo = int(np.searchsorted(when, batch.ts[0], side="left"))
    hi = int(np.searchsorted(when, batch.ts[-1], side="right"))
    return list(signals[lo:hi])


def signal_times(signals: Sequence[Signal]) -> np.ndarray:
    """The signals' bar times (for :func:`split_signals`)."""
    return np.fromiter((s.ts for s in signals), dtype=np.int64, count=len(signals))


def run_book(book: PaperBook, market: MarketArrays, signals: Sequence[Signal],
             size: int | Sequence[int] | None
             ) -> tuple[np.ndarray, list[Fill], list[StepOutcome]]:
    """Step every batch with its signals; returns (equity, fills, outcomes)."""
    ordered = sorted(signals, key=lambda s: s.ts)
    when = signal_times(ordered)
    outcomes = [book.step(batch, split_signals(ordered, when, batch))
                for batch in batches(market, size)]
    equity = np.concatenate([o.equity for o in outcomes])
    return equity, [f for o in outcomes for f in o.fills], outcomes


def assert_same_fills(fills: Sequence[Fill], orders: np.ndarray, ts: np.ndarray) -> None:
    """Venue fills equal the kernel's order rows (no column index) bit for bit."""
    assert len(fills) == len(orders)
    if not fills:
        return
    bars = np.searchsorted(ts, [f.ts for f in fills])
    np.testing.assert_array_equal(bars, orders[:, O_BAR])
    np.testing.assert_array_equal([1.0 if f.side is Side.BUY else -1.0 for f in fills],
                                  orders[:, O_SIDE])
    np.testing.assert_array_equal([f.quantity for f in fills], orders[:, O_QTY])
    np.testing.assert_array_equal([f.price for f in fills], orders[:, O_PRICE])
    np.testing.assert_array_equal([f.fee for f in fills], orders[:, O_FEE])
    assert [f.reason for f in fills] == [REASON_NAMES[int(r)] for r in orders[:, O_REASON]]


def random_market(seed: int, n: int, symbols: Sequence[str] = (BTC,), *,
                  funding: bool = False, vol: float = 0.02) -> MarketArrays:
    """Seeded random walks (fat tails, gaps, some zero-volume bars), one column per symbol."""
    rng = np.random.default_rng(seed)
    k = len(symbols)
    close = 100.0 * np.exp(np.cumsum(rng.standard_t(4, (n, k)) * vol, axis=0))
    open_ = np.vstack([np.full((1, k), 100.0), close[:-1]]) * np.exp(rng.normal(0, 0.005, (n, k)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, (n, k))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, (n, k))))
    volume = rng.lognormal(3.0, 1.0, (n, k)) * (rng.random((n, k)) > 0.05)
    rates = None
    if funding:
        sparse = rng.random((n, k)) < 0.15
        rates = np.where(sparse, rng.normal(0.0, 0.002, (n, k)), 0.0)
    return market_of(np.arange(n, dtype=np.int64) * HOUR, open_, high, low, close, volume,
                     symbols, rates)


def window(market: MarketArrays, a: int, b: int) -> MarketArrays:
    """Bars ``[a, b)`` of ``market`` as their own market."""
    cut = slice(a, b)
    return MarketArrays.from_arrays(
        market.timestamp[cut], market.open[cut], market.high[cut], market.low[cut],
        market.close[cut], market.volume[cut], timeframe_ms=market.timeframe_ms,
        symbols=market.symbols, funding=None if market.funding is None else market.funding[cut],
        check=False)


def load_perpetual(shared_data: Path, token: str = "BTC-USDT") -> Candles:
    """The BINANCEUSDM 1h perpetual with its funding rates on the settlement bars."""
    candles = load_shared(shared_data, f"BINANCEUSDM_{token}_1h")
    path = shared_data / "funding" / f"BINANCEUSDM_{token}_funding_rate.parquet"
    frame = pd.read_parquet(path)
    rates = FundingRates(frame["timestamp"].to_numpy(np.int64),
                         frame["funding_rate"].to_numpy(np.float64), str(path))
    return align_funding(candles, rates, strict=False).candles

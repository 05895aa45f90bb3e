"""The broker walked in batches reproduces ``run_backtest`` bit for bit on real BTC/USDT 1h.

Targets of the built-in strategies become Signals at each target change; the walk (gate:
ApproveAll) over the same bars in one batch, batches of 500 and batches of 97 must give the
backtester's equity at every close, its fills (bar, quantity, price, fee) and its final cash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.backtest.layout import O_BAR, O_CASH, O_FEE, O_PRICE, O_QTY, O_REASON, REASON_NAMES
from core.data.candles import Candles
from core.strategies import get_strategy
from core.trading.broker import PaperBroker
from core.trading.messages import Fill, MarketBatch, Signal
from core.trading.walk import ApproveAll, BatchOutcome, OrderGate, walk_batch
from tests.core.data.helpers import load_shared

BTC = "BTC/USDT"


def signals_from_targets(targets: np.ndarray, ts: np.ndarray, strategy: str, symbol: str,
                         tag: str = "core") -> list[Signal]:
    """One Signal per target change (NaN = no instruction), as the backtester reads targets."""
    out, last = [], np.nan
    for i, value in enumerate(targets):
        if value == value and value != last:
            out.append(Signal(strategy, symbol, int(ts[i]), float(value), tag=tag))
            last = value
    return out


def batches(market: MarketArrays, size: int | None) -> Iterator[MarketBatch]:
    """The market cut into consecutive batches of ``size`` bars (None = one batch)."""
    n = market.n_bars
    step = size or n
    for seq, start in enumerate(range(0, n, step)):
        cut = slice(start, min(start + step, n))
        yield MarketBatch(seq, start, "BINANCE", market.symbols, market.timeframe_ms,
                          market.timestamp[cut], market.open[cut], market.high[cut],
                          market.low[cut], market.close[cut], market.volume[cut])


def walk_all(broker: PaperBroker, market: MarketArrays, signals: Sequence[Signal],
             size: int | None, gate: OrderGate | None = None
             ) -> tuple[np.ndarray, list[Fill], list[BatchOutcome]]:
    """Walk every batch with its signals; returns (equity, fills, outcomes)."""
    ordered = sorted(signals, key=lambda s: s.ts)
    when = np.array([s.ts for s in ordered], dtype=np.int64)
    outcomes = []
    for batch in batches(market, size):
        lo, hi = np.searchsorted(when, [batch.ts[0], batch.ts[-1]], side="left")
        hi = np.searchsorted(when, batch.ts[-1], side="right")
        outcomes.append(walk_batch(broker, batch, ordered[lo:hi], gate or ApproveAll()))
    equity = np.concatenate([o.equity for o in outcomes])
    return equity, [f for o in outcomes for f in o.fills], outcomes


def assert_same_fills(fills: Sequence[Fill], orders: np.ndarray, ts: np.ndarray) -> None:
    """Broker fills equal the kernel's order rows (no column index) bit for bit."""
    assert len(fills) == len(orders)
    bars = np.searchsorted(ts, [f.ts for f in fills])
    np.testing.assert_array_equal(bars, orders[:, O_BAR])
    np.testing.assert_array_equal([f.quantity for f in fills], orders[:, O_QTY])
    np.testing.assert_array_equal([f.price for f in fills], orders[:, O_PRICE])
    np.testing.assert_array_equal([f.fee for f in fills], orders[:, O_FEE])
    assert [f.reason for f in fills] == [REASON_NAMES[int(r)] for r in orders[:, O_REASON]]


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Candles:
    return load_shared(shared_data, "BINANCE_BTC-USDT_1h")


CASES = {
    "momentum_long_only": ("momentum", {}, BacktestConfig()),
    "mean_reversion_short_stops": (
        "mean_reversion", {"allow_short": True},
        BacktestConfig(direction="long_short", sizing={"fraction": 0.5}, lot_size=1e-5,
                       costs={"impact_coef": 0.1, "half_spread_bps": 2.0},
                       stops={"stop_loss_pct": 2.0, "take_profit_pct": 3.0,
                              "time_stop_bars": 24})),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest, btc: Candles
         ) -> tuple[str, MarketArrays, list[Signal], BacktestConfig, np.ndarray]:
    name, params, config = CASES[request.param]
    spec = get_strategy(name)
    (targets,) = spec.compute([btc], spec.params_model(**params))
    market = MarketArrays.from_candles([btc])
    result = run_backtest(market, Targets(targets), config)
    signals = signals_from_targets(targets, market.timestamp, name, BTC)
    return request.param, market, signals, config, result


@pytest.mark.parametrize("size", [None, 500, 97])
def test_walk_equals_backtest(case: tuple, size: int | None) -> None:
    name, market, signals, config, result = case
    broker = PaperBroker(config, [BTC])
    equity, fills, outcomes = walk_all(broker, market, signals, size)
    assert np.max(np.abs(equity - result.equity[:, 0])) <= 1e-9
    assert_same_fills(fills, result.orders[:, 1:], market.timestamp)
    assert broker.cash == result.orders[-1, 1 + O_CASH]
    assert outcomes[-1].portfolio.equity == pytest.approx(result.equity[-1, 0], abs=1e-9)
    reasons = {f.reason for f in fills}
    if name == "mean_reversion_short_stops":  # the case really exercises every exit kind
        assert reasons == {"signal", "stop_loss", "take_profit", "time_stop"}
        assert any(f.side == "SELL" and f.quantity > 0 for f in fills)
    assert len(fills) > 1000

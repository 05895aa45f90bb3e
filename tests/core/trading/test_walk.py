"""walk_batch: gates, halts, the guardian/executor contract, resumption, shared cash, ruin."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.strategies import get_strategy
from core.trading.broker import PaperBroker
from core.trading.messages import (
    MarketBatch,
    OrderRequest,
    OrderStatus,
    PortfolioSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
    TradingState,
)
from core.trading.walk import HALT_REASON, ApproveAll, ApprovedOnly, walk_batch
from tests.core.data.helpers import load_shared
from tests.core.trading.test_backtest_equivalence import (
    assert_same_fills,
    batches,
    signals_from_targets,
    walk_all,
)

BTC, ETH = "BTC/USDT", "ETH/USDT"
HOUR = 3_600_000
NO_COSTS = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, "half_spread_bps": 0.0}


class HaltBelow:
    """A real gate: HALTED once the equity closes below ``floor``; denies while halted."""

    def __init__(self, floor: float) -> None:
        self.floor = floor
        self._state = TradingState.ACTIVE

    @property
    def state(self) -> TradingState:
        return self._state

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        if self._state is TradingState.HALTED:
            return RiskDecision(request.client_order_id, request.ts, False, HALT_REASON,
                                state=self._state)
        return RiskDecision(request.client_order_id, request.ts, True, state=self._state)

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        if self._state is TradingState.ACTIVE:
            below = np.flatnonzero(equity < self.floor)
            if len(below):
                k = int(below[0])
                self._state = TradingState.HALTED
                return k + 1, [RiskEvent(int(ts[k]), "state", "drawdown_halt",
                                         state=self._state)]
        return len(ts), []


class HaltAfterApprovals(HaltBelow):
    """Approves ``n`` orders, then halts inside ``check`` (a kill switch mid-bar)."""

    def __init__(self, n: int) -> None:
        super().__init__(-np.inf)
        self.left = n

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        decision = super().check(request, portfolio, last_prices)
        self.left -= 1
        if self.left <= 0:
            self._state = TradingState.HALTED
        return decision


class Toggler:
    """Flips ACTIVE <-> REDUCING every ``period`` observed bars; records what it saw."""

    def __init__(self, period: int) -> None:
        self.period, self.count = period, 0
        self._state = TradingState.ACTIVE
        self.seen_ts: list[np.ndarray] = []
        self.seen_equity: list[np.ndarray] = []

    @property
    def state(self) -> TradingState:
        return self._state

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        ok = self._state is TradingState.ACTIVE or request.reduce_only
        return RiskDecision(request.client_order_id, request.ts, ok,
                            "" if ok else "trading_state_reducing", state=self._state)

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        k = min(len(ts), self.period - self.count % self.period)
        self.seen_ts.append(ts[:k].copy())
        self.seen_equity.append(equity[:k].copy())
        self.count += k
        if self.count % self.period == 0:
            self._state = (TradingState.REDUCING if self._state is TradingState.ACTIVE
                           else TradingState.ACTIVE)
            return k, [RiskEvent(int(ts[k - 1]), "state", "toggle", state=self._state)]
        return k, []


def synthetic_batch(seq: int, start: int, open_: list[float], high: list[float],
                    low: list[float], close: list[float], symbol: str = BTC) -> MarketBatch:
    """Hand-made bars (synthetic, for golden values)."""
    def col(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).reshape(-1, 1)

    ts = (start + np.arange(len(close), dtype=np.int64)) * HOUR
    return MarketBatch(seq, start, "SYNTH", (symbol,), HOUR, ts, col(open_), col(high),
                       col(low), col(close), col([1e9] * len(close)))


@pytest.fixture(scope="module")
def btc_market(shared_data: Path) -> tuple[MarketArrays, np.ndarray]:
    candles = load_shared(shared_data, "BINANCE_BTC-USDT_1h")
    spec = get_strategy("momentum")
    (targets,) = spec.compute([candles], spec.params_model(allow_short=True))
    market = MarketArrays.from_candles([candles])
    return market, targets


def test_rejects_bad_signals_and_batches() -> None:
    batch = synthetic_batch(0, 0, [100.0] * 3, [101.0] * 3, [99.0] * 3, [100.0] * 3)
    broker = PaperBroker(BacktestConfig(), [BTC])
    with pytest.raises(ValueError, match="not a bar of batch 0"):
        walk_batch(broker, batch, [Signal("s", BTC, HOUR + 1, 1.0)], ApproveAll())
    with pytest.raises(ValueError, match="unknown symbol"):
        walk_batch(broker, batch, [Signal("s", ETH, HOUR, 1.0)], ApproveAll())
    with pytest.raises(ValueError, match="two signals"):
        walk_batch(broker, batch, [Signal("s", BTC, HOUR, 1.0), Signal("s", BTC, HOUR, 0.0)],
                   ApproveAll())
    with pytest.raises(ValueError, match="differ from the broker"):
        walk_batch(PaperBroker(BacktestConfig(), [BTC, ETH]), batch, [], ApproveAll())
    assert broker.last_ts is None  # validation happens before anything moves
    walk_batch(broker, batch, [], ApproveAll())
    with pytest.raises(ValueError, match="not after the broker's last bar"):
        walk_batch(broker, batch, [], ApproveAll())


def test_stop_override_excursions_and_a_carried_over_order_golden() -> None:
    config = BacktestConfig(costs=NO_COSTS, min_notional=0.0)
    broker = PaperBroker(config, [BTC])
    # bar 1 decides (close 100); its order waits for the next batch's first open
    first = synthetic_batch(0, 0, [100.0, 100.0], [100.0, 100.0], [100.0, 100.0],
                            [100.0, 100.0])
    out = walk_batch(broker, first, [Signal("s", BTC, HOUR, 1.0, stop_loss_pct=5.0)],
                     ApproveAll())
    (request,) = out.requests
    assert out.fills == () and [u.status for u in out.order_updates] == [OrderStatus.ACCEPTED]
    assert [o.client_order_id for o in broker.working_orders()] == [request.client_order_id]
    second = synthetic_batch(1, 2, [100.0, 101.0], [104.0, 103.0], [97.0, 96.0],
                             [101.0, 99.0])
    out = walk_batch(broker, second, [], ApproveAll())
    (fill,) = out.fills
    assert (fill.ts, fill.quantity, fill.price) == (2 * HOUR, 100.0, 100.0)
    (pos,) = out.portfolio.positions
    assert (pos.mae, pos.mfe) == (100.0 * (96.0 - 100.0), 100.0 * (104.0 - 100.0))
    assert (pos.opened_ts, pos.last_price, pos.unrealized_pnl) == (2 * HOUR, 99.0, -100.0)
    np.testing.assert_array_equal(out.equity, [10_100.0, 9_900.0])
    # stop at 100 * (1 - 5%) = 95: bar 4 trades down to 94 -> out at 95 (no costs here)
    third = synthetic_batch(2, 4, [98.0, 95.0], [99.0, 96.0], [94.0, 94.0], [95.0, 95.0])
    out = walk_batch(broker, third, [], ApproveAll())
    (stop,) = out.fills
    assert (stop.reason, stop.price, stop.quantity, stop.ts) == ("stop_loss", 95.0, 100.0,
                                                                  4 * HOUR)
    assert out.portfolio.positions == () and broker.cash == 9_500.0
    np.testing.assert_array_equal(out.equity, [9_500.0, 9_500.0])


def test_approved_only_denies_unknown_ids(btc_market: tuple) -> None:
    market, targets = btc_market
    a = signals_from_targets(targets, market.timestamp, "a", BTC)
    b = signals_from_targets(-targets, market.timestamp, "b", BTC, tag="swing")
    config = BacktestConfig(direction="long_short", sizing={"fraction": 0.3})
    alone = PaperBroker(config, [BTC])
    equity_a, fills_a, outcomes_a = walk_all(alone, market, a, 2000)
    ids = frozenset(d.client_order_id for o in outcomes_a for d in o.decisions)
    executor = PaperBroker(config, [BTC])
    equity, fills, outcomes = walk_all(executor, market, a + b, 2000, ApprovedOnly(ids))
    np.testing.assert_array_equal(equity, equity_a)
    assert fills == fills_a
    denied = [d for o in outcomes for d in o.decisions if not d.approved]
    assert len(denied) > 100
    assert {d.reason for d in denied} == {"not_approved_by_guardian"}
    events = [e for o in outcomes for e in o.risk_events]
    assert [e.client_order_id for e in events] == [d.client_order_id for d in denied]
    assert {e.kind for e in events} == {"denied"}
    assert all(executor.order(d.client_order_id).status is OrderStatus.DENIED for d in denied)


def test_guardian_shadow_and_executor_agree_through_a_halt(btc_market: tuple) -> None:
    market, targets = btc_market
    signals = signals_from_targets(targets, market.timestamp, "m", BTC)
    config = BacktestConfig(direction="long_short", stops={"stop_loss_pct": 4.0})
    gate = HaltBelow(floor=0.8 * config.initial_cash)
    executor = PaperBroker(config, [BTC])
    when = np.array([s.ts for s in signals])
    halted_at = None
    for batch in batches(market, 500):
        lo, hi = np.searchsorted(when, [batch.ts[0], batch.ts[-1] + 1])
        mine = signals[lo:hi]
        shadow = PaperBroker.from_state(executor.state)
        guardian = walk_batch(shadow, batch, mine, gate)
        executed = walk_batch(executor, batch, mine, ApprovedOnly(guardian.approved_ids))
        assert shadow.state_hash() == executor.state_hash()
        np.testing.assert_array_equal(guardian.equity, executed.equity)
        assert guardian.fills == executed.fills
        if halted_at is None and gate.state is TradingState.HALTED:
            halted_at = batch.seq
            (event,) = [e for e in guardian.risk_events if e.kind == "state"]
            tripped = int(np.searchsorted(batch.ts, event.ts))
            assert guardian.equity[tripped] < gate.floor <= guardian.equity[:tripped].min()
        elif halted_at is not None:
            # halted: every signal is denied, only client-side stops may still close
            assert all(not d.approved for d in guardian.decisions)
            assert {f.reason for f in guardian.fills} <= {"stop_loss"}
    assert halted_at is not None


def test_an_order_approved_then_cancelled_by_a_halt_in_the_same_bar() -> None:
    config = BacktestConfig(costs=NO_COSTS, min_notional=0.0, sizing={"fraction": 0.4})
    batch = synthetic_batch(0, 0, [100.0] * 3, [100.0] * 3, [100.0] * 3, [100.0] * 3)
    signals = [Signal("s", BTC, HOUR, 1.0), Signal("s", BTC, HOUR, 1.0, tag="swing")]
    before = PaperBroker(config, [BTC]).state
    shadow = PaperBroker.from_state(before)
    out = walk_batch(shadow, batch, signals, HaltAfterApprovals(1))
    first, second = out.decisions
    assert first.approved and not second.approved
    cancels = [u for u in out.order_updates if u.status is OrderStatus.CANCELED]
    assert [(u.client_order_id, u.reason) for u in cancels] == [
        (first.client_order_id, HALT_REASON)]
    assert out.approved_ids == frozenset() and out.fills == ()
    executor = PaperBroker.from_state(before)
    replay = walk_batch(executor, batch, signals, ApprovedOnly(out.approved_ids))
    assert executor.state_hash() == shadow.state_hash()
    np.testing.assert_array_equal(replay.equity, out.equity)


def test_observe_sees_every_bar_once_in_order(btc_market: tuple) -> None:
    market, targets = btc_market
    signals = signals_from_targets(targets, market.timestamp, "m", BTC)
    config = BacktestConfig(direction="long_short", stops={"take_profit_pct": 5.0})
    gate = Toggler(period=37)
    equity, fills, outcomes = walk_all(PaperBroker(config, [BTC]), market, signals, 3000,
                                       gate)
    np.testing.assert_array_equal(np.concatenate(gate.seen_ts), market.timestamp)
    np.testing.assert_array_equal(np.concatenate(gate.seen_equity), equity)
    denied = [d for o in outcomes for d in o.decisions if not d.approved]
    assert denied and {d.reason for d in denied} == {"trading_state_reducing"}
    assert sum(e.kind == "state" for o in outcomes for e in o.risk_events) == \
        market.n_bars // 37


def test_state_round_trip_mid_session_continues_identically(btc_market: tuple) -> None:
    market, targets = btc_market
    signals = signals_from_targets(targets, market.timestamp, "m", BTC)
    config = BacktestConfig(direction="long_short", sizing={"fraction": 0.7},
                            stops={"stop_loss_pct": 3.0, "take_profit_pct": 8.0,
                                   "time_stop_bars": 200})
    when = np.array([s.ts for s in signals])
    original, twin = PaperBroker(config, [BTC]), None
    for batch in batches(market, 97):
        lo, hi = np.searchsorted(when, [batch.ts[0], batch.ts[-1] + 1])
        out = walk_batch(original, batch, signals[lo:hi], ApproveAll())
        if twin is not None:
            again = walk_batch(twin, batch, signals[lo:hi], ApproveAll())
            np.testing.assert_array_equal(again.equity, out.equity)
            assert (again.fills, again.order_updates, again.requests) == \
                (out.fills, out.order_updates, out.requests)
            assert twin.state_hash() == original.state_hash()
        elif batch.seq > 50 and original.has_working:  # resume with an order in flight
            twin = PaperBroker.from_state(pickle.loads(pickle.dumps(original.state)))
    assert twin is not None and twin.portfolio() == original.portfolio()


def test_two_symbols_core_and_swing_share_one_cash(shared_data: Path) -> None:
    candles = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH")]
    full = MarketArrays.from_candles(candles)
    cut = slice(full.n_bars - 12_000, full.n_bars)
    market = MarketArrays.from_arrays(full.timestamp[cut], full.open[cut], full.high[cut],
                                      full.low[cut], full.close[cut], full.volume[cut],
                                      timeframe_ms=full.timeframe_ms, symbols=(BTC, ETH))

    def targets_of(name: str, j: int) -> np.ndarray:
        spec = get_strategy(name)
        (values,) = spec.compute([candles[j]], spec.params_model(allow_short=True))
        return values[np.searchsorted(candles[j].timestamp, market.timestamp)]

    sleeves = [(BTC, "core", "momentum", 0), (BTC, "swing", "mean_reversion", 0),
               (ETH, "core", "momentum", 1)]
    config = BacktestConfig(direction="long_short",
                            sizing={"method": "fixed_notional", "notional": 2_000.0},
                            stops={"stop_loss_pct": 3.0, "take_profit_pct": 6.0})
    values = {(s, t): targets_of(name, j) for s, t, name, j in sleeves}
    signals = [sig for (s, t), v in values.items()
               for sig in signals_from_targets(v, market.timestamp, t, s, tag=t)]
    broker = PaperBroker(config, [BTC, ETH], initial_cash=3 * config.initial_cash)
    equity, fills, outcomes = walk_all(broker, market, signals, 500)
    total = np.zeros(market.n_bars)
    for symbol, tag, _, j in sleeves:
        result = run_backtest(market.column(j), Targets(values[symbol, tag]), config)
        assert_same_fills([f for f in fills if (f.symbol, f.tag) == (symbol, tag)],
                          result.orders[:, 1:], market.timestamp)
        total += result.equity[:, 0]
    # one shared cash = the sum of three sleeves that each start with initial_cash
    np.testing.assert_allclose(equity, total, rtol=0.0, atol=1e-6)
    assert {(p.symbol, p.tag) for p in broker.open_positions()} <= {k[:2] for k in sleeves}
    assert len({(f.symbol, f.tag) for f in fills}) == 3
    last = outcomes[-1].portfolio
    assert last.equity == pytest.approx(
        3 * config.initial_cash + sum(p.realized_pnl for p in broker._positions.values())
        + sum(p.unrealized_pnl for p in last.positions), abs=1e-6)


def test_ruin_liquidates_at_the_next_open_like_the_backtester() -> None:
    # synthetic: a full short at 100 followed by a squeeze to 250 leaves negative equity
    close = [100.0, 100.0, 100.0, 180.0, 250.0, 240.0, 230.0, 230.0]
    open_ = [100.0, 100.0, 100.0, 150.0, 200.0, 245.0, 235.0, 230.0]
    high = [max(o, c) for o, c in zip(open_, close, strict=True)]
    low = [min(o, c) for o, c in zip(open_, close, strict=True)]
    targets = np.array([np.nan, -1.0, np.nan, np.nan, 0.5, np.nan, np.nan, np.nan])
    config = BacktestConfig(direction="long_short", costs={"taker_fee_bps": 10.0})
    ts = np.arange(len(close), dtype=np.int64) * HOUR
    market = MarketArrays.from_arrays(ts, open_, high, low, close, [1e9] * len(close),
                                      timeframe_ms=HOUR, symbols=(BTC,), synthetic=True)
    result = run_backtest(market, Targets(targets), config)
    broker = PaperBroker(config, [BTC])
    equity, fills, outcomes = walk_all(broker, market, signals_from_targets(
        targets, ts, "s", BTC), 3)
    assert_same_fills(fills, result.orders[:, 1:], ts)
    np.testing.assert_array_equal(equity, result.equity[:, 0])
    assert [f.reason for f in fills] == ["signal", "liquidation"]
    (event,) = [e for o in outcomes for e in o.risk_events]
    assert (event.kind, event.reason, event.ts) == ("liquidation", "equity_depleted", 4 * HOUR)
    assert "1 signal(s) of this bar ignored" in event.detail


def test_gate_must_consume_bars() -> None:
    class Stuck(HaltBelow):
        def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
            return 0, []

    batch = synthetic_batch(0, 0, [100.0] * 3, [100.0] * 3, [100.0] * 3, [100.0] * 3)
    with pytest.raises(ValueError, match="consumed 0 of 3"):
        walk_batch(PaperBroker(BacktestConfig(), [BTC]), batch, [], Stuck(0.0))

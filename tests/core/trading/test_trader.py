"""Trader.run_batch: the one trading loop (planner + gate + portfolio over a venue link)."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays, Targets, run_backtest
from core.strategies import get_strategy
from core.trading.book import PaperBook
from core.trading.errors import VenueMismatchError
from core.trading.execution import Exchange, LocalLink
from core.trading.messages import (
    FundingPayment,
    MarketBatch,
    OrderRequest,
    OrderStatus,
    PortfolioSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
    TradingState,
)
from core.trading.risk import RiskEngine
from core.trading.trader import HALT_REASON, ApproveAll, StepOutcome
from tests.core.data.helpers import load_shared
from tests.core.trading.sim_helpers import (
    BTC,
    ETH,
    HOUR,
    NO_COSTS,
    assert_same_fills,
    batch_of,
    batches,
    hand_market,
    random_market,
    run_book,
    signal_times,
    signals_from_targets,
    split_signals,
    window,
)

RELAXED = GuardianConfig(kill_switch_file=None,
                         drawdown_stages=((25.0, "REDUCING"), (60.0, "HALTED")))


class Recorder(ApproveAll):
    """Approves everything; records every bar it observes."""

    def __init__(self) -> None:
        self.seen_ts: list[np.ndarray] = []
        self.seen_equity: list[np.ndarray] = []

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        k = self._consume(ts, equity)
        self.seen_ts.append(ts[:k].copy())
        self.seen_equity.append(equity[:k].copy())
        return k, self._events(ts, k)

    def _consume(self, ts: np.ndarray, equity: np.ndarray) -> int:
        return len(ts)

    def _events(self, ts: np.ndarray, k: int) -> list[RiskEvent]:
        return []


class HaltBelow(Recorder):
    """HALTED once the equity closes below ``floor``; denies while halted."""

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor, self._state, self.tripped = floor, TradingState.ACTIVE, False

    @property
    def state(self) -> TradingState:
        return self._state

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        ok = self._state is TradingState.ACTIVE
        return RiskDecision(request.client_order_id, request.ts, ok, "" if ok else HALT_REASON,
                            state=self._state)

    def _consume(self, ts: np.ndarray, equity: np.ndarray) -> int:
        below = np.flatnonzero(equity < self.floor)
        if self._state is TradingState.ACTIVE and len(below):
            self._state, self.tripped = TradingState.HALTED, True
            return int(below[0]) + 1
        return len(ts)

    def _events(self, ts: np.ndarray, k: int) -> list[RiskEvent]:
        if not self.tripped:
            return []
        self.tripped = False
        return [RiskEvent(int(ts[k - 1]), "state", "drawdown_halt", state=self._state)]


class Toggler(Recorder):
    """Flips ACTIVE <-> REDUCING every ``period`` observed bars."""

    def __init__(self, period: int) -> None:
        super().__init__()
        self.period, self.count, self._state = period, 0, TradingState.ACTIVE

    @property
    def state(self) -> TradingState:
        return self._state

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        ok = self._state is TradingState.ACTIVE or request.reduce_only
        return RiskDecision(request.client_order_id, request.ts, ok,
                            "" if ok else "trading_state_reducing", state=self._state)

    def _consume(self, ts: np.ndarray, equity: np.ndarray) -> int:
        k = min(len(ts), self.period - self.count % self.period)
        self.count += k
        return k

    def _events(self, ts: np.ndarray, k: int) -> list[RiskEvent]:
        if self.count % self.period:
            return []
        self._state = (TradingState.REDUCING if self._state is TradingState.ACTIVE
                       else TradingState.ACTIVE)
        return [RiskEvent(int(ts[k - 1]), "state", "toggle", state=self._state)]


class DenySymbol(ApproveAll):
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        ok = request.symbol != self.symbol
        return RiskDecision(request.client_order_id, request.ts, ok, "" if ok else "no_eth",
                            "never " + self.symbol)


def flat_batch(n: int = 3, symbols: tuple[str, ...] = (BTC,)) -> MarketBatch:
    price = np.full((n, len(symbols)), 100.0)
    return MarketBatch(0, 0, "TEST", symbols, HOUR, np.arange(n, dtype=np.int64) * HOUR,
                       price, price, price, price, np.full_like(price, 1e9))


def every_bar(targets: np.ndarray, ts: np.ndarray, strategy: str, symbol: str,
              tag: str = "core") -> list[Signal]:
    """A signal at every bar (a live strategy repeats its target), NaN = keep the last."""
    held = np.nan
    out = []
    for i, value in enumerate(targets):
        held = value if value == value else held
        if held == held:
            out.append(Signal(strategy, symbol, int(ts[i]), float(held), tag=tag))
    return out


@pytest.fixture(scope="module")
def btc_eth(shared_data: Path) -> tuple[MarketArrays, dict[str, np.ndarray]]:
    """The last 4000 shared BTC/ETH 1h bars and momentum/mean-reversion targets on them."""
    candles = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH")]
    full = MarketArrays.from_candles(candles)
    market = window(full, full.n_bars - 4_000, full.n_bars)
    targets = {}
    for j, symbol in enumerate((BTC, ETH)):
        for name in ("momentum", "mean_reversion"):
            spec = get_strategy(name)
            (values,) = spec.compute([candles[j]], spec.params_model(allow_short=True))
            targets[f"{symbol}:{name}"] = values[np.searchsorted(candles[j].timestamp,
                                                                 market.timestamp)]
    return market, targets


def test_rejects_bad_signals_and_batches() -> None:
    batch = flat_batch()
    book = PaperBook(BacktestConfig(), [BTC], HOUR)
    with pytest.raises(ValueError, match="is not a bar of the batch"):
        book.step(batch, [Signal("s", BTC, HOUR + 1, 1.0)])
    with pytest.raises(ValueError, match="unknown symbol"):
        book.step(batch, [Signal("s", ETH, HOUR, 1.0)])
    with pytest.raises(ValueError, match="two signals"):
        book.step(batch, [Signal("s", BTC, HOUR, 1.0), Signal("s", BTC, HOUR, 0.0)])
    with pytest.raises(ValueError, match="differ from the book's"):
        PaperBook(BacktestConfig(), [BTC, ETH], HOUR).step(batch, [])
    assert book.portfolio.last_index == -1 and book.client.last_index == -1
    book.step(batch, [Signal("s", BTC, HOUR, 1.0), Signal("s", BTC, HOUR, 1.0, tag="swing")])
    with pytest.raises(ValueError, match="starts at bar 0; the book is at bar 2"):
        book.step(batch, [])
    gap = MarketBatch(1, 4, "TEST", (BTC,), HOUR, batch.ts + 4 * HOUR, batch.open, batch.high,
                      batch.low, batch.close, batch.volume)
    with pytest.raises(ValueError, match="starts at bar 4"):
        book.step(gap, [])


def test_gate_denials_are_recorded_never_silent() -> None:
    market = random_market(8, 200, (BTC, ETH))
    rng = np.random.default_rng(8)
    signals = [s for j, symbol in enumerate((BTC, ETH)) for s in signals_from_targets(
        np.where(rng.random(200) < 0.2, rng.choice([0.0, 0.5, 1.0], 200), np.nan),
        market.timestamp, "s", symbol)]
    book = PaperBook(BacktestConfig(sizing={"fraction": 0.4}), [BTC, ETH], HOUR,
                     gate=DenySymbol(ETH))
    out = book.step(batch_of(market), sorted(signals, key=lambda s: s.ts))
    denied = [d for d in out.decisions if not d.approved]
    eth = [r for r in out.requests if r.symbol == ETH]
    assert denied and len(denied) == len(eth)
    assert [(u.client_order_id, u.status, u.reason) for u in out.order_updates
            if u.status is OrderStatus.DENIED] == [(d.client_order_id, OrderStatus.DENIED,
                                                    "no_eth") for d in denied]
    assert [(e.kind, e.reason, e.detail, e.client_order_id, e.symbol)
            for e in out.risk_events] == [("denied", "no_eth", "never " + ETH,
                                           d.client_order_id, ETH) for d in denied]
    assert {f.symbol for f in out.fills} == {BTC}


def test_a_halting_gate_sees_every_bar_once_then_denies_everything(btc_eth: tuple) -> None:
    market, targets = btc_eth
    signals = signals_from_targets(targets[f"{BTC}:momentum"], market.timestamp, "m", BTC)
    config = BacktestConfig(direction="long_short", stops={"stop_loss_pct": 4.0})
    gate = HaltBelow(floor=0.9 * config.initial_cash)
    equity, _, outcomes = run_book(PaperBook(config, [BTC], HOUR, gate=gate), market.column(0),
                                   signals, 500)
    np.testing.assert_array_equal(np.concatenate(gate.seen_ts), market.timestamp)
    np.testing.assert_array_equal(np.concatenate(gate.seen_equity), equity)
    (event,) = [e for o in outcomes for e in o.risk_events if e.kind == "state"]
    tripped = int(np.searchsorted(market.timestamp, event.ts))
    assert equity[tripped] < gate.floor <= equity[:tripped].min()
    after = [o for o in outcomes if o.portfolio.ts > event.ts]
    decisions = [d for o in after for d in o.decisions if d.ts > event.ts]
    assert decisions and all(d.reason == HALT_REASON for d in decisions)
    assert {f.reason for o in after for f in o.fills if f.ts > event.ts + HOUR} <= {"stop_loss"}


def test_a_toggling_gate_is_fed_every_bar_once_in_order(btc_eth: tuple) -> None:
    market, targets = btc_eth
    signals = [s for key, symbol in ((f"{BTC}:mean_reversion", BTC), (f"{ETH}:momentum", ETH))
               for s in signals_from_targets(targets[key], market.timestamp, "m", symbol)]
    config = BacktestConfig(direction="long_short", stops={"take_profit_pct": 5.0})
    gate = Toggler(period=37)
    equity, _, outcomes = run_book(PaperBook(config, [BTC, ETH], HOUR, gate=gate), market,
                                   signals, [700, 1, 2, 999, 3_000])
    np.testing.assert_array_equal(np.concatenate(gate.seen_ts), market.timestamp)
    np.testing.assert_array_equal(np.concatenate(gate.seen_equity), equity)
    denied = [d for o in outcomes for d in o.decisions if not d.approved]
    assert denied and {d.reason for d in denied} == {"trading_state_reducing"}
    states = [e for o in outcomes for e in o.risk_events if e.kind == "state"]
    assert len(states) == market.n_bars // 37


def test_venue_rejects_feed_the_reject_breaker() -> None:
    # every bar gaps up from 100 to 130: 2 lots of 100 at the close, 1 lot of 130 < 150 at
    # the open -> the venue rejects every order; 3 in a row halt trading
    n = 12
    market = hand_market([100.0] + [130.0] * (n - 1), [130.0] * n, [100.0] * n, [100.0] * n)
    config = BacktestConfig(sizing={"method": "fixed_notional", "notional": 250.0},
                            lot_size=1.0, min_notional=150.0, costs=NO_COSTS)
    guardian = GuardianConfig(kill_switch_file=None, min_notional=0.0,
                              max_consecutive_rejects=3, price_band_pct=50.0)
    engine = RiskEngine(RiskLimits(), guardian, config.initial_cash)
    signals = [Signal("s", BTC, i * HOUR, 1.0 if i % 2 == 0 else 0.9) for i in range(n - 1)]
    out = PaperBook(config, [BTC], HOUR, gate=engine).step(batch_of(market), signals)
    rejected = [u for u in out.order_updates if u.status is OrderStatus.REJECTED]
    assert [(u.ts, u.reason) for u in rejected] == [
        (i * HOUR, "below_min_notional_or_lot") for i in (1, 2, 3)]
    breaker = [e for e in out.risk_events if e.kind in ("breaker", "state")]
    assert [(e.kind, e.reason) for e in breaker] == [("breaker", "consecutive_rejects"),
                                                     ("state", "consecutive_rejects")]
    assert engine.state is TradingState.HALTED and out.fills == ()
    assert [d.approved for d in out.decisions] == [True] * 3 + [False] * (n - 4)
    assert {d.reason for d in out.decisions[3:]} == {"trading_state_halted"}


def test_two_symbols_core_and_swing_share_one_cash(shared_data: Path) -> None:
    candles = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH")]
    full = MarketArrays.from_candles(candles)
    market = window(full, full.n_bars - 12_000, full.n_bars)

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
    book = PaperBook(config.model_copy(update={"initial_cash": 3 * config.initial_cash}),
                     [BTC, ETH], HOUR)
    equity, fills, outcomes = run_book(book, market, signals, 500)
    total = np.zeros(market.n_bars)
    for symbol, tag, _, j in sleeves:
        result = run_backtest(market.column(j), Targets(values[symbol, tag]), config)
        assert_same_fills([f for f in fills if (f.symbol, f.tag) == (symbol, tag)],
                          result.orders[:, 1:], market.timestamp)
        total += result.equity[:, 0]
    # one shared cash = the sum of three sleeves that each start with initial_cash
    np.testing.assert_allclose(equity, total, rtol=0.0, atol=1e-6)
    assert len({(f.symbol, f.tag) for f in fills}) == 3
    last = outcomes[-1].portfolio
    positions = book.portfolio.positions.values()
    assert last.equity == pytest.approx(
        3 * config.initial_cash + sum(p.realized_pnl for p in positions)
        + sum(p.unrealized_pnl for p in last.positions), abs=1e-6)
    assert book.portfolio.reconcile(book.client.account()) == []


def test_ruin_liquidates_at_the_next_open_like_the_backtester() -> None:
    close = [100.0, 100.0, 100.0, 180.0, 250.0, 240.0, 230.0, 230.0]
    open_ = [100.0, 100.0, 100.0, 150.0, 200.0, 245.0, 235.0, 230.0]
    market = hand_market(open_, [max(o, c) for o, c in zip(open_, close, strict=True)],
                         [min(o, c) for o, c in zip(open_, close, strict=True)], close)
    targets = np.array([np.nan, -1.0, np.nan, np.nan, 0.5, np.nan, np.nan, np.nan])
    config = BacktestConfig(direction="long_short", costs={"taker_fee_bps": 10.0})
    result = run_backtest(market, Targets(targets), config)
    for size in (3, 1, None):
        equity, fills, outcomes = run_book(PaperBook(config, [BTC], HOUR), market,
                                           signals_from_targets(targets, market.timestamp,
                                                                "s", BTC), size)
        assert_same_fills(fills, result.orders[:, 1:], market.timestamp)
        np.testing.assert_array_equal(equity, result.equity[:, 0])
        assert [f.reason for f in fills] == ["signal", "liquidation"]
        (event,) = [e for o in outcomes for e in o.risk_events]
        assert (event.kind, event.reason, event.ts) == ("liquidation", "equity_depleted",
                                                        4 * HOUR)
        assert "1 signal(s) of this bar ignored" in event.detail
        assert [d.ts for o in outcomes for d in o.decisions] == [HOUR]


def outcome_key(outcomes: Sequence[StepOutcome]) -> tuple:
    return (np.concatenate([o.equity for o in outcomes]).tolist(),
            [(o.fills, o.order_updates, o.decisions, o.risk_events, o.requests, o.funding,
              o.portfolio) for o in outcomes])


def test_previews_change_the_exchanges_not_the_outcome(btc_eth: tuple) -> None:
    market, targets = btc_eth
    signals = [s for key, symbol, tag in ((f"{BTC}:mean_reversion", BTC, "core"),
                                          (f"{BTC}:momentum", BTC, "swing"),
                                          (f"{ETH}:momentum", ETH, "core"))
               for s in every_bar(targets[key], market.timestamp, tag, symbol, tag)]
    config = BacktestConfig(direction="long_short", sizing={"fraction": 0.3},
                            stops={"stop_loss_pct": 3.0, "time_stop_bars": 48})
    limits = RiskLimits(max_position_pct=40.0, max_gross_exposure_pct=80.0)
    runs = []
    for previews in (True, False):
        engine = RiskEngine(limits, RELAXED, config.initial_cash)
        book = PaperBook(config, [BTC, ETH], HOUR, limits, engine)
        book.link.previews = previews
        _, _, outcomes = run_book(book, market, signals, [1_000, 1, 1, 2_500, 7])
        runs.append((outcome_key(outcomes), sum(o.exchanges for o in outcomes), book))
    (with_previews, cheap, a), (without, costly, b) = runs
    assert with_previews == without
    assert a.client.state_hash() == b.client.state_hash()
    assert costly >= market.n_bars and cheap * 4 < costly
    fills = [f for o in with_previews[1] for f in o[0]]
    assert {f.reason for f in fills} == {"signal", "stop_loss", "time_stop"}


def test_a_one_bar_step_costs_one_exchange_or_two_when_it_submits() -> None:
    market = random_market(2, 40)
    targets = np.where(np.arange(40) % 7 == 3, np.arange(40) % 2 * 1.0, np.nan)
    book = PaperBook(BacktestConfig(), [BTC], HOUR)
    _, _, outcomes = run_book(book, market, every_bar(targets, market.timestamp, "s", BTC), 1)
    for out in outcomes:
        assert out.exchanges == (2 if out.decisions else 1)
    assert sum(bool(o.decisions) for o in outcomes) > 2


class Tamper:
    """A link that (optionally) alters the first committed event of every sync."""

    def __init__(self, link: LocalLink, alter: bool) -> None:
        self.link, self.alter, self.previews = link, alter, link.previews
        self.synced = 0

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        reply = self.link.exchange(since, sync_to, submit, advance_to, preview_to, last=last)
        self.synced += reply.synced
        if not (self.alter and reply.synced):
            return reply
        first = reply.events[0]
        changed = (dataclasses.replace(first, amount=first.amount * 2.0)
                   if isinstance(first, FundingPayment)
                   else dataclasses.replace(first, ts=first.ts + 1))
        return dataclasses.replace(reply, events=(changed, *reply.events[1:]))


@pytest.mark.parametrize("alter", [False, True])
def test_a_venue_committing_other_events_than_previewed_is_caught(alter: bool) -> None:
    n = 60
    market = random_market(3, n, funding=True)
    targets = np.full(n, np.nan)
    targets[[2, 30, 50]] = [1.0, 0.5, 0.0]  # signals at every bar, orders at three
    book = PaperBook(BacktestConfig(), [BTC], HOUR)
    batch = batch_of(market)
    book.link.begin(batch)
    link = Tamper(book.link, alter)
    signals = every_bar(targets, market.timestamp, "s", BTC)
    if alter:
        with pytest.raises(VenueMismatchError, match="differ from the"):
            book.trader.run_batch(batch, signals, link)
        return
    out = book.trader.run_batch(batch, signals, link)
    assert link.synced > 0 and out.funding and len(out.fills) == 3


def test_batch_columns_in_another_order_give_the_same_outcome() -> None:
    market = random_market(12, 150, (BTC, ETH), funding=True)
    rng = np.random.default_rng(12)
    signals = sorted((s for symbol in (BTC, ETH) for s in signals_from_targets(
        np.where(rng.random(150) < 0.1, rng.choice([-1.0, 0.0, 1.0], 150), np.nan),
        market.timestamp, "s", symbol)), key=lambda s: s.ts)
    config = BacktestConfig(direction="long_short", sizing={"fraction": 0.4})
    batch = batch_of(market)
    swapped = MarketBatch(0, 0, "TEST", (ETH, BTC), HOUR, batch.ts,
                          *(a[:, ::-1] for a in (batch.open, batch.high, batch.low,
                                                 batch.close, batch.volume, batch.funding)))
    runs = [outcome_key([PaperBook(config, [BTC, ETH], HOUR).step(b, signals)])
            for b in (batch, swapped)]
    assert runs[0] == runs[1] and runs[0][1][0][0]


def test_state_round_trip_mid_session_continues_identically(btc_eth: tuple) -> None:
    market, targets = btc_eth
    signals = sorted((s for key, symbol in ((f"{BTC}:mean_reversion", BTC),
                                            (f"{ETH}:mean_reversion", ETH))
                      for s in signals_from_targets(targets[key], market.timestamp, "m",
                                                    symbol)), key=lambda s: s.ts)
    when = signal_times(signals)
    config = BacktestConfig(direction="long_short", sizing={"fraction": 0.4},
                            stops={"stop_loss_pct": 3.0, "take_profit_pct": 8.0,
                                   "time_stop_bars": 30})
    limits = RiskLimits(max_position_pct=30.0, max_gross_exposure_pct=50.0)
    engine = RiskEngine(limits, RELAXED, config.initial_cash)
    original, twin, twin_engine = PaperBook(config, [BTC, ETH], HOUR, limits, engine), None, None
    resumed_fills = 0
    # the first batch ends on a signal bar: the book is saved with orders in flight
    cut = int(np.searchsorted(market.timestamp, when[when > market.timestamp[2_000]][0])) + 1
    for batch in batches(market, [cut] + [97] * 100):
        mine = split_signals(signals, when, batch)
        out = original.step(batch, mine)
        if twin is not None:
            assert outcome_key([twin.step(batch, mine)]) == outcome_key([out])
            resumed_fills += len(out.fills)
            assert twin.client.state_hash() == original.client.state_hash()
        else:
            assert original.client.account().working
            saved = pickle.dumps((original.state, engine.to_state()))
            book_state, risk_state = pickle.loads(saved)
            twin_engine = RiskEngine.from_state(risk_state)
            twin = PaperBook(config, [BTC, ETH], HOUR, limits, twin_engine)
            twin.restore(book_state)
    assert twin is not None and twin_engine is not None
    assert twin_engine.to_state() == engine.to_state() and engine.denial_counts
    assert twin.portfolio.reconcile(original.client.account()) == [] and resumed_fills > 100


def test_an_exit_is_not_trapped_by_another_tags_order_of_the_same_bar() -> None:
    # core +10 and swing +10 BTC; at bar 2 swing flips short (sells 20: reduces the net
    # 20 -> 0) and core exits (sells 10). Judged with the swing order pending, the core exit
    # takes the net 0 -> -10: it must not claim to be reduce-only (the gate denies a false
    # claim, which would trap the core position).
    config = BacktestConfig(direction="long_short", costs=NO_COSTS, min_notional=0.0,
                            sizing={"method": "fixed_notional", "notional": 1_000.0})
    engine = RiskEngine(RiskLimits(), RELAXED, config.initial_cash)
    book = PaperBook(config, [BTC], HOUR, gate=engine)
    signals = [Signal("core", BTC, 0, 1.0), Signal("swing", BTC, 0, 1.0, tag="swing"),
               Signal("swing", BTC, 2 * HOUR, -1.0, tag="swing"),
               Signal("core", BTC, 2 * HOUR, 0.0)]
    out = book.step(flat_batch(5), signals)
    assert [(d.approved, d.reason) for d in out.decisions] == [(True, "")] * 4
    swing_flip, core_exit = out.requests[2:]
    assert swing_flip.reduce_only and not core_exit.reduce_only
    assert [(p.tag, p.quantity) for p in book.portfolio.open_positions()] == [("swing", -10.0)]


@pytest.mark.parametrize("size", [None, [4, 6], [3, 1, 6], 1])
def test_time_stop_of_an_order_sent_at_the_previous_batchs_last_bar(size: object) -> None:
    market = random_market(4, 10)
    targets = np.full(10, np.nan)
    targets[3] = 1.0  # sent at bar 3; with [4, 6] that is the first batch's last bar
    config = BacktestConfig(stops={"time_stop_bars": 2})
    result = run_backtest(market, Targets(targets), config)
    equity, fills, _ = run_book(PaperBook(config, [BTC], HOUR), market,
                                signals_from_targets(targets, market.timestamp, "s", BTC), size)
    assert [(f.ts // HOUR, f.reason) for f in fills] == [(4, "signal"), (6, "time_stop")]
    assert_same_fills(fills, result.orders[:, 1:], market.timestamp)
    np.testing.assert_array_equal(equity, result.equity[:, 0])

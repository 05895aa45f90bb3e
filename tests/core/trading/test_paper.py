"""PaperClient: the simulated venue with the backtester's fill model (golden, hand-computed)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.trading.execution import EventsLostError, ExecutionClient, SimulatedVenue
from core.trading.messages import (
    Fill,
    FundingPayment,
    MarketBatch,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
)
from core.trading.paper import HALTED_REASON, PaperClient
from tests.core.trading.sim_helpers import (
    BTC,
    ETH,
    HOUR,
    NO_COSTS,
    batch_of,
    hand_market,
    random_market,
)

TAKER, MAKER, HALF = 10.0 * 1e-4, 2.0 * 1e-4, 5.0 * 1e-4
COSTS = {"taker_fee_bps": 10.0, "maker_fee_bps": 2.0, "half_spread_bps": 5.0}
GOLD = BacktestConfig(costs=COSTS, min_notional=10.0)
FLAT = [100.0, 102.0, 103.0, 104.0]  # opens of the golden market


def variant(config: BacktestConfig, **changes: object) -> BacktestConfig:
    """``config`` with some fields changed (validated)."""
    return BacktestConfig.model_validate({**config.model_dump(), **changes})


def request(oid: str, target: float, notional: float, equity: float | None = 10_000.0, *,
            ts: int = 0, symbol: str = BTC, tag: str = "core", price: float = 100.0,
            stop_loss_pct: float | None = None, take_profit_pct: float | None = None
            ) -> OrderRequest:
    """A target order decided at ``ts`` (the estimate fields do not drive the fill)."""
    side = Side.BUY if notional > 0.0 or (notional == 0.0 and target >= 0.0) else Side.SELL
    return OrderRequest(oid, "s", symbol, tag, ts, side, abs(notional) / price, price, target,
                        notional, False, stop_loss_pct, take_profit_pct,
                        decision_equity=equity)


def golden(config: BacktestConfig = GOLD, **bars: list[float]) -> tuple[PaperClient,
                                                                          MarketBatch]:
    """A client at the close of bar 0 of a 4-bar market (opens 100, 102, 103, 104)."""
    open_ = bars.get("open", FLAT)
    close = bars.get("close", [100.0, 102.0, 103.0, 104.0])
    high = bars.get("high", [max(o, c) + 1.0 for o, c in zip(open_, close, strict=True)])
    low = bars.get("low", [min(o, c) - 1.0 for o, c in zip(open_, close, strict=True)])
    batch = batch_of(hand_market(open_, high, low, close, volume=1_000.0,
                                 funding=bars.get("funding")))
    client = PaperClient(config, [BTC])
    client.advance(batch, 0)
    return client, batch


def statuses(client: PaperClient) -> list[tuple[str, OrderStatus, str]]:
    return [(e.client_order_id, e.status, e.reason) for e in client.events_since(0).events
            if isinstance(e, OrderUpdate)]


def test_is_a_simulated_venue_and_validates_symbols() -> None:
    client = PaperClient(GOLD, [BTC, ETH])
    assert isinstance(client, ExecutionClient) and isinstance(client, SimulatedVenue)
    with pytest.raises(ValueError, match="non-empty and unique"):
        PaperClient(GOLD, [])
    with pytest.raises(ValueError, match="non-empty and unique"):
        PaperClient(GOLD, [BTC, BTC])
    assert client.account().ts is None and client.account().index == -1


def test_target_order_sized_with_decision_equity_fills_at_the_next_open() -> None:
    client, batch = golden()
    (ack,) = client.submit([request("a", 1.0, 5_000.0)])
    assert (ack.status, ack.ts) == (OrderStatus.ACCEPTED, 0)
    assert client.account().working == ("a",) and client.open_positions() == []
    client.advance(batch, 1)
    qty = 5_000.0 / 102.0
    price = 102.0 * (1.0 + HALF)
    fee = qty * price * TAKER
    fill, done = client.events_since(1).events
    assert fill == Fill("a", "s", BTC, "core", HOUR, Side.BUY, qty, price, fee,
                        qty * abs(price - 102.0), "taker", "signal")
    assert done == OrderUpdate("a", HOUR, OrderStatus.FILLED, qty)
    assert client.cash == 10_000.0 - (qty * price + fee)
    assert client.account().positions == ((BTC, "core", qty),)
    assert client.equity() == client.cash + qty * 102.0


def test_decision_equity_caps_the_trade_and_none_means_equity_at_the_fill() -> None:
    capped = RiskLimits(max_trade_pct=20.0)
    _, batch = golden()
    for equity, expected in ((10_000.0, 0.2 * 10_000.0 / 102.0), (5_000.0, 0.2 * 5_000.0 / 102.0),
                             (None, 0.2 * 10_000.0 / 102.0)):
        client = PaperClient(GOLD, [BTC], risk=capped)
        client.advance(batch, 0)
        client.submit([request("a", 1.0, 9_000.0, equity)])
        client.advance(batch, 1)
        assert client.position(BTC).quantity == expected
    # None: the equity at the fill is used (cash plus the held BTC at the last close)
    client = PaperClient(GOLD, [BTC], risk=capped)
    client.advance(batch, 0)
    client.submit([request("held", 1.0, 1_000.0)])
    client.advance(batch, 1)
    client.submit([request("b", 1.0, 9_000.0, None, ts=HOUR)])
    held, equity = client.position(BTC).quantity, client.equity()
    client.advance(batch, 2)
    assert client.position(BTC).quantity == held + 0.2 * equity / 103.0


def test_cash_limited_buy_spends_the_cash_with_the_fee() -> None:
    client, batch = golden()
    client.submit([request("a", 1.0, 20_000.0)])
    client.advance(batch, 1)
    price = 102.0 * (1.0 + HALF)
    qty = 10_000.0 / (price * (1.0 + TAKER))
    fill = client.events_since(1).events[0]
    assert (fill.quantity, fill.price) == (qty, price)
    assert statuses(client)[-1] == ("a", OrderStatus.FILLED, "cash_limited")
    assert abs(client.cash) < 1e-9


@pytest.mark.parametrize(("config", "target", "notional", "status", "reason"), [
    (GOLD, 1.0, 5.0, OrderStatus.REJECTED, "below_min_notional_or_lot"),
    (variant(GOLD, lot_size=1.0), 1.0, 50.0, OrderStatus.REJECTED,
     "below_min_notional_or_lot"),
    (GOLD, 0.0, 0.0, OrderStatus.CANCELED, "position_already_flat"),
])
def test_orders_that_cannot_fill(config: BacktestConfig, target: float, notional: float,
                                 status: OrderStatus, reason: str) -> None:
    client, batch = golden(config)
    client.submit([request("a", target, notional)])
    client.advance(batch, 1)
    assert statuses(client) == [("a", OrderStatus.ACCEPTED, ""), ("a", status, reason)]
    assert client.cash == 10_000.0 and client.account().working == ()


def test_unknown_symbol_is_rejected_at_submit() -> None:
    client, _ = golden()
    (update,) = client.submit([request("a", 1.0, 500.0, symbol=ETH)])
    assert (update.status, update.reason) == (OrderStatus.REJECTED, "unknown_symbol")
    assert client.order("a").status is OrderStatus.REJECTED


ENTRY = 102.0 * (1.0 + HALF)
SL, TP = ENTRY * (1.0 - 0.02), ENTRY * (1.0 + 0.03)


@pytest.mark.parametrize(("bar2", "kind", "price", "liquidity"), [
    ((103.0, 104.0, 99.0), "stop_loss", SL * (1.0 - HALF), "taker"),  # intrabar
    ((95.0, 96.0, 94.0), "stop_loss", 95.0 * (1.0 - HALF), "taker"),  # gap below the stop
    ((103.0, 106.0, 102.5), "take_profit", TP, "maker"),  # intrabar, at the level
    ((110.0, 111.0, 109.0), "take_profit", 110.0, "maker"),  # gap above: the better open
    ((103.0, 110.0, 90.0), "stop_loss", SL * (1.0 - HALF), "taker"),  # both: stop first
])
def test_stops_exit_intrabar_and_at_gaps(bar2: tuple[float, float, float], kind: str,
                                         price: float, liquidity: str) -> None:
    o, h, lo = bar2
    config = variant(GOLD, stops={"stop_loss_pct": 2.0, "take_profit_pct": 3.0})
    client, batch = golden(config, open=[100.0, 102.0, o, 104.0],
                           high=[101.0, 103.0, h, 105.0], low=[99.0, 101.0, lo, 103.0],
                           close=[100.0, 102.0, min(max(103.0, lo), h), 104.0])
    client.submit([request("a", 1.0, 5_000.0)])
    client.advance(batch, 1)
    qty = client.position(BTC).quantity
    before = client.cash
    client.advance(batch, 3)
    announced, accepted, fill, filled = client.events_since(3).events
    assert isinstance(announced, OrderRequest) and announced.kind == kind
    assert (announced.side, announced.quantity, announced.ts) == (Side.SELL, qty, 2 * HOUR)
    assert accepted == OrderUpdate(announced.client_order_id, 2 * HOUR, OrderStatus.ACCEPTED)
    fee = qty * price * (TAKER if liquidity == "taker" else MAKER)
    assert (fill.reason, fill.price, fill.fee, fill.liquidity) == (kind, price, fee, liquidity)
    assert filled.status is OrderStatus.FILLED and client.open_positions() == []
    assert client.cash == before - (-qty * price + fee)


def test_request_stops_override_the_config_and_short_stops_sit_above() -> None:
    config = BacktestConfig(direction="long_short", costs=NO_COSTS, min_notional=0.0)
    client, batch = golden(config, open=[100.0, 100.0, 100.0, 100.0],
                           high=[100.0, 100.0, 104.5, 100.0], low=[100.0, 100.0, 99.0, 99.0],
                           close=[100.0, 100.0, 100.0, 100.0])
    client.submit([request("a", -1.0, -1_000.0, stop_loss_pct=4.0)])
    client.advance(batch, 3)
    fill = client.events_since(0).events[-2]
    assert (fill.reason, fill.side, fill.price, fill.quantity) == ("stop_loss", Side.BUY,
                                                                  100.0 * (1.0 + 0.04), 10.0)


@pytest.mark.parametrize(("direction", "target"), [("long_only", 1.0), ("long_short", -1.0)])
def test_funding_long_pays_positive_rates_short_receives(direction: str, target: float
                                                         ) -> None:
    config = BacktestConfig(direction=direction, costs=NO_COSTS)
    rates = [0.0, 0.01, 0.001, -0.002]  # bar 1's rate comes before the fill: nothing due
    client, batch = golden(config, funding=rates)
    client.submit([request("a", target, target * 5_000.0)])
    client.advance(batch, 3)
    q = target * 5_000.0 / 102.0
    payments = [e for e in client.events_since(0).events if isinstance(e, FundingPayment)]
    assert payments == [FundingPayment(BTC, "core", t * HOUR, q, FLAT[t], rates[t],
                                       q * FLAT[t] * rates[t]) for t in (2, 3)]
    assert (payments[0].amount > 0.0) == (target > 0.0)  # a long pays, a short receives
    cash = 10_000.0 - q * 102.0
    for payment in payments:
        cash -= payment.amount
    assert client.cash == cash


def test_ruin_with_shorts_liquidates_at_the_next_open() -> None:
    close, open_ = [100.0, 100.0, 180.0, 250.0, 240.0], [100.0, 100.0, 150.0, 200.0, 245.0]
    batch = batch_of(hand_market(open_, [max(o, c) for o, c in zip(open_, close, strict=True)],
                                 [min(o, c) for o, c in zip(open_, close, strict=True)], close))
    config = BacktestConfig(direction="long_short", costs={**NO_COSTS, "taker_fee_bps": 10.0})
    client = PaperClient(config, [BTC])
    client.advance(batch, 0)
    client.submit([request("a", -1.0, -10_000.0)])
    client.advance(batch, 3)  # equity at the close of bar 3: 19_990 - 25_000 < 0
    announced, accepted = client.events_since(3).events
    assert (announced.kind, announced.side, announced.quantity, announced.ts) == (
        "liquidation", Side.BUY, 100.0, 3 * HOUR)
    assert announced.decision_equity == 19_990.0 - 100.0 * 250.0
    assert accepted.status is OrderStatus.ACCEPTED
    assert client.cancel(None, 3 * HOUR, "flatten_all") == []  # the venue's own: not cancelled
    client.advance(batch, 4)
    fill = client.events_since(5).events[0]
    assert (fill.reason, fill.price, fill.fee, fill.ts) == ("liquidation", 245.0, 24.5, 4 * HOUR)
    assert client.cash == 19_990.0 - 24_500.0 - 24.5 and client.open_positions() == []
    long_only = PaperClient(BacktestConfig(costs=NO_COSTS), [BTC])  # spot: no ruin
    long_only.advance(batch, 4)
    assert long_only.last_event == 0


def test_submit_is_idempotent_per_client_order_id() -> None:
    client, batch = golden()
    order = request("a", 1.0, 5_000.0)
    first, again = client.submit([order, order])
    assert first == again and first.status is OrderStatus.ACCEPTED
    assert client.submit([order]) == [first] and client.last_event == 1
    client.advance(batch, 1)
    (retry,) = client.submit([order])
    assert retry.status is OrderStatus.FILLED and client.account().working == ()
    client.advance(batch, 3)
    assert client.events_since(0).last == 3 and len(client.open_positions()) == 1


def test_halt_cancels_working_orders_and_refuses_new_ones() -> None:
    client, batch = golden()
    client.submit([request("a", 1.0, 5_000.0), request("b", 1.0, 500.0, tag="swing")])
    updates = client.halt(0, "kill_switch:file")
    assert [(u.client_order_id, u.status, u.reason) for u in updates] == [
        ("a", OrderStatus.CANCELED, "kill_switch:file"),
        ("b", OrderStatus.CANCELED, "kill_switch:file")]
    (refused,) = client.submit([request("c", 1.0, 500.0)])
    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, HALTED_REASON)
    client.advance(batch, 3)
    assert client.account().halted and client.account().working == ()
    assert client.cash == 10_000.0 and client.open_positions() == []
    assert PaperClient.from_state(client.state).halted


def test_cancel_named_and_all() -> None:
    client, batch = golden()
    client.submit([request("a", 1.0, 500.0), request("b", 1.0, 500.0, tag="swing")])
    (update,) = client.cancel(["a", "unknown"], 0, "operator")
    assert (update.client_order_id, update.status, update.reason) == (
        "a", OrderStatus.CANCELED, "operator")
    assert client.cancel(["a"], 0, "operator") == []
    assert [u.client_order_id for u in client.cancel(None, 0, "flatten")] == ["b"]
    client.advance(batch, 2)
    assert client.open_positions() == [] and client.order("a").is_terminal


def test_events_are_numbered_and_old_ones_can_be_lost() -> None:
    client = PaperClient(GOLD, [BTC], event_capacity=4)
    _, batch = golden()
    client.advance(batch, 0)
    client.submit([request(f"o{k}", 1.0, 10_000.0) for k in range(6)])
    assert client.last_event == 6
    page = client.events_since(3)
    assert page.last == 6 and [e.client_order_id for e in page.events] == ["o3", "o4", "o5"]
    assert client.events_since(2).events[0].client_order_id == "o2"
    with pytest.raises(EventsLostError, match="oldest kept is 3"):
        client.events_since(1)
    assert client.events_since(6).events == () and client.events_since(9).last == 6
    full = PaperClient(GOLD, [BTC])
    full.advance(batch, 0)
    full.submit([request(f"o{k}", 1.0, 10_000.0) for k in range(6)])
    full.advance(batch, 1)
    events = full.events_since(0).events
    assert all(full.events_since(k).events == events[k:] for k in range(len(events) + 1))


def test_account_reports_the_venue_book() -> None:
    client, batch = golden(BacktestConfig(direction="long_short", costs=COSTS))
    client.submit([request("a", 1.0, 3_000.0), request("b", -1.0, -1_000.0, tag="swing")])
    client.advance(batch, 2)
    client.submit([request("c", 0.0, 0.0, ts=2 * HOUR)])
    report = client.account()
    qa, qb = 3_000.0 / 102.0, -1_000.0 / 102.0
    assert report.positions == ((BTC, "core", qa), (BTC, "swing", qb))
    assert (report.ts, report.index, report.cash, report.working, report.last_event) == (
        2 * HOUR, 2, client.cash, ("c",), 7)
    assert not report.halted


def busy_session() -> tuple[PaperClient, MarketBatch, Callable[[PaperClient, int], None]]:
    """Two symbols, funding, stops, and orders submitted every few bars."""
    market = random_market(7, 160, (BTC, ETH), funding=True)
    config = BacktestConfig(direction="long_short", costs={**COSTS, "impact_coef": 0.05},
                            stops={"stop_loss_pct": 6.0, "take_profit_pct": 9.0})
    batch = batch_of(market)
    targets = np.random.default_rng(3).choice([-1.0, -0.5, 0.0, 0.5, 1.0], (160, 2))

    def decide(client: PaperClient, i: int) -> None:
        ts = int(batch.ts[i])
        client.submit([request(f"{s}{i}", t, t * 3_000.0, client.equity(), ts=ts, symbol=s,
                               price=float(batch.close[i, j]))
                       for j, (s, t) in enumerate(zip((BTC, ETH), targets[i], strict=True))])

    return PaperClient(config, [BTC, ETH]), batch, decide


def test_preview_is_what_advance_produces_and_changes_nothing() -> None:
    client, batch, decide = busy_session()
    for i in range(0, 150, 10):
        client.advance(batch, i)
        decide(client, i)
        before, last = client.state_hash(), client.last_event
        preview = client.preview(batch, i + 9)
        assert client.state_hash() == before and client.last_event == last
        assert client.preview(batch, i) == () and client.preview(batch, i - 1) == ()
        client.advance(batch, i + 9)
        assert preview == client.events_since(last).events
    kinds = {type(e).__name__ for e in client.events_since(0).events}
    assert kinds == {"OrderRequest", "OrderUpdate", "Fill", "FundingPayment"}


@pytest.mark.parametrize("clone", ["from_state", "deepcopy", "pickle"])
def test_state_round_trip_continues_identically(clone: str) -> None:
    client, batch, decide = busy_session()
    for i in range(0, 80, 5):
        client.advance(batch, i)
        decide(client, i)
    assert client.account().working and client.open_positions()
    state = {"from_state": lambda s: s, "deepcopy": copy.deepcopy,
             "pickle": lambda s: pickle.loads(pickle.dumps(s))}[clone](client.state)
    twin = PaperClient.from_state(state)
    assert twin.state_hash() == client.state_hash() and twin.account() == client.account()
    assert twin.events_since(0) == client.events_since(0)
    for i in range(80, 160, 5):
        for venue in (client, twin):
            venue.advance(batch, i)
            decide(venue, i)
        assert twin.state_hash() == client.state_hash()
    assert twin.events_since(0) == client.events_since(0) and twin.cash == client.cash


def test_batch_columns_in_another_order_are_matched_by_symbol() -> None:
    market = random_market(11, 30, (BTC, ETH))
    batch = batch_of(market)
    swapped = MarketBatch(0, 0, "TEST", (ETH, BTC), HOUR, batch.ts, batch.open[:, ::-1],
                          batch.high[:, ::-1], batch.low[:, ::-1], batch.close[:, ::-1],
                          batch.volume[:, ::-1])
    runs = []
    for shown in (batch, swapped):
        client = PaperClient(GOLD, [BTC, ETH])
        client.advance(shown, 0)
        client.submit([request("e", 1.0, 2_000.0, symbol=ETH)])
        client.advance(shown, 29)
        runs.append(client.events_since(0).events)
    assert runs[0] == runs[1] and runs[0][1].price == batch.open[1, 1] * (1.0 + HALF)


def test_advance_argument_errors() -> None:
    client, batch = golden()
    client.advance(batch, 0)  # staying at the last processed bar is allowed
    later = batch_of(hand_market(FLAT, [105.0] * 4, [99.0] * 4, FLAT), 2, 4)
    with pytest.raises(ValueError, match="cannot advance from bar 0 to 3"):
        client.advance(later, 3)  # skips bar 1
    with pytest.raises(ValueError, match="cannot advance from bar 0 to 4"):
        client.advance(batch, 4)  # beyond the batch
    client.advance(batch, 2)
    with pytest.raises(ValueError, match="cannot advance from bar 2 to 1"):
        client.advance(batch, 1)  # backwards
    other = PaperClient(GOLD, [BTC, ETH])
    with pytest.raises(ValueError, match="differ from the client's"):
        other.advance(batch, 1)
    assert client.last_index == 2 and other.last_index == -1

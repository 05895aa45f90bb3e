"""Exchange-native stops through the ccxt client, against the Binance emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from actors.adapters.ccxt_execution import CcxtExecutionClient, VenueClientPolicy
from actors.emulator import EmulatorServer
from core.trading.messages import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from core.trading.venue_rules import round_to_tick
from tests.actors.emulator.support import MINUTE, START, connect

SALT = "session-stops"
TICK = 0.01  # BTC/USDT's price grid on the emulator


def client(emulator: EmulatorServer, state: Any = None, **policy: Any) -> CcxtExecutionClient:
    settings = {"resolve_spacing_s": 0.0, "base_delay_s": 0.0, **policy}
    return CcxtExecutionClient(connect(emulator, load=False), SALT, ["BTC/USDT"], MINUTE,
                               VenueClientPolicy(**settings), state=state,
                               clock_ms=emulator.clock.now_ms, sleep=lambda s: None)


def order(coid: str, side: Side = Side.BUY, qty: float = 0.01, sl: float | None = 0.05,
          tp: float | None = 0.08, ts: int = START - MINUTE) -> OrderRequest:
    return OrderRequest(coid, "momentum", "BTC/USDT", "core", ts, side, qty, 100_000.0, 1.0,
                        1_000.0, side is Side.SELL, stop_loss_pct=sl, take_profit_pct=tp)


def open_orders(emulator: EmulatorServer) -> list:
    return [o for o in emulator.ledger.orders() if o.is_open]


def run_until_exit(emulator: EmulatorServer, venue: CcxtExecutionClient,
                   bars: int = 600) -> list:
    """Advance the venue bar by bar, polling, until an exit is announced; its events."""
    for _ in range(bars):
        emulator.clock.advance_ms(MINUTE)
        events = venue.poll()
        if any(isinstance(e, OrderRequest) for e in events):
            return events
    raise AssertionError("no protective leg traded")


def entry_price(venue: CcxtExecutionClient) -> float:
    return next(e.price for e in venue.events_since(0).events if isinstance(e, Fill))


def test_a_filled_entry_gets_an_oco_at_the_backtesters_levels(emulator: EmulatorServer) -> None:
    venue = client(emulator)
    (answer,) = venue.submit([order("E1")])
    assert answer.status is OrderStatus.FILLED
    price = entry_price(venue)
    legs = sorted(open_orders(emulator), key=lambda o: o.type)
    assert [o.type for o in legs] == ["STOP_LOSS", "TAKE_PROFIT_LIMIT"]
    stop, take = legs
    assert stop.order_list_id == take.order_list_id >= 0 and stop.side == "SELL"
    assert stop.qty == pytest.approx(0.01) and take.qty == pytest.approx(0.01)
    assert stop.stop_price == pytest.approx(round_to_tick(price * (1 - 0.0005), TICK))
    assert take.stop_price == take.price == pytest.approx(round_to_tick(price * 1.0008, TICK))
    view = venue.venue_view()
    assert set(view.open_orders) <= set(view.working)  # reconciliation knows both legs
    assert venue.poll() == [] and len(open_orders(emulator)) == 2  # nothing placed twice


def test_a_triggered_leg_is_announced_once_as_a_venue_exit_and_matches_the_ledger(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1")])
    events = run_until_exit(emulator, venue)
    request = next(e for e in events if isinstance(e, OrderRequest))
    assert request.kind in ("stop_loss", "take_profit") and request.reduce_only
    assert request.side is Side.SELL and request.quantity == pytest.approx(0.01)
    mine = [e for e in events if getattr(e, "client_order_id", "") == request.client_order_id]
    assert [type(e).__name__ if not isinstance(e, OrderUpdate) else e.status.value
            for e in mine] == ["OrderRequest", "ACCEPTED", "Fill", "FILLED"]
    fill = mine[2]
    trades = emulator.ledger.trades()
    assert len(trades) == 2  # the entry and the exit, nothing else
    assert (fill.price, fill.quantity, fill.fee) == pytest.approx(
        (trades[1].price, trades[1].qty, trades[1].commission))
    assert fill.reason == request.kind and fill.ts == request.ts  # the bar it happened in
    assert open_orders(emulator) == []  # the other leg expired; nothing new placed (flat)
    assert venue.protections.live() == []
    assert venue.poll() == []  # read again: no second announcement, no second fill
    assert venue.venue_view().unseen == ()


def test_a_stop_alone_is_a_single_stop_order(emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1", tp=None)])
    (leg,) = open_orders(emulator)
    assert leg.type == "STOP_LOSS" and leg.order_list_id == -1


def test_an_exit_signal_cancels_the_protection_first_and_leaves_nothing_open(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1")])
    emulator.clock.advance_ms(MINUTE)
    (answer,) = venue.submit([order("E2", side=Side.SELL, ts=START)])
    assert answer.status is OrderStatus.FILLED  # the base asset was free for the sell
    assert open_orders(emulator) == [] and venue.protections.live() == []
    assert len(emulator.ledger.trades()) == 2


def test_adding_to_a_position_replaces_its_protection(emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1")])
    emulator.clock.advance_ms(MINUTE)
    venue.submit([order("E2", qty=0.02, ts=START)])
    legs = open_orders(emulator)
    assert len(legs) == 2 and all(o.qty == pytest.approx(0.03) for o in legs)
    protection = venue.protections.current("BTC/USDT", "core")
    assert protection is not None and protection.version == 2
    position = venue.protections.positions[("BTC/USDT", "core")]
    assert legs[0].stop_price == pytest.approx(
        round_to_tick(position.entry_avg * (1 - 0.0005), TICK))


def test_a_stop_that_trades_while_we_are_down_is_picked_up_after_restart(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1")])
    saved = venue.state(keep_after=venue.events_since(0).last)
    for _ in range(600):  # nobody is polling: the venue works the stop alone
        emulator.clock.advance_ms(MINUTE)
        if not open_orders(emulator):
            break
    assert open_orders(emulator) == [] and len(emulator.ledger.trades()) == 2
    announced = []
    for _ in range(2):  # a restart, and another from the same state: one announcement each
        restarted = client(emulator, state=saved)
        events = restarted.poll()
        requests = [e for e in events if isinstance(e, OrderRequest)]
        assert len(requests) == 1 and len([e for e in events if isinstance(e, Fill)]) == 1
        announced.append(requests[0])
    assert announced[0] == announced[1]  # the same deterministic exit, whichever life sees it
    assert open_orders(emulator) == []


def test_a_protection_sent_just_before_a_crash_is_looked_up_not_sent_again(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([order("E1", tp=None)])
    before = venue.state()
    # the state of a life that died after sending its protection but before saving it
    lost = before.protections
    assert lost is not None
    stale = type(before)(before.orders, before.last_trade_ids, before.last_event, (),
                         type(lost)(lost.positions, (), ()))
    restarted = client(emulator, state=stale)
    restarted.poll()
    assert len([o for o in emulator.ledger.orders() if o.type == "STOP_LOSS"]) == 1
    assert restarted.protections.current("BTC/USDT", "core").status == "open"


def test_a_protection_create_without_answer_is_looked_up_never_resent(
        emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "timeout", "endpoint": "/api/v3/orderList/oco", "nth": 1,
                        "hold_s": 2.0, "processed": True})
    venue = CcxtExecutionClient(connect(emulator, load=False, timeout_ms=1000), SALT,
                                ["BTC/USDT"], MINUTE,
                                VenueClientPolicy(resolve_spacing_s=0.0, base_delay_s=0.0),
                                clock_ms=emulator.clock.now_ms, sleep=lambda s: None)
    venue.submit([order("E1")])
    venue.poll()
    assert len(open_orders(emulator)) == 2  # one list, found by its client id
    assert venue.protections.current("BTC/USDT", "core").status == "open"
    assert len([r for r in emulator.requests("/api/v3/orderList/oco")
                if r.method == "POST"]) == 1


def test_a_level_the_price_has_already_passed_exits_at_market_at_once(
        make_emulator) -> None:
    # ETH/USDT falls through a 0.05% stop within the bar of the entry (real 1m data)
    entry_bar = 1_747_738_320_000
    emulator = make_emulator(start_ms=entry_bar + MINUTE - 5_000)
    venue = CcxtExecutionClient(connect(emulator, load=False), SALT, ["ETH/USDT"], MINUTE,
                                VenueClientPolicy(), clock_ms=emulator.clock.now_ms,
                                default_stops=(0.0005, 0.0008))
    buy = OrderRequest("E1", "momentum", "ETH/USDT", "core", entry_bar, Side.BUY, 0.3976,
                       2515.0, 1.0, 1_000.0, False)
    venue.submit([buy])
    events = venue.events_since(0).events
    exit_request = next(e for e in events if isinstance(e, OrderRequest))
    assert exit_request.kind == "stop_loss" and exit_request.side is Side.SELL
    mine = [e for e in events if getattr(e, "client_order_id", "") == exit_request.client_order_id]
    assert [e.status.value if isinstance(e, OrderUpdate) else type(e).__name__
            for e in mine] == ["OrderRequest", "ACCEPTED", "Fill", "FILLED"]
    assert [o.type for o in emulator.ledger.orders()] == ["MARKET", "MARKET"]
    assert open_orders(emulator) == [] and venue.protections.live() == []
    assert venue.poll() == []

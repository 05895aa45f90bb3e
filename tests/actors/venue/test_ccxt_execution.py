"""The ccxt execution client against the Binance emulator over real HTTP: one order per id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from actors.adapters.ccxt_execution import (
    OUTCOME_UNKNOWN,
    CcxtExecutionClient,
    VenueClientPolicy,
)
from actors.emulator import EmulatorServer
from core.trading.execution import EventsLostError
from core.trading.messages import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from core.trading.venue_ids import venue_client_order_id
from core.trading.venue_orders import NOT_PLACED
from tests.actors.emulator.support import MINUTE, START, connect

S = OrderStatus
SALT = "session-1"


def request(coid: str = "E1", qty: float = 0.01, side: Side = Side.BUY,
            symbol: str = "BTC/USDT", ts: int = START - MINUTE) -> OrderRequest:
    return OrderRequest(coid, "momentum", symbol, "core", ts, side, qty, 100_000.0, 1.0,
                        1_000.0, False)


def client(emulator: EmulatorServer, sleeps: list[float] | None = None,
           **policy: Any) -> CcxtExecutionClient:
    settings = {"resolve_spacing_s": 0.0, "base_delay_s": 0.0, **policy}
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return CcxtExecutionClient(connect(emulator, load=False), SALT, ["BTC/USDT", "ETH/USDT"],
                               MINUTE, VenueClientPolicy(**settings),
                               clock_ms=emulator.clock.now_ms, sleep=record)


def posts(emulator: EmulatorServer) -> list:
    return [r for r in emulator.requests("/api/v3/order") if r.method == "POST"]


def kinds(events) -> list[str]:
    return [e.status.value if isinstance(e, OrderUpdate) else type(e).__name__
            for e in events]


def test_a_market_order_is_sent_once_with_the_salted_id_and_filled_from_trades(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    (answer,) = venue.submit([request()])
    assert answer.status is S.FILLED and answer.filled_quantity == pytest.approx(0.01)
    page = venue.events_since(0)
    assert kinds(page.events) == ["ACCEPTED", "Fill", "FILLED"]
    fill = page.events[1]
    (trade,) = emulator.ledger.trades()
    assert isinstance(fill, Fill) and fill.price == pytest.approx(trade.price)
    assert fill.fee == pytest.approx(trade.commission) and fill.ts == START  # the bar's open
    assert page.events[0].ts == START - MINUTE  # acknowledged for the decision's bar
    (order,) = emulator.ledger.orders()
    assert order.client_order_id == venue_client_order_id(SALT, "E1")
    assert venue.submit([request()]) == [answer]  # asked again: no second order
    assert venue.poll() == []  # the trade list brings no second fill
    assert len(emulator.ledger.orders()) == 1 and len(posts(emulator)) == 1


def test_rules_deny_before_sending_and_venue_rejects_are_recorded(
        emulator: EmulatorServer) -> None:
    venue = client(emulator)
    tiny, broke = request("E1", qty=0.000001), request("E2", qty=5.0)
    answers = venue.submit([tiny, broke])
    assert [(a.status, a.reason) for a in answers] == [
        (S.REJECTED, "quantity_rounds_to_zero"), (S.REJECTED, "insufficient_balance")]
    assert len(posts(emulator)) == 1  # the tiny one never left
    assert kinds(venue.events_since(0).events) == ["REJECTED", "REJECTED"]


def test_a_dropped_answer_is_looked_up_never_resent(emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "drop_after_accept", "nth": 1})
    venue = client(emulator)
    (answer,) = venue.submit([request()])
    assert answer.status is S.FILLED
    assert len(posts(emulator)) == 1 and len(emulator.ledger.orders()) == 1
    assert [e.quantity for e in venue.events_since(0).events if isinstance(e, Fill)] == [
        pytest.approx(0.01)]


@pytest.mark.parametrize("fault", [
    {"kind": "unknown_status", "nth": 1, "code": -1006, "processed": True},
    {"kind": "http_5xx", "nth": 1, "status": 503, "processed": True},
    {"kind": "timeout", "nth": 1, "hold_s": 2.0, "processed": True},
])
def test_unknown_outcomes_that_were_processed_resolve_to_the_one_order(
        emulator: EmulatorServer, fault: dict) -> None:
    emulator.add_fault(fault)
    venue = CcxtExecutionClient(connect(emulator, load=False, timeout_ms=1000), SALT,
                                ["BTC/USDT"], MINUTE,
                                VenueClientPolicy(resolve_spacing_s=0.0, base_delay_s=0.0),
                                clock_ms=emulator.clock.now_ms, sleep=lambda s: None)
    (answer,) = venue.submit([request()])
    assert answer.status is S.FILLED
    assert len(posts(emulator)) == 1 and len(emulator.ledger.orders()) == 1


def test_an_order_that_never_arrived_is_declared_not_placed_only_after_the_window(
        emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "connection_reset", "endpoint": "/api/v3/order",
                        "method": "POST", "nth": 1})
    venue = client(emulator, not_found_confirmations=3)
    (answer,) = venue.submit([request()])
    assert (answer.status, answer.reason) == (S.INITIALIZED, OUTCOME_UNKNOWN)
    venue.poll()
    venue.poll()  # three venue "not found" answers now, but the window has not passed
    assert venue.orders.get("E1").unknown
    emulator.clock.advance_ms(6_000)  # past recvWindow: a late create is refused now
    events = venue.poll()
    assert [(e.status, e.reason) for e in events] == [(S.REJECTED, NOT_PLACED)]
    assert venue.submit([request()])[0].reason == NOT_PLACED  # and never resent
    assert len(posts(emulator)) == 1 and emulator.ledger.orders() == []


def test_rate_limited_and_clock_refused_creates_are_resent_safely(
        emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "http_429", "endpoint": "/api/v3/order", "method": "POST",
                        "nth": 1, "retry_after_s": 3})
    emulator.add_fault({"kind": "clock_skew", "endpoint": "/api/v3/order", "method": "POST",
                        "nth": 2, "skew_ms": 60_000})
    sleeps: list[float] = []
    venue = client(emulator, sleeps)
    (answer,) = venue.submit([request()])
    assert answer.status is S.FILLED
    assert any(s >= 3.0 for s in sleeps)  # Retry-After obeyed
    assert [r.status for r in posts(emulator)] == [429, 400, 200]
    assert len(emulator.ledger.orders()) == 1


def test_a_restarted_client_looks_up_what_its_predecessor_may_have_sent(
        emulator: EmulatorServer) -> None:
    intents: list[tuple[OrderRequest, int]] = []
    first = CcxtExecutionClient(connect(emulator, load=False), SALT, ["BTC/USDT"], MINUTE,
                                before_send=lambda r, ms: intents.append((r, ms)),
                                clock_ms=emulator.clock.now_ms, sleep=lambda s: None)
    first.start()
    saved = first.state()  # the last snapshot before the crash
    emulator.add_fault({"kind": "drop_after_accept", "nth": 1})
    first.orders.outcome_unknown = _crash  # the process dies before it learns the outcome
    with pytest.raises(_CrashedError):
        first.submit([request()])
    second = CcxtExecutionClient(connect(emulator, load=False), SALT, ["BTC/USDT"], MINUTE,
                                 state=saved, clock_ms=emulator.clock.now_ms,
                                 sleep=lambda s: None)
    updates = second.recover_intents(intents)
    assert updates[-1].status is S.FILLED
    assert second.submit([request()])[0].status is S.FILLED  # the step retried: no resend
    assert len(posts(emulator)) == 1 and len(emulator.ledger.orders()) == 1
    assert sum(isinstance(e, Fill) for e in second.events_since(0).events) == 1


class _CrashedError(Exception):
    pass


def _crash(*args: object) -> None:
    raise _CrashedError


def test_partial_fills_and_delayed_fills_are_followed_by_polling(
        emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "partial_fill", "nth": 1, "fraction": 0.4})
    emulator.add_fault({"kind": "delayed_fill", "nth": 2})
    venue = client(emulator)
    first, second = venue.submit([request("E1", 0.01), request("E2", 0.1, symbol="ETH/USDT")])
    assert first.status is S.PARTIALLY_FILLED and second.status is S.ACCEPTED
    emulator.clock.advance_bars(1)
    venue.poll()
    events = venue.events_since(0).events
    fills = [e for e in events if isinstance(e, Fill)]
    assert sum(f.quantity for f in fills if f.client_order_id == "E1") == pytest.approx(0.01)
    assert sum(f.quantity for f in fills if f.client_order_id == "E2") == pytest.approx(0.1)
    assert venue.orders.get("E1").order.status is S.FILLED
    assert venue.orders.get("E2").order.status is S.FILLED
    assert len(fills) == len(emulator.ledger.trades()) == 3  # one fill per venue trade


def test_a_working_order_is_cancelled_by_client_id(emulator: EmulatorServer) -> None:
    emulator.add_fault({"kind": "delayed_fill", "nth": 1})
    venue = client(emulator)
    assert venue.submit([request()])[0].status is S.ACCEPTED
    (cancelled,) = venue.cancel(None, START, "kill_switch")
    assert (cancelled.status, cancelled.reason) == (S.CANCELED, "kill_switch")
    emulator.clock.advance_bars(1)
    assert venue.poll() == [] and emulator.ledger.trades() == []


def test_events_are_numbered_and_old_ones_can_be_lost(emulator: EmulatorServer) -> None:
    venue = client(emulator, event_capacity=2)
    venue.submit([request()])
    page = venue.events_since(2)
    assert page.last == 3 and kinds(page.events) == ["FILLED"]
    with pytest.raises(EventsLostError):
        venue.events_since(0)


def test_the_account_and_the_limiter_follow_the_venue(emulator: EmulatorServer) -> None:
    venue = client(emulator)
    venue.submit([request()])
    account = venue.account()
    balances = emulator.ledger.balances()
    assert account.cash == pytest.approx(sum(balances["USDT"]))
    assert account.positions == (("BTC/USDT", "", pytest.approx(0.01)),)
    assert venue.caller.limiter.used("x-mbx-used-weight-1m", emulator.clock.now_ms()) > 0


def test_credentials_never_appear_in_errors(make_emulator: Callable[..., EmulatorServer]
                                            ) -> None:
    emulator = make_emulator()
    exchange = connect(emulator, load=False)
    exchange.secret = "WRONG" + "x" * 40
    venue = CcxtExecutionClient(exchange, SALT, ["BTC/USDT"], MINUTE,
                                clock_ms=emulator.clock.now_ms, sleep=lambda s: None)
    with pytest.raises(Exception) as info:
        venue.account()
    text = str(info.value) + repr(info.value.__dict__)
    assert emulator.config.api_key not in text and exchange.secret not in text


def test_a_buy_commission_taken_in_the_base_asset_is_not_held_and_not_sold(
        make_emulator: Callable[..., EmulatorServer]) -> None:
    # Binance's default without BNB: the fee of a buy is taken from the bought asset, so the
    # account holds less than the trade's quantity; the book must hold what the venue holds,
    # or its exit asks to sell more than there is (and reconciliation sees a difference)
    emulator = make_emulator(buy_fee_in_base=True)
    venue = client(emulator)
    venue.submit([request("E1", qty=0.01234)])
    (fill,) = [e for e in venue.events_since(0).events if isinstance(e, Fill)]
    (trade,) = emulator.ledger.trades()
    held = sum(emulator.ledger.balances()["BTC"])
    assert trade.commission_asset == "BTC" and trade.qty == pytest.approx(0.01234)
    assert fill.quantity == pytest.approx(held) == pytest.approx(0.01234 - trade.commission)
    assert fill.fee == pytest.approx(trade.commission * trade.price)
    spent = 10_000.0 - sum(emulator.ledger.balances()["USDT"])
    assert spent == pytest.approx(fill.quantity * fill.price + fill.fee)  # the venue's cost
    assert venue.account().positions == (("BTC/USDT", "", pytest.approx(held)),)
    (exit_answer,) = venue.submit([request("X1", qty=fill.quantity, side=Side.SELL, ts=START)])
    assert exit_answer.status is S.FILLED, exit_answer
    sells = [e for e in venue.events_since(0).events
             if isinstance(e, Fill) and e.side is Side.SELL]
    left = sum(emulator.ledger.balances()["BTC"])
    # what is left is below one lot step (the venue cannot sell it), and the book agrees
    assert 0.0 <= left < 0.00001
    assert fill.quantity - sum(s.quantity for s in sells) == pytest.approx(left, abs=1e-12)

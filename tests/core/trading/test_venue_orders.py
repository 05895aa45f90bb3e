from __future__ import annotations

import pytest

from core.trading.errors import OrderStateError
from core.trading.messages import OrderRequest, OrderStatus, Side
from core.trading.venue_orders import (
    NOT_PLACED,
    VenueOrderReport,
    VenueOrders,
    VenueTrade,
)

S = OrderStatus


def request(coid: str = "E1", ts: int = 60_000) -> OrderRequest:
    return OrderRequest(coid, "strat", "BTC/USDT", "core", ts, Side.BUY, 0.5, 100.0, 1.0,
                        50.0, False)


def report(status: str, filled: float = 0.0, ts: int = 61_000, vid: str = "v1",
           oid: str = "7") -> VenueOrderReport:
    return VenueOrderReport(vid, oid, "BTC/USDT", status, filled, ts)


def trade(tid: str, qty: float, oid: str = "7", price: float = 101.0) -> VenueTrade:
    return VenueTrade(tid, oid, "BTC/USDT", Side.BUY, qty, price, 0.05, False, 61_000)


def test_a_market_order_answered_filled_walks_the_state_machine_once() -> None:
    book = VenueOrders()
    book.sending(request(), "v1", sent_ms=60_500)
    assert [t.order.client_order_id for t in book.needing_query()] == ["E1"]
    updates = book.report(report("FILLED", 0.5))
    assert [(u.status, u.filled_quantity) for u in updates] == [(S.ACCEPTED, 0.0),
                                                                (S.FILLED, 0.5)]
    assert book.report(report("FILLED", 0.5)) == []  # the same answer again: no event
    assert book.needing_query() == []


def test_partial_fills_then_cancel_each_give_one_update() -> None:
    book = VenueOrders()
    book.sending(request(), "v1", 60_500)
    assert [u.status for u in book.report(report("NEW"))] == [S.ACCEPTED]
    assert book.report(report("NEW")) == []
    assert [u.filled_quantity for u in book.report(report("PARTIALLY_FILLED", 0.1))] == [0.1]
    assert [u.filled_quantity for u in book.report(report("PARTIALLY_FILLED", 0.3))] == [0.3]
    assert book.report(report("PENDING_CANCEL", 0.3)) == []
    done = book.report(report("EXPIRED", 0.3))
    assert [(u.status, u.reason) for u in done] == [(S.CANCELED, "expired")]
    with pytest.raises(OrderStateError):  # the venue going backwards is a bug, not a guess
        book.report(report("NEW"))


def test_fills_come_from_trades_once_each_and_foreign_trades_are_kept_apart() -> None:
    book = VenueOrders()
    book.sending(request(), "v1", 60_500)
    book.report(report("FILLED", 0.5))
    fills = book.trades([trade("1", 0.2), trade("2", 0.3), trade("99", 1.0, oid="555")])
    assert [(f.client_order_id, f.quantity) for f in fills] == [("E1", 0.2), ("E1", 0.3)]
    assert fills[0].fee == 0.05 and fills[0].slippage_cost == pytest.approx(0.2)
    assert book.trades([trade("1", 0.2), trade("2", 0.3)]) == []  # seen: no second fill
    assert [t.trade_id for t in book.external_trades] == ["99"]


def test_an_unknown_create_is_not_placed_only_after_confirmations_and_the_window() -> None:
    book = VenueOrders(not_found_confirmations=3, recv_window_ms=5_000)
    book.sending(request(), "v1", sent_ms=60_000)
    book.outcome_unknown("E1")
    assert book.not_found("E1", 61_000) == []
    assert book.not_found("E1", 62_000) == []
    assert book.not_found("E1", 63_000) == []  # three answers, but inside the window
    assert book.get("E1").unknown
    updates = book.not_found("E1", 65_001)
    assert [(u.status, u.reason) for u in updates] == [(S.REJECTED, NOT_PLACED)]
    assert book.needing_query() == []


def test_a_found_answer_resets_the_not_found_count() -> None:
    book = VenueOrders(not_found_confirmations=2, recv_window_ms=0)
    book.sending(request(), "v1", 60_000)
    book.not_found("E1", 61_000)
    assert [u.status for u in book.report(report("NEW"))] == [S.ACCEPTED]
    assert book.get("E1").not_found == 0
    assert book.not_found("E1", 70_000) == []  # known to exist: never declared lost


def test_a_client_id_is_sent_at_most_once() -> None:
    book = VenueOrders()
    book.sending(request(), "v1", 60_000)
    with pytest.raises(ValueError, match="never resend"):
        book.sending(request(), "v1", 61_000)


def test_state_round_trip_keeps_orders_trades_and_lookups() -> None:
    book = VenueOrders()
    book.sending(request(), "v1", 60_000)
    book.report(report("PARTIALLY_FILLED", 0.2))
    book.trades([trade("1", 0.2), trade("9", 1.0, oid="other")])
    again = VenueOrders.from_state(book.state())
    assert again.state() == book.state()
    assert again.by_venue_client_id("v1").order.filled_quantity == 0.2
    assert again.trades([trade("1", 0.2)]) == []
    assert [f.quantity for f in again.trades([trade("2", 0.3)])] == [0.3]
    assert again.rejected("E1", 70_000, "x") == []  # working: a cancel, not a reject, ends it


def test_venue_order_ids_are_unique_per_symbol_only() -> None:
    book = VenueOrders()
    book.sending(request("E1"), "v1", 60_000)
    eth = OrderRequest("E2", "strat", "ETH/USDT", "core", 60_000, Side.BUY, 1.0, 10.0, 1.0,
                       10.0, False)
    book.sending(eth, "v2", 60_000)
    book.report(report("FILLED", 0.5, vid="v1", oid="1"))
    book.report(VenueOrderReport("v2", "1", "ETH/USDT", "FILLED", 1.0, 61_000))
    eth_trade = VenueTrade("1", "1", "ETH/USDT", Side.BUY, 1.0, 10.0, 0.0, False, 61_000)
    fills = book.trades([trade("1", 0.5, oid="1"), eth_trade])
    assert [(f.client_order_id, f.symbol) for f in fills] == [("E1", "BTC/USDT"),
                                                              ("E2", "ETH/USDT")]
    assert book.knows_order("ETH/USDT", "1") and not book.knows_order("LTC/USDT", "1")

"""The pure plan of exchange-native stops: levels, versions, one live protection per position."""

from __future__ import annotations

import pytest

from core.trading.messages import Fill, OrderRequest, Side
from core.trading.venue_protection import (
    Cancel,
    Place,
    ProtectionLevels,
    VenueProtections,
    wanted_levels,
)
from core.trading.venue_rules import MarketRules

RULES = MarketRules("BTC/USDT", "BTCUSDT", "BTC", "USDT", step_size=0.00001,
                    min_quantity=0.00001, tick_size=0.01, min_notional=5.0)


def rules(symbol: str) -> MarketRules:
    return RULES


def request(coid: str = "E1", side: Side = Side.BUY, sl: float | None = 1.0,
            tp: float | None = 2.0) -> OrderRequest:
    return OrderRequest(coid, "momentum", "BTC/USDT", "core", 0, side, 0.01, 100_000.0, 1.0,
                        1_000.0, side is Side.SELL, stop_loss_pct=sl, take_profit_pct=tp)


def fill(qty: float, price: float, side: Side = Side.BUY, coid: str = "E1") -> Fill:
    return Fill(coid, "momentum", "BTC/USDT", "core", 60_000, side, qty, price, 0.1, 0.0)


def book_with(qty: float = 0.01, price: float = 100_000.0, **stops) -> VenueProtections:
    book = VenueProtections("salt", default_stops=(0.0, 0.0))
    book.on_fill(fill(qty, price), request(**stops))
    return book


def test_levels_follow_the_backtesters_rule_on_the_venues_grids() -> None:
    book = book_with(qty=0.0123456, price=100_000.123)
    position = book.positions[("BTC/USDT", "core")]
    assert wanted_levels(position, RULES) == ProtectionLevels(
        Side.SELL, 0.01234, 99_000.12, 102_000.13)
    assert wanted_levels(book_with(sl=None, tp=None).positions[("BTC/USDT", "core")],
                         RULES) is None
    dust = book_with(qty=0.000001).positions[("BTC/USDT", "core")]
    assert wanted_levels(dust, RULES) is None  # nothing the venue would accept


def test_defaults_apply_when_the_order_names_no_stop() -> None:
    book = VenueProtections("salt", default_stops=(0.01, 0.0))
    book.on_fill(fill(0.01, 100_000.0), request(sl=None, tp=None))
    (action,) = book.plan(rules, lambda coid: False, 0)
    assert isinstance(action, Place)
    assert [leg.kind for leg in action.protection.legs] == ["stop_loss"]
    assert action.protection.levels.stop == pytest.approx(99_000.0)


def test_one_live_protection_per_position_and_a_new_version_for_new_levels() -> None:
    book = book_with()
    (place,) = book.plan(rules, lambda coid: False, 0)
    assert isinstance(place, Place) and place.protection.version == 1
    first = place.protection
    assert len({first.list_client_id, *(leg.venue_client_id for leg in first.legs)}) == 3
    assert book.plan(rules, lambda coid: False, 0) == []  # still being sent: wait
    book.placed(first, {first.legs[0].venue_client_id: "11",
                        first.legs[1].venue_client_id: "12"})
    assert book.current("BTC/USDT", "core").status == "open"
    assert book.plan(rules, lambda coid: False, 0) == []  # what is wanted is there
    book.on_fill(fill(0.01, 110_000.0, coid="E2"), request("E2"))  # added: new levels
    (cancel,) = book.plan(rules, lambda coid: False, 0)
    assert isinstance(cancel, Cancel) and cancel.protection.version == 1
    book.canceled(cancel.protection)
    (place,) = book.plan(rules, lambda coid: False, 0)
    assert place.protection.version == 2 and place.protection.levels.quantity == 0.02
    assert place.protection.list_client_id != first.list_client_id  # ids are never reused


def test_a_refused_protection_is_not_retried_until_its_levels_change() -> None:
    book = book_with()
    (place,) = book.plan(rules, lambda coid: False, 0)
    book.rejected(place.protection, "venue_rejected")
    assert book.plan(rules, lambda coid: False, 0) == []
    book.on_fill(fill(0.01, 100_000.0, coid="E2"), request("E2"))
    assert [type(a) for a in book.plan(rules, lambda coid: False, 0)] == [Place]


def test_an_unknown_create_is_not_placed_only_after_confirmations_and_the_window() -> None:
    book = VenueProtections("salt", not_found_confirmations=2, recv_window_ms=5_000)
    book.on_fill(fill(0.01, 100_000.0), request())
    (place,) = book.plan(rules, lambda coid: False, 1_000)
    book.outcome_unknown(place.protection)
    book.not_found(place.protection, 2_000)
    book.not_found(place.protection, 3_000)  # two answers, but inside the window
    assert book.current("BTC/USDT", "core").status == "unknown"
    assert book.plan(rules, lambda coid: False, 3_000) == []  # never a blind resend
    book.not_found(place.protection, 7_000)
    assert book.current("BTC/USDT", "core").status == "done"
    (again,) = book.plan(rules, lambda coid: False, 7_000)
    assert again.protection.version == 2


def test_a_traded_leg_becomes_one_deterministic_exit_and_blocks_new_protections() -> None:
    book = book_with()
    (place,) = book.plan(rules, lambda coid: False, 0)
    ids = {leg.venue_client_id: str(n) for n, leg in enumerate(place.protection.legs, 1)}
    book.placed(place.protection, ids)
    protection, leg = book.leg_of("BTC/USDT", "1")
    exit_order = book.triggered(protection, leg, 120_000)
    assert (exit_order.kind, exit_order.side, exit_order.reduce_only) == (
        "stop_loss", Side.SELL, True)
    assert exit_order.quantity == 0.01 and exit_order.reference_price == leg.level
    twin = book_with()
    (twin_place,) = twin.plan(rules, lambda coid: False, 0)
    twin.placed(twin_place.protection, ids)
    assert twin.triggered(*twin.leg_of("BTC/USDT", "1"), 120_000) == exit_order
    assert book.leg_of("BTC/USDT", "1") is None  # announced once
    assert book.plan(rules, lambda coid: True, 0) == []  # its exit still works
    book.on_fill(fill(0.01, 99_000.0, Side.SELL, exit_order.client_order_id), exit_order)
    assert book.plan(rules, lambda coid: False, 0) == []  # flat: nothing to protect
    assert book.current("BTC/USDT", "core").status == "done"


def test_state_round_trips() -> None:
    book = book_with()
    (place,) = book.plan(rules, lambda coid: False, 0)
    restored = VenueProtections.from_state(book.state(), "salt")
    assert restored.state() == book.state()
    assert restored.next_version("BTC/USDT", "core") == 2

from __future__ import annotations

from core.trading.messages import Side
from core.trading.venue_orders import VenueTrade
from core.trading.venue_reconcile import DIFFERENCE_KINDS, reconcile_venue
from core.trading.venue_rules import MarketRules

RULES = [MarketRules("BTC/USDT", "BTCUSDT", "BTC", "USDT", step_size=0.00001),
         MarketRules("ETH/USDT", "ETHUSDT", "ETH", "USDT", step_size=0.0001)]


def check(**changes):
    settings = {"cash": 1000.0, "positions": {"BTC/USDT": 0.01},
                "balances": {"USDT": 1000.004, "BTC": 0.01, "ETH": 0.0}, "rules": RULES,
                "venue_open": [("BTC/USDT", "et1")], "working": [("BTC/USDT", "et1")],
                "unseen": [], "dust_quote": 0.01}
    settings.update(changes)
    return reconcile_venue(**settings)


def test_agreement_within_dust_and_a_lot_step_is_no_difference() -> None:
    assert check() == []
    assert check(balances={"USDT": 1000.0, "BTC": 0.010004}) == []


def test_each_kind_of_difference_is_named_in_a_fixed_order() -> None:
    trade = VenueTrade("77", "9", "ETH/USDT", Side.BUY, 0.5, 2000.0, 1.0, False, 0)
    found = check(balances={"USDT": 900.0, "BTC": 0.01, "ETH": 0.5},
                  venue_open=[("BTC/USDT", "web_1")], unseen=[trade])
    assert [d.kind for d in found] == ["cash", "position", "unknown_open_order",
                                       "missing_open_order", "unseen_fill"]
    assert {d.kind for d in found} == set(DIFFERENCE_KINDS)
    assert str(found[1]) == "position ETH/USDT: venue 0.50000000, book 0.00000000"
    assert "ETH/USDT trade 77" in str(found[-1])


def test_open_orders_adopted_as_external_are_tolerated() -> None:
    venue_open = [("BTC/USDT", "et1"), ("BTC/USDT", "web_1")]
    assert [d.kind for d in check(venue_open=venue_open)] == ["unknown_open_order"]
    assert check(venue_open=venue_open, tolerated=[("BTC/USDT", "web_1")]) == []

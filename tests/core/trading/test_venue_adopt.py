"""Adopting a venue's state: after the adoption, the book and the venue agree."""

from __future__ import annotations

import pytest

from core.trading.messages import CashAdjustment, Fill, OrderRequest, Side
from core.trading.portfolio import Portfolio
from core.trading.venue_adopt import EXTERNAL, adopt_venue
from core.trading.venue_orders import VenueTrade
from core.trading.venue_reconcile import reconcile_venue
from core.trading.venue_rules import MarketRules

RULES = [MarketRules("BTC/USDT", "BTCUSDT", "BTC", "USDT", step_size=0.00001),
         MarketRules("ETH/USDT", "ETHUSDT", "ETH", "USDT", step_size=0.0001)]
TRADE = VenueTrade("77", "9", "ETH/USDT", Side.BUY, 0.5, 2000.0, 1.0, False, 60_000)
VENUE = {"USDT": 10_000.0 - 1001.0 + 250.0, "BTC": 0.2, "ETH": 0.5}
"""The account: an external ETH buy (1,001 USDT), 0.2 BTC and 250 USDT deposited."""


def adoption(**changes):
    settings = {"venue": "binance", "ts": 120_000, "cash": 10_000.0, "positions": {},
                "balances": VENUE, "rules": RULES, "unseen": [TRADE],
                "unknown_open": [("BTC/USDT", "web_1")],
                "marks": {"BTC/USDT": 100_000.0, "ETH/USDT": 2100.0}, "dust_quote": 0.01}
    settings.update(changes)
    return adopt_venue(**settings)


def test_after_adoption_the_book_and_the_venue_agree() -> None:
    plan = adoption()
    book = Portfolio(["BTC/USDT", "ETH/USDT"], 10_000.0)
    for event in plan.events:
        book.apply(event, 0)
    positions = {p.symbol: p.quantity for p in book.open_positions()}
    assert positions == {"BTC/USDT": pytest.approx(0.2), "ETH/USDT": pytest.approx(0.5)}
    assert {p.tag for p in book.open_positions()} == {EXTERNAL}
    assert book.cash == pytest.approx(VENUE["USDT"])
    assert reconcile_venue(cash=book.cash, positions=positions, balances=VENUE, rules=RULES,
                           venue_open=[("BTC/USDT", "web_1")], working=[], unseen=[],
                           dust_quote=0.01, tolerated=plan.external_open) == []
    assert plan.trades == (("ETH/USDT", "77"),)
    assert len(plan.adopted) == 4  # the trade, the BTC position, the cash, the open order


def test_events_are_announced_orders_with_deterministic_ids() -> None:
    plan = adoption()
    kinds = [type(e).__name__ for e in plan.events]
    assert kinds == ["OrderRequest", "OrderUpdate", "Fill", "OrderUpdate",  # the ETH trade
                     "OrderRequest", "OrderUpdate", "Fill", "OrderUpdate",  # BTC at its mark
                     "CashAdjustment", "CashAdjustment"]
    trade_fill = plan.events[2]
    assert isinstance(trade_fill, Fill) and (trade_fill.price, trade_fill.fee) == (2000.0, 1.0)
    btc = plan.events[6]
    assert isinstance(btc, Fill) and (btc.price, btc.fee, btc.side) == (100_000.0, 0.0, Side.BUY)
    position_cash, deposit = plan.events[8], plan.events[9]
    assert isinstance(position_cash, CashAdjustment) and position_cash.amount == 20_000.0
    assert deposit.reason == "external_cash" and deposit.amount == pytest.approx(250.0)
    assert all(e.kind == EXTERNAL for e in plan.events if isinstance(e, OrderRequest))
    assert adoption().events == plan.events  # adopted again after a restart: the same ids


def test_a_position_without_a_mark_is_left_as_a_difference() -> None:
    plan = adoption(marks={})
    assert not any(isinstance(e, Fill) and e.symbol == "BTC/USDT" for e in plan.events)


def test_a_foreign_buy_whose_fee_was_taken_in_the_base_asset_is_adopted_as_held() -> None:
    # 0.5 ETH bought, 0.0005 ETH of it kept as the commission (worth 1 USDT at 2,000)
    trade = VenueTrade("78", "9", "ETH/USDT", Side.BUY, 0.5, 2000.0, 1.0, False, 60_000,
                       fee_base=0.0005)
    balances = {"USDT": 10_000.0 - 1000.0, "ETH": 0.4995}
    plan = adoption(unseen=[trade], balances=balances, unknown_open=[])
    book = Portfolio(["BTC/USDT", "ETH/USDT"], 10_000.0)
    for event in plan.events:
        book.apply(event, 0)
    positions = {p.symbol: p.quantity for p in book.open_positions()}
    assert positions == {"ETH/USDT": pytest.approx(0.4995)}
    assert book.cash == pytest.approx(balances["USDT"])
    assert reconcile_venue(cash=book.cash, positions=positions, balances=balances, rules=RULES,
                           venue_open=[], working=[], unseen=[], dust_quote=0.01) == []
    assert [type(e).__name__ for e in plan.events] == [
        "OrderRequest", "OrderUpdate", "Fill", "OrderUpdate"]  # nothing else to explain

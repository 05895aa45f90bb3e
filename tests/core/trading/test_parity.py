"""Drift from the SIM reference: orders matched by what they did, prices in bps, a bound."""

from __future__ import annotations

import pytest

from core.trading.messages import Fill, Side
from core.trading.parity import parity_report, render_parity


def fill(coid: str, price: float, ts: int = 60_000, qty: float = 1.0, fee: float = 0.1,
         reason: str = "signal", side: Side = Side.BUY) -> Fill:
    return Fill(coid, "s", "BTC/USDT", "core", ts, side, qty, price, fee, 0.0, "taker", reason)


def test_identical_books_have_no_drift() -> None:
    fills = [fill("E1", 100.0), fill("E2", 110.0, ts=120_000, side=Side.SELL)]
    report = parity_report(fills, fills, 1010.0, 1010.0, 25.0)
    assert (report.matched, report.only_session, report.only_reference) == (2, 0, 0)
    assert report.max_price_bps == 0.0 and report.equity_bps == 0.0 and report.within_bound


def test_orders_match_by_what_they_did_and_prices_drift_in_bps() -> None:
    venue = [fill("XS1", 100.05, reason="stop_loss"),  # the venue's id for the same exit
             fill("E2", 50.0, ts=120_000, qty=0.5), fill("E2", 52.0, ts=180_000, qty=0.5)]
    sim = [fill("E9", 100.0, reason="stop_loss"), fill("E2", 51.0, ts=120_000)]
    report = parity_report(venue, sim, 999.0, 1000.0, 25.0)
    assert report.matched == 2 and report.only_session == report.only_reference == 0
    assert report.max_price_bps == pytest.approx(5.0)  # 100.05 against 100; VWAP 51 == 51
    assert report.equity_diff == -1.0 and report.equity_bps == pytest.approx(-10.0)
    assert report.within_bound
    assert not parity_report(venue, sim, 999.0, 1000.0, 4.0).within_bound


def test_an_order_in_one_book_only_is_above_any_bound() -> None:
    report = parity_report([], [fill("E1", 100.0)], 1000.0, 1000.0, 1e4)
    assert report.only_reference == 1 and not report.within_bound
    text = "\n".join(render_parity(report))
    assert "| filled in the SIM reference only | 1 |" in text and "ABOVE the bound" in text


def test_external_fills_are_not_the_strategys() -> None:
    report = parity_report([fill("XP1", 100.0, reason="external")], [], 1.0, 1.0, 0.0)
    assert report.matched == report.only_session == 0

"""A client restarted after weeks away: trades read by id, page after page, and no lookback.

NautilusTrader #3104: a position older than the reconciliation lookback made the node refuse
to start. The ccxt client keeps no time window: trades are read from the last trade id it
saw, in pages, and reconciliation compares the venue's balances with the book (spot: the
balance is the truth), so a position held for weeks reconciles like one held for a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.adapters.ccxt_execution import CcxtExecutionClient, VenueClientPolicy
from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorServer
from core.trading.messages import Fill, OrderRequest, Side
from core.trading.venue_reconcile import reconcile_venue
from tests.actors.emulator.support import connect, start_emulator

HOUR = 3_600_000
START = 1_735_689_600_000  # 2025-01-01 00:00 UTC
WEEKS = 3
SALT = "session-weeks"


@pytest.fixture
def hourly(shared_data: Path) -> Iterator[EmulatorServer]:
    """A Binance emulator replaying a month and a half of real BTC/USDT 1h bars."""
    store = ParquetStore(shared_data)
    candles = {"BTC/USDT": store.read("BINANCE", "BTC/USDT", "1h", start_ms=START - 50 * HOUR,
                                      end_ms=START + 1100 * HOUR)}
    emulator = start_emulator(candles, symbols=("BTC/USDT",), timeframe="1h",
                              start_ms=START + 30 * 60_000)
    yield emulator
    emulator.stop()


def client(emulator: EmulatorServer, state=None, page: int = 1000) -> CcxtExecutionClient:
    return CcxtExecutionClient(connect(emulator, load=False), SALT, ["BTC/USDT"], HOUR,
                               VenueClientPolicy(trades_page=page), state=state,
                               clock_ms=emulator.clock.now_ms, sleep=lambda s: None)


def buy(coid: str, qty: float, ts: int, sl: float | None = None,
        tp: float | None = None) -> OrderRequest:
    return OrderRequest(coid, "momentum", "BTC/USDT", "core", ts, Side.BUY, qty, 90_000.0, 1.0,
                        1_000.0, False, stop_loss_pct=sl, take_profit_pct=tp)


def trade_requests(emulator: EmulatorServer) -> int:
    return len(emulator.requests("/api/v3/myTrades"))


def test_trades_are_read_page_after_page_in_one_poll(hourly: EmulatorServer) -> None:
    venue = client(hourly, page=2)
    for n in range(5):
        venue.submit([buy(f"E{n}", 0.001, START - HOUR)])
    before = trade_requests(hourly)
    venue.poll()
    assert trade_requests(hourly) - before == 3  # 2 + 2 + 1 trades
    newest = max(t.id for t in hourly.ledger.trades())
    assert venue.state().last_trade_ids == (("BTC/USDT", newest),)
    fills = [e for e in venue.events_since(0).events if isinstance(e, Fill)]
    assert len(fills) == 5 and venue.venue_view().unseen == ()


def test_a_position_held_for_weeks_reconciles_and_its_stop_is_picked_up(
        hourly: EmulatorServer) -> None:
    venue = client(hourly)
    venue.submit([buy("E1", 0.01, START - HOUR, sl=4.0, tp=4.0)])
    saved = venue.state(keep_after=venue.events_since(0).last)
    hourly.clock.advance_ms(WEEKS * 7 * 24 * HOUR)  # the fund is down for three weeks
    restarted = client(hourly, state=saved)
    events = restarted.poll()
    exits = [e for e in events if isinstance(e, OrderRequest)]
    assert len(exits) == 1 and exits[0].kind in ("stop_loss", "take_profit")
    (exit_fill,) = [e for e in events if isinstance(e, Fill)]
    entry, exit_trade = hourly.ledger.trades()
    assert (exit_fill.price, exit_fill.quantity) == pytest.approx(
        (exit_trade.price, exit_trade.qty))
    assert START < exit_fill.ts < START + WEEKS * 7 * 24 * HOUR  # booked at its own hour
    view = restarted.venue_view()
    position = entry.qty - exit_fill.quantity  # the book: the entry, then the exit
    cash = 10_000.0 - entry.qty * entry.price - entry.commission \
        + exit_trade.qty * exit_trade.price - exit_trade.commission
    assert reconcile_venue(cash=cash, positions={"BTC/USDT": position},
                           balances=view.balances, rules=[restarted.rules("BTC/USDT")],
                           venue_open=view.open_orders, working=view.working,
                           unseen=view.unseen, dust_quote=0.01) == []


def test_a_position_held_for_weeks_without_stops_reconciles(hourly: EmulatorServer) -> None:
    venue = client(hourly)
    venue.submit([buy("E1", 0.01, START - HOUR)])
    saved = venue.state(keep_after=venue.events_since(0).last)
    hourly.clock.advance_ms(WEEKS * 7 * 24 * HOUR)
    restarted = client(hourly, state=saved)
    assert restarted.poll() == []
    view = restarted.venue_view()
    (entry,) = hourly.ledger.trades()
    assert reconcile_venue(cash=10_000.0 - entry.qty * entry.price - entry.commission,
                           positions={"BTC/USDT": 0.01}, balances=view.balances,
                           rules=[restarted.rules("BTC/USDT")], venue_open=view.open_orders,
                           working=view.working, unseen=view.unseen, dust_quote=0.01) == []

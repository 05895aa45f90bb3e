"""TESTNET/LIVE through the ccxt executor against the Binance emulator over real HTTP.

The store-equals-ledger sessions (with faults and kills) are in
``test_session_venue_faults.py``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import ray

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.live.commands import report_reconciliation
from actors.live.run import SessionResult
from actors.live.tree import SessionNames
from tests.actors.live.sessions import run, session_config

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
SPEED = 240.0  # one 1m bar every 0.25 s
SYMBOLS = ("BTC/USDT", "ETH/USDT")
STRATEGY = '[strategy]\nname = "momentum"\nparams = { fast = 3, slow = 7 }\n'
EMULATOR_START = FIRST_BAR + 600 * MINUTE + 30_000
AHEAD_BARS = 36  # 9 s of wall time at SPEED: the tree starts before the first bar closes


def emulator_for(shared_data: Path, **settings) -> EmulatorServer:
    store = ParquetStore(shared_data)
    candles = {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + 2000 * MINUTE)
               for s in SYMBOLS}
    config = EmulatorConfig(symbols=SYMBOLS, timeframe="1m", speed=SPEED,
                            start_ms=EMULATOR_START, **settings)
    return EmulatorServer(config, candles).start()


def venue_session(tmp_path: Path, shared_data: Path, url: str, minutes: int = 40,
                  extra: str = "", max_lag_bars: int = 0, ahead: bool = True,
                  on_step: Callable[[int, SessionResult], None] | None = None
                  ) -> SessionResult:
    """A TESTNET session on the emulator.

    The paced emulator runs on while the session's tree starts (a few seconds: tens of bars
    at this speed). With ``ahead`` the session's first bar is :data:`AHEAD_BARS` bars after
    the emulator's start, so the tree is up before it closes; without it the session starts
    at the bar forming when it is planned and begins behind the venue (``max_lag_bars``
    decides whether its orders leave while it catches up).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    start = str(EMULATOR_START - EMULATOR_START % MINUTE + AHEAD_BARS * MINUTE) if ahead \
        else None
    loaded = session_config(tmp_path, shared_data, symbols=SYMBOLS, duration=f"{minutes}m",
                            until=None, mode="testnet", timeframe="1m", speed=SPEED,
                            exchange_url=url, candidates=[], extra=STRATEGY + extra,
                            exchange_extra=f"max_order_lag_bars = {max_lag_bars}",
                            start=start)
    return run(loaded, "venue", on_step=on_step)


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_position_opened_behind_our_back_halts_the_session(
        tmp_path: Path, shared_data: Path, ray_session, capsys) -> None:
    emulator = emulator_for(shared_data, balances={"USDT": 10_000.0, "BTC": 0.5})
    answers: list[int] = []

    def reconcile_command(seq: int, _result) -> None:  # `reconcile` on the running session
        if seq >= 2 and not answers:
            names = SessionNames.build(SYMBOLS, [])
            executor = ray.get_actor(names.executor, ray.get_runtime_context().namespace)
            answers.append(report_reconciliation(executor))

    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=6,
                               on_step=reconcile_command)
        assert answers == [1]
        printed = capsys.readouterr().out
        assert "difference(s) between the venue and the book" in printed
        assert "position BTC/USDT: venue 0.50000000, book 0.00000000" in printed
        record = json.loads((result.folder / "state" / "reconcile.json").read_text())
        assert record["reason"] == "reconcile_mismatch"
        assert any(d.startswith("position BTC/USDT: venue 0.50000000, book 0.00000000")
                   for d in record["differences"])
        assert "final trading state: HALTED" in (result.folder / "session.md").read_text()
        assert emulator.ledger.orders() == []  # nothing was sent
    finally:
        emulator.stop()


def test_orders_decided_on_bars_the_venue_is_past_are_never_sent(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data)
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=20,
                               ahead=False)
        orders = rows(result.folder, "orders.csv")
        refused = [o for o in orders if o["status"] == "REJECTED"]
        assert refused and {o["reason"] for o in refused} <= {"stale_decision", "session_end"}
        assert len(emulator.ledger.orders()) == sum(
            o["status"] in ("FILLED", "PARTIALLY_FILLED") for o in orders)
        assert "final trading state: ACTIVE" in (result.folder / "session.md").read_text()
    finally:
        emulator.stop()

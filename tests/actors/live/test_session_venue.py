"""TESTNET/LIVE through the ccxt executor against the Binance emulator over real HTTP.

The store-equals-ledger sessions (with faults and kills) are in
``test_session_venue_faults.py``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import ray

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.live.commands import report_reconciliation
from actors.live.run import KEY_VARS, SessionResult, check_cluster_env
from actors.live.tree import SessionNames
from core.errors import UsageError
from core.trading.orders import NOT_SENT_REASONS
from tests.actors.live.sessions import run, session_config

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
SPEED = 240.0  # one 1m bar every 0.25 s
SYMBOLS = ("BTC/USDT", "ETH/USDT")
STRATEGY = '[strategy]\nname = "momentum"\nparams = { fast = 3, slow = 7 }\n'
EMULATOR_START = FIRST_BAR + 580 * MINUTE + 30_000  # sessions trade bars 636 on
AHEAD_BARS = 56  # 14 s of wall time at SPEED: the tree starts before the first bar closes,
#   also on a loaded machine


def emulator_for(shared_data: Path, **settings) -> EmulatorServer:
    store = ParquetStore(shared_data)
    candles = {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + 2000 * MINUTE)
               for s in SYMBOLS}
    config = EmulatorConfig(symbols=SYMBOLS, timeframe="1m", speed=SPEED,
                            start_ms=EMULATOR_START, **settings)
    return EmulatorServer(config, candles).start()


def venue_session(tmp_path: Path, shared_data: Path, url: str, minutes: int = 40,
                  extra: str = "", max_lag_bars: int = 0, ahead: bool = True,
                  on_step: Callable[[int, SessionResult], None] | None = None,
                  exchange_extra: str = "", sim_reference: bool = False) -> SessionResult:
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
                            exchange_url=url, candidates=[], extra=extra + "\n" + STRATEGY,
                            exchange_extra=f"max_order_lag_bars = {max_lag_bars}\n"
                            + exchange_extra,
                            start=start, sim_reference=sim_reference)
    return run(loaded, "venue", on_step=on_step)


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_position_opened_behind_our_back_halts_until_an_operator_adopts_it(
        tmp_path: Path, shared_data: Path, ray_session, capsys) -> None:
    emulator = emulator_for(shared_data, balances={"USDT": 10_000.0, "BTC": 0.01})
    answers: list[int] = []

    def operator(seq: int, _result) -> None:  # `reconcile`, then `reconcile --adopt`
        names = SessionNames.build(SYMBOLS, [])
        if seq >= 2 and len(answers) < 2:
            executor = ray.get_actor(names.executor, ray.get_runtime_context().namespace)
            answers.append(report_reconciliation(executor, adopt=len(answers) == 1))
            if len(answers) == 1:
                assert emulator.ledger.orders() == []  # nothing was sent while halted

    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=40,
                               on_step=operator)
        assert answers == [1, 0]
        printed = capsys.readouterr().out
        assert "difference(s) between the venue and the book" in printed
        assert "position BTC/USDT: venue 0.01000000, book 0.00000000" in printed
        assert "adopted: external position BTC/USDT +0.01000000 BTC at mark" in printed
        assert "venue and book agree (trading resumes)" in printed
        record = json.loads((result.folder / "state" / "reconcile.json").read_text())
        assert record["by"] == "reconcile --adopt" and record["differences"] == []
        fills = rows(result.folder, "fills.csv")
        external = [f for f in fills if f["tag"] == "external"]
        assert [(f["symbol"], float(f["quantity"]), f["reason"]) for f in external] == [
            ("BTC/USDT", 0.01, "external")]
        events = (result.folder / "risk_events.jsonl").read_text()
        assert "kill_switch:executor_halted" in events
        assert "kill_switch_reset:reconciliation_resolved" in events
        assert '"reason": "external_position"' in events
        assert "final trading state: ACTIVE" in (result.folder / "session.md").read_text()
        reset = next(json.loads(line) for line in events.splitlines()
                     if "kill_switch_reset" in line)
        later = [o for o in rows(result.folder, "orders.csv")
                 if int(o["ts"]) >= reset["ts"] and o["strategy_id"] != "external"]
        assert any(o["approved"] == "true" for o in later), "trading did not resume"
    finally:
        emulator.stop()


def test_the_adopt_policy_books_the_accounts_own_assets_and_trades_on(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data, balances={"USDT": 10_250.0, "ETH": 0.4})
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=40,
                               max_lag_bars=1000, exchange_extra='reconcile_policy = "adopt"')
        record = json.loads((result.folder / "state" / "reconcile.json").read_text())
        assert record["by"] == "reconcile_policy adopt" and record["differences"] == []
        assert any(line.startswith("external position ETH/USDT +0.40000000")
                   for line in record["adopted"])
        assert any(line.startswith("external cash USDT +250.00000000")
                   for line in record["adopted"])
        fills = rows(result.folder, "fills.csv")
        assert [(f["symbol"], f["tag"]) for f in fills if f["reason"] == "external"] == [
            ("ETH/USDT", "external")]
        ours = [f for f in fills if f["reason"] != "external"]
        assert len(ours) == len(emulator.ledger.trades()) > 0  # it traded on, all recorded
        session = (result.folder / "session.md").read_text()
        assert "final trading state: ACTIVE" in session
    finally:
        emulator.stop()


def test_orders_decided_on_bars_the_venue_is_past_are_never_sent(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data)
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=20,
                               ahead=False, sim_reference=True)
        orders = rows(result.folder, "orders.csv")
        refused = [o for o in orders if o["status"] == "REJECTED"]
        assert refused and {o["reason"] for o in refused} <= {"stale_decision", "session_end"}
        parity = (result.folder / "session.md").read_text().split("## Parity with SIM")[1]
        assert "**ABOVE the bound**" in parity  # the SIM reference filled what was refused
        assert "| filled in the SIM reference only | 0 |" not in parity
        assert len(emulator.ledger.orders()) == sum(
            o["status"] in ("FILLED", "PARTIALLY_FILLED") for o in orders)
        assert "final trading state: ACTIVE" in (result.folder / "session.md").read_text()
    finally:
        emulator.stop()


def test_venue_rejects_reach_the_files_with_their_reasons_and_trip_the_breaker(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data)
    emulator.add_fault({"kind": "reject", "endpoint": "/api/v3/order", "method": "POST",
                        "nth": 1, "code": -1013, "msg": "Filter failure: MIN_NOTIONAL"})
    emulator.add_fault({"kind": "reject", "endpoint": "/api/v3/order", "method": "POST",
                        "probability": 1.0, "code": -2010,
                        "msg": "Account has insufficient balance for requested action."})
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=40,
                               max_lag_bars=1000, extra="max_consecutive_rejects = 2\n")
        rejected = [o for o in rows(result.folder, "orders.csv") if o["status"] == "REJECTED"
                    and o["reason"] not in NOT_SENT_REASONS]  # sent: the venue answered
        assert [o["reason"] for o in rejected[:2]] == ["filter_failure_min_notional",
                                                       "insufficient_balance"]
        events = [json.loads(line) for line in
                  (result.folder / "risk_events.jsonl").read_text().splitlines()]
        breaker = [e for e in events if e["reason"] == "consecutive_rejects"]
        assert breaker and breaker[0]["kind"] == "breaker"
        assert "last: insufficient_balance" in breaker[0]["detail"]
        assert "final trading state: HALTED" in (result.folder / "session.md").read_text()
        assert emulator.ledger.orders() == []  # a reject is not processed by the venue
    finally:
        emulator.stop()


def test_a_cluster_without_the_keys_is_refused_before_the_session_starts(ray_session) -> None:
    check_cluster_env(KEY_VARS)  # the test cluster was started with the emulator's keys
    with pytest.raises(UsageError, match="EVOTRADER_TEST_ABSENT_SECRET"):
        check_cluster_env(("EVOTRADER_EXCHANGE_API_KEY", "EVOTRADER_TEST_ABSENT_SECRET"))

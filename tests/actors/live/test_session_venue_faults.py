"""Faults of the venue and kills of the executor never double an order or lose a fill."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import ray

from actors.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, EmulatorServer
from actors.live.chaos import ChaosMonkey
from actors.live.tree import SessionNames
from tests.actors.live.test_session_venue import SYMBOLS, emulator_for, rows, venue_session

FAULTS = [
    {"kind": "http_429", "endpoint": "/api/v3/order", "method": "POST", "probability": 0.15,
     "retry_after_s": 1},
    {"kind": "http_5xx", "endpoint": "/api/v3/order", "method": "POST", "probability": 0.1,
     "status": 503, "processed": True},
    {"kind": "unknown_status", "endpoint": "/api/v3/order", "method": "POST",
     "probability": 0.1, "code": -1007, "processed": False},
    {"kind": "drop_after_accept", "probability": 0.1},
    {"kind": "partial_fill", "probability": 0.2, "fraction": 0.5},
    {"kind": "connection_reset", "endpoint": "/api/v3/order", "method": "GET",
     "probability": 0.1},
    {"kind": "http_5xx", "endpoint": "/api/v3/myTrades", "probability": 0.1, "status": 502},
]

STOPS = "\n[backtest.stops]\nstop_loss_pct = 0.05\ntake_profit_pct = 0.08\n"
"""Tight exchange-native stops: several trade within the session."""


def assert_store_equals_ledger(folder: Path, emulator: EmulatorServer) -> None:
    fills = rows(folder, "fills.csv")
    trades = emulator.ledger.trades()
    assert len(fills) >= 2 and len(fills) == len(trades)
    key = lambda qty, price, fee: (f"{qty:.10g}", f"{price:.12g}", f"{fee:.12g}")  # noqa: E731
    assert Counter(key(float(f["quantity"]), float(f["price"]), float(f["fee"]))
                   for f in fills) == Counter(key(t.qty, t.price, t.commission) for t in trades)
    ids = [o.client_order_id for o in emulator.ledger.orders()]
    assert len(ids) == len(set(ids)), "an order was doubled on the venue"
    per_order = Counter(f["client_order_id"] for f in fills)
    orders = {o["client_order_id"]: o for o in rows(folder, "orders.csv")}
    for coid, count in per_order.items():
        venue_made = orders[coid]["kind"] in ("stop_loss", "take_profit")
        assert orders[coid]["approved"] == ("" if venue_made else "true")
        filled = sum(float(f["quantity"]) for f in fills if f["client_order_id"] == coid)
        assert filled == pytest.approx(float(orders[coid]["filled_quantity"]), rel=1e-9)
        assert count <= 2  # a partial fill and its rest, never more


def test_faults_injected_many_times_double_nothing_and_lose_no_fill(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data, seed=5)
    for rule in FAULTS:
        emulator.add_fault(rule)
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=40,
                               max_lag_bars=1000, extra=STOPS, sim_reference=True)
        assert result.stop_reason == "end of data"
        fired = Counter(e.kind for e in emulator.faults.events())
        assert sum(fired.values()) >= 5, fired
        assert_store_equals_ledger(result.folder, emulator)
        exits = [f for f in rows(result.folder, "fills.csv")
                 if f["reason"] in ("stop_loss", "take_profit")]
        assert exits, "no exchange-native stop traded: the test lost its point"
        assert {o.type for o in emulator.ledger.orders()} >= {"STOP_LOSS", "TAKE_PROFIT_LIMIT"}
        assert not (result.folder / "state" / "reconcile.json").exists()
        summary = (result.folder / "session.md").read_text()
        assert "final trading state: ACTIVE" in summary
        assert "## Parity with SIM" in summary  # the drift the faults and the venue caused
        for path in result.folder.rglob("*"):  # the venue's key never reaches a session file
            if path.is_file():
                data = path.read_bytes()
                assert DEFAULT_API_KEY.encode() not in data
                assert DEFAULT_API_SECRET.encode() not in data
    finally:
        emulator.stop()


def test_executor_killed_between_send_and_answer_leaves_one_order(
        tmp_path: Path, shared_data: Path, ray_session) -> None:
    emulator = emulator_for(shared_data)
    # the first two creates are processed, then their answers are held: the kills land between
    emulator.add_fault({"kind": "timeout", "endpoint": "/api/v3/order", "method": "POST",
                        "nth": [1, 2], "hold_s": 4.0, "processed": True})
    methods = ["SIGKILL", "ray.kill"]
    kills: list[str] = []
    errors: list[str] = []
    done = threading.Event()
    names = SessionNames.build(SYMBOLS, [])
    monkey = ChaosMonkey([names.executor], ray.get_runtime_context().namespace)

    def killer() -> None:
        while not done.is_set() and len(kills) < len(methods):
            posts = [r for r in emulator.requests("/api/v3/order") if r.method == "POST"]
            if len(posts) > len(kills):
                try:
                    monkey.kill(names.executor, methods[len(kills)])
                    kills.append(methods[len(kills)])
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    errors.append(repr(exc))
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        result = venue_session(tmp_path, shared_data, emulator.url, minutes=30,
                               max_lag_bars=1000)
        done.set()
        thread.join(timeout=30)
        assert not errors, errors
        assert kills == methods, f"kills done: {kills}"
        assert result.stop_reason == "end of data"
        assert_store_equals_ledger(result.folder, emulator)
        held = [e for e in emulator.faults.events() if e.kind == "timeout"]
        assert len(held) == 2 and all(e.processed for e in held)
    finally:
        done.set()
        emulator.stop()

"""Zero invariant violations over a SIM year of 1h bars for 10 pairs (independent audit).

The audit does not use the risk engine: it rebuilds, for every approved order, the book the
order met (positions from the recorded fills, equity from equity.csv, closes from the data)
and checks each invariant itself.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest

from actors.adapters.data_source import load_candles
from tests.actors.live.sessions import run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT",
         "AVAX/USDT", "DOT/USDT", "LINK/USDT", "LTC/USDT")
SLACK = 1e-9


def _audit(folder, loaded, shared_data) -> list[str]:
    config = loaded.config
    limits, guardian = config.risk.effective(), config.guardian
    equity = {int(r["ts"]): float(r["equity"]) for r in csv.DictReader(
        (folder / "equity.csv").open())}
    closes = {}
    for symbol in PAIRS:
        candles = load_candles(shared_data, venue="BINANCE", symbol=symbol, timeframe="1h")
        closes[symbol] = dict(zip(candles.timestamp.tolist(), candles.close.tolist(),
                                  strict=True))
    fills = sorted(csv.DictReader((folder / "fills.csv").open()), key=lambda f: int(f["ts"]))
    orders = [o for o in csv.DictReader((folder / "orders.csv").open())
              if o["approved"] == "true" and o["kind"] == "signal"]
    orders.sort(key=lambda o: (int(o["ts"]), o["client_order_id"]))
    position: dict[str, float] = defaultdict(float)
    pending: dict[str, float] = defaultdict(float)
    at, violations, last_ts = 0, [], None
    for order in orders:
        ts = int(order["ts"])
        if ts != last_ts:
            pending.clear()
            last_ts = ts
        while at < len(fills) and int(fills[at]["ts"]) <= ts:
            fill = fills[at]
            sign = 1.0 if fill["side"] == "BUY" else -1.0
            position[fill["symbol"]] += sign * float(fill["quantity"])
            at += 1
        book = {s: position[s] + pending[s] for s in PAIRS}
        e = equity[ts]
        symbol, qty = order["symbol"], float(order["quantity"])
        ref = float(order["reference_price"])
        signed = qty if order["side"] == "BUY" else -qty
        pre, post = book[symbol], book[symbol] + signed
        reducing = abs(post) < abs(pre) - SLACK and pre * post >= 0.0
        notional = qty * ref
        where = f"{order['client_order_id']} {symbol} at {ts}"
        if not reducing:
            if limits.max_trade_pct and notional > limits.max_trade_pct / 100 * e * (1 + SLACK):
                violations.append(f"max_trade_size: {where}")
            if limits.max_position_pct and abs(post) * ref > (
                    limits.max_position_pct / 100 * e * (1 + SLACK)):
                violations.append(f"max_position: {where}")
            if notional > guardian.notional_cap or notional < guardian.min_notional:
                violations.append(f"notional bounds: {where}")
            book[symbol] = post
            held = [s for s in PAIRS if abs(book[s]) > SLACK]
            if limits.max_open_positions and len(held) > limits.max_open_positions:
                violations.append(f"max_open_positions: {where}")
            gross = sum(abs(book[s]) * closes[s][ts] for s in PAIRS)
            if limits.max_gross_exposure_pct and gross > (
                    limits.max_gross_exposure_pct / 100 * e * (1 + 1e-6)):
                violations.append(f"max_gross_exposure {gross:.2f} > {e:.2f}: {where}")
        pending[symbol] += signed
    return violations


def test_a_year_of_10_pairs_has_no_invariant_violation(tmp_path, shared_data):
    loaded = session_config(tmp_path, shared_data, symbols=PAIRS, duration="365d",
                            until="2026-01-01", batch_bars=2048,
                            candidates=[{"name": "fast", "strategy": "momentum",
                                         "params": {"fast": 5, "slow": 20}}])
    result = run(loaded, "year")
    assert result.bars == 8760 * len(PAIRS) and result.stop_reason == "end of data"
    orders = list(csv.DictReader((result.folder / "orders.csv").open()))
    approved = [o for o in orders if o["approved"] == "true"]
    denied = [o for o in orders if o["approved"] == "false"]
    assert len(approved) >= 100
    assert denied, "a year of 10 pairs should meet the exposure limits at least once"
    reasons = {o["deny_reason"] for o in denied}
    assert reasons <= {"max_gross_exposure", "max_open_positions", "max_position",
                       "min_notional", "max_trade_size", "trading_state_reducing",
                       "trading_state_halted", "reduce_only_violation"}
    assert _audit(result.folder, loaded, shared_data) == []
    events = [json.loads(line) for line in (result.folder / "risk_events.jsonl").open()]
    assert sum(e["kind"] == "denied" for e in events) == len(denied)

"""Every fault kind through real ccxt, what the ledger holds afterwards, and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import ccxt
import pytest
import requests

from actors.emulator import EmulatorServer, FaultRule, load_fault_file
from core.errors import UsageError
from tests.actors.emulator.support import MINUTE, START, connect

ORDER = "/api/v3/order"


def buy(exchange: ccxt.binance, client_id: str, qty: float = 0.001) -> dict:
    return exchange.create_order("BTC/USDT", "market", "buy", qty,
                                 params={"newClientOrderId": client_id})


def client_ids(emulator: EmulatorServer) -> list[str]:
    return [o.client_order_id for o in emulator.ledger.orders()]


def test_drop_after_accept_order_exists_but_no_answer(emulator: EmulatorServer,
                                                      exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="drop_after_accept"))
    with pytest.raises(ccxt.NetworkError):
        buy(exchange, "lost-answer")
    [order] = emulator.ledger.orders()
    assert (order.client_order_id, order.status) == ("lost-answer", "FILLED")
    # the lookup by client id a careful client makes finds it
    found = exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "lost-answer"})
    assert found["status"] == "closed"
    [event] = emulator.faults.events()
    assert (event.kind, event.processed, event.path) == ("drop_after_accept", True, ORDER)
    assert "clientOrderId=lost-answer" in event.detail
    assert emulator.requests(ORDER)[0].status == 0 and emulator.requests(ORDER)[0].fault == \
        "drop_after_accept"


def test_connection_reset_before_processing(emulator: EmulatorServer,
                                            exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="connection_reset", endpoint=ORDER, method="POST",
                                  count=1))
    with pytest.raises(ccxt.NetworkError):
        buy(exchange, "reset-1")
    assert emulator.ledger.orders() == []
    buy(exchange, "reset-1")  # count 1: the retry goes through
    assert client_ids(emulator) == ["reset-1"]


@pytest.mark.parametrize("processed", [False, True])
def test_timeout_with_or_without_the_order(make_emulator, processed: bool) -> None:
    emulator = make_emulator(faults=(FaultRule(kind="timeout", endpoint=ORDER, hold_s=2.0,
                                               processed=processed),))
    exchange = connect(emulator, timeout_ms=300)
    with pytest.raises(ccxt.RequestTimeout):
        buy(exchange, "slow-1")
    assert client_ids(emulator) == (["slow-1"] if processed else [])
    assert emulator.faults.events()[0].processed is processed


@pytest.mark.parametrize(
    ("rule", "ccxt_class"),
    [
        (FaultRule(kind="http_5xx", status=502), ccxt.ExchangeNotAvailable),
        (FaultRule(kind="http_5xx", status=504), ccxt.RequestTimeout),
        (FaultRule(kind="http_5xx", status=503, overloaded=True), ccxt.ExchangeError),
        (FaultRule(kind="http_5xx", status=503, processed=True), ccxt.ExchangeNotAvailable),
        (FaultRule(kind="unknown_status", code=-1007), ccxt.RequestTimeout),
        (FaultRule(kind="unknown_status", code=-1006, status=200, processed=True),
         ccxt.OperationFailed),
    ],
)
def test_5xx_and_unknown_status(make_emulator, rule: FaultRule,
                                ccxt_class: type[Exception]) -> None:
    emulator = make_emulator(faults=(rule.model_copy(update={"endpoint": ORDER}),))
    exchange = connect(emulator)
    with pytest.raises(ccxt_class):
        buy(exchange, "maybe-1")
    assert client_ids(emulator) == (["maybe-1"] if rule.processed else [])
    if rule.kind == "unknown_status":
        assert emulator.requests(ORDER)[0].code == rule.code


def test_http_429_with_retry_after(emulator: EmulatorServer, exchange: ccxt.binance) -> None:
    emulator.faults.add({"kind": "http_429", "endpoint": "/api/v3/klines", "nth": 2,
                         "retry_after_s": 7})
    exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    with pytest.raises(ccxt.DDoSProtection, match="429"):
        exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    answer = requests.get(f"{emulator.url}/api/v3/klines", timeout=5,
                          params={"symbol": "BTCUSDT", "interval": "1m"})
    assert answer.status_code == 200  # nth=2 only
    assert [r.status for r in emulator.requests("/api/v3/klines")] == [200, 429, 200]


def test_reject_with_a_chosen_code(emulator: EmulatorServer, exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="reject", endpoint=ORDER, code=-2010,
                                  msg="Market is closed."))
    with pytest.raises(ccxt.MarketClosed, match="Market is closed"):  # ccxt maps the text
        buy(exchange, "rej-1")
    assert emulator.ledger.orders() == []


def test_partial_fill_then_the_rest_at_the_next_bar(emulator: EmulatorServer,
                                                     exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="partial_fill", fraction=0.4))
    order = buy(exchange, "part-1", qty=0.01)
    assert order["status"] == "open" and order["filled"] == pytest.approx(0.004)
    assert order["info"]["status"] == "PARTIALLY_FILLED"
    emulator.clock.advance_bars(1)
    done = exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "part-1"})
    assert done["status"] == "closed" and done["filled"] == pytest.approx(0.01)
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [t["amount"] for t in trades] == pytest.approx([0.004, 0.006])
    assert [t["timestamp"] for t in trades] == [START, START + MINUTE]
    assert emulator.ledger.balances()["USDT"][1] == 0.0  # nothing stays locked


def test_delayed_fill(emulator: EmulatorServer, exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="delayed_fill"))
    order = buy(exchange, "late-1", qty=0.01)
    assert order["status"] == "open" and order["filled"] == 0.0
    assert emulator.ledger.balances()["USDT"][1] > 0.0  # the estimate is reserved
    emulator.clock.advance_ms(MINUTE // 2)
    assert exchange.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    emulator.clock.advance_ms(MINUTE // 2)
    done = exchange.fetch_order(order["id"], "BTC/USDT")
    assert done["status"] == "closed" and done["lastTradeTimestamp"] == START + MINUTE
    assert emulator.ledger.balances()["USDT"][1] == 0.0


def test_clock_skew_puts_timestamps_outside_the_recv_window(
        emulator: EmulatorServer, exchange: ccxt.binance) -> None:
    emulator.faults.add(FaultRule(kind="clock_skew", skew_ms=20_000, count=2))
    assert exchange.fetch_time() == START + 20_000
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    exchange.fetch_balance()  # the skew is over
    assert [e.kind for e in emulator.faults.events()] == ["clock_skew", "clock_skew"]


def test_probability_faults_are_seeded(make_emulator) -> None:
    def run(seed: int) -> list[int]:
        emulator = make_emulator(seed=seed, faults=(FaultRule(
            kind="http_5xx", endpoint="/api/v3/time", probability=0.5, count=20),))
        for _ in range(30):
            requests.get(f"{emulator.url}/api/v3/time", timeout=5)
        return [r.status for r in emulator.requests()]

    first, again, other = run(7), run(7), run(8)
    assert first == again and first != other
    assert 5 <= first.count(502) <= 25


def test_nth_list_and_count(emulator: EmulatorServer) -> None:
    emulator.faults.add({"kind": "reject", "endpoint": "/api/v3/ping", "nth": [2, 4]})
    emulator.faults.add({"kind": "http_5xx", "endpoint": "/api/v3/ping", "nth": 5, "count": 2,
                         "status": 504})
    statuses = [requests.get(f"{emulator.url}/api/v3/ping", timeout=5).status_code
                for _ in range(8)]
    assert statuses == [200, 400, 200, 400, 504, 504, 200, 200]
    rules = emulator.faults.rules()
    assert [(r["seen"], r["fired"]) for r in rules] == [(8, 2), (8, 2)]


def test_fault_files_and_control_endpoint(tmp_path: Path, emulator: EmulatorServer) -> None:
    json_file = tmp_path / "faults.json"
    json_file.write_text(json.dumps({"faults": [{"kind": "drop_after_accept", "nth": 3}]}))
    toml_file = tmp_path / "faults.toml"
    toml_file.write_text('[[faults]]\nkind = "http_429"\nendpoint = "/api/v3/klines"\n'
                         'probability = 0.1\n\n[[faults]]\nkind = "clock_skew"\nskew_ms = -9000\n')
    assert load_fault_file(json_file)[0].nth == 3
    assert [r.kind for r in load_fault_file(toml_file)] == ["http_429", "clock_skew"]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"kind": "meteor"}]')
    with pytest.raises(UsageError, match="bad.json: fault rule 1: kind"):
        load_fault_file(bad)
    with pytest.raises(UsageError, match="cannot read fault file"):
        load_fault_file(tmp_path / "missing.json")
    url = f"{emulator.url}/emulator/faults"
    ids = requests.post(url, json=[{"kind": "reject", "endpoint": "/api/v3/ping"},
                                   {"kind": "http_429"}], timeout=5).json()["ids"]
    assert ids == [1, 2]
    assert requests.get(f"{emulator.url}/api/v3/ping", timeout=5).status_code == 400
    listed = requests.get(url, timeout=5).json()
    assert [r["kind"] for r in listed["rules"]] == ["reject", "http_429"]
    assert listed["events"][0]["kind"] == "reject"
    assert requests.post(url, json={"kind": "nope"}, timeout=5).status_code == 400
    assert requests.delete(url, timeout=5).json() == {"cleared": 2}
    assert requests.get(f"{emulator.url}/api/v3/ping", timeout=5).status_code == 200

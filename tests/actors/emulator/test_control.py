"""The HTTP control API: clock, ledger, balances, request log."""

from __future__ import annotations

import pytest
import requests

from actors.emulator import EmulatorConfig, EmulatorServer
from core.errors import UsageError
from tests.actors.emulator.support import MINUTE, START, connect


def test_clock_control_over_http(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/emulator/clock"
    state = requests.get(url, timeout=5).json()
    assert state["now_ms"] == START and state["manual"]
    assert state["bars"]["BTC/USDT"]["forming_open_ms"] == START
    state = requests.post(url, json={"advance_bars": 3}, timeout=5).json()
    assert state["now_ms"] == START + 3 * MINUTE
    assert state["bars"]["BTC/USDT"]["last_closed_open_ms"] == START + 2 * MINUTE
    assert requests.post(url, json={"advance_ms": 500}, timeout=5).json()["now_ms"] == \
        START + 3 * MINUTE + 500
    assert requests.post(url, json={"advance_bars": 1}, timeout=5).json()["now_ms"] == \
        START + 4 * MINUTE  # to the next bar boundary
    assert requests.post(url, json={"to_ms": START + 10 * MINUTE}, timeout=5).json()[
        "now_ms"] == START + 10 * MINUTE
    backwards = requests.post(url, json={"to_ms": START}, timeout=5)
    assert backwards.status_code == 400 and "backwards" in backwards.json()["error"]
    assert requests.post(url, json={"jump": 1}, timeout=5).status_code == 400
    assert requests.post(url, data="not json", timeout=5).status_code == 400


def test_ledger_balances_and_request_log(emulator: EmulatorServer) -> None:
    exchange = connect(emulator)
    requests.post(f"{emulator.url}/emulator/balances", json={"BTC": 0.5}, timeout=5)
    exchange.create_order("BTC/USDT", "market", "sell", 0.1,
                          params={"newClientOrderId": "ctl-1"})
    ledger = requests.get(f"{emulator.url}/emulator/ledger", timeout=5).json()
    assert ledger["balances"]["BTC"] == {"free": "0.40000000", "locked": "0.00000000"}
    [order] = ledger["orders"]
    assert order["clientOrderId"] == "ctl-1" and order["status"] == "FILLED"
    assert ledger["trades"][0]["orderId"] == order["orderId"] == 1
    log = requests.get(f"{emulator.url}/emulator/requests", params={"path": "/api/v3/order"},
                       timeout=5).json()
    assert [(r["method"], r["status"]) for r in log] == [("POST", 200)]
    assert "signature" not in log[0]["params"]
    assert requests.get(f"{emulator.url}/emulator/nothing", timeout=5).status_code == 404
    assert requests.get(f"{emulator.url}/api/v3/nothing", timeout=5).status_code == 404


def test_python_api_loads_candles_from_a_data_folder(shared_data) -> None:
    config = EmulatorConfig(data_dir=shared_data, symbols=("ETH/USDT",), timeframe="5m",
                            warmup_bars=50, balances={"USDT": 100.0})
    with EmulatorServer(config) as emulator:
        state = emulator.clock.state()
        assert state["bars"]["ETH/USDT"]["closed"] == 50  # the default start: after warmup
        exchange = connect(emulator)
        assert exchange.fetch_balance()["USDT"]["free"] == 100.0
        assert len(exchange.fetch_ohlcv("ETH/USDT", "5m", limit=1000)) == 50
    with pytest.raises(UsageError, match="needs candles"):
        EmulatorServer(EmulatorConfig())

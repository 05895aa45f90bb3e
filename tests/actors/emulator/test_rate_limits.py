"""Request weight and order limits: headers, 429 with Retry-After, then 418 bans (wall clock)."""

from __future__ import annotations

import ccxt
import pytest
import requests

from actors.emulator import RateLimits
from tests.actors.emulator.support import connect


class FakeWall:
    """A wall clock the test moves (seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_weight_headers(emulator) -> None:
    url = emulator.url
    assert requests.get(f"{url}/api/v3/time", timeout=5).headers[
        "X-MBX-USED-WEIGHT-1M"] == "1"
    exchange = connect(emulator)  # exchangeInfo: 20
    assert exchange.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "21"
    exchange.fetch_order_book("BTC/USDT", limit=500)  # 25
    exchange.fetch_balance()  # 20
    assert exchange.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "66"
    exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    headers = exchange.last_response_headers
    assert (headers["X-MBX-USED-WEIGHT-1M"], headers["X-MBX-ORDER-COUNT-10S"],
            headers["X-MBX-ORDER-COUNT-1D"]) == ("67", "1", "1")
    assert "X-MBX-ORDER-COUNT-10S" not in requests.get(f"{url}/api/v3/ping", timeout=5).headers


def test_429_then_418_ban_until_it_ends(make_emulator) -> None:
    wall = FakeWall(1000.0)  # 20 s before the minute window ends
    emulator = make_emulator(rate_limits=RateLimits(weight_per_minute=30, ban_s=60),
                             server_options={"wall": wall})
    url = f"{emulator.url}/api/v3/klines"
    params = {"symbol": "BTCUSDT", "interval": "1m", "limit": "1"}
    for _ in range(15):  # 15 x weight 2 = the limit
        assert requests.get(url, params=params, timeout=5).status_code == 200
    limited = requests.get(url, params=params, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "20"
    assert limited.json()["code"] == -1003
    wall.now += 5  # still limited: continuing gets the IP banned
    banned = requests.get(url, params=params, timeout=5)
    assert banned.status_code == 418 and banned.headers["Retry-After"] == "60"
    assert "IP banned until 1065000" in banned.json()["msg"]
    wall.now += 40  # a new minute, but the ban holds
    exchange = connect(emulator, load=False)
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        exchange.fetch_time()
    assert requests.get(url, params=params, timeout=5).headers["Retry-After"] == "20"
    wall.now += 20  # the ban is over
    answer = requests.get(url, params=params, timeout=5)
    assert answer.status_code == 200 and answer.headers["X-MBX-USED-WEIGHT-1M"] == "2"
    statuses = [r.status for r in emulator.requests("/api/v3/klines")]
    assert statuses == [200] * 15 + [429, 418, 418, 200]


def test_429_through_ccxt(make_emulator) -> None:
    wall = FakeWall(0.0)
    emulator = make_emulator(rate_limits=RateLimits(weight_per_minute=25),
                             server_options={"wall": wall})
    exchange = connect(emulator)  # 20
    exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)  # 22
    exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)  # 24
    with pytest.raises(ccxt.DDoSProtection, match="429"):
        exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)
    assert exchange.last_response_headers["Retry-After"] == "60"


def test_order_count_limit(make_emulator) -> None:
    wall = FakeWall(100.0)
    emulator = make_emulator(rate_limits=RateLimits(orders_per_10s=3),
                             server_options={"wall": wall})
    exchange = connect(emulator)
    for _ in range(3):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0)
    with pytest.raises(ccxt.DDoSProtection, match="Too many new orders"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0)
    assert exchange.last_response_headers["Retry-After"] == "10"
    assert len(emulator.ledger.orders()) == 3
    wall.now += 10
    exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0)  # no ban for orders
    assert exchange.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "1"

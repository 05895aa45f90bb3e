"""Public endpoints through real ccxt: exchangeInfo -> markets, closed klines, time, book."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import numpy as np
import pytest
import requests

from actors.emulator import EmulatorServer, MarketSpec
from core.data.candles import Candles
from tests.actors.emulator.support import MINUTE, START, connect


def test_load_markets_parses_precision_and_limits(make_emulator) -> None:
    emulator = make_emulator(markets={"ETH/USDT": MarketSpec(
        tick_size=Decimal("0.1"), step_size=Decimal("0.001"), min_qty=Decimal("0.001"),
        min_notional=Decimal("10"), notional_filter="MIN_NOTIONAL")})
    markets = connect(emulator, signed=False).markets
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT"]
    btc, eth = markets["BTC/USDT"], markets["ETH/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
    assert btc["precision"]["amount"] == 0.00001 and btc["precision"]["price"] == 0.01
    assert btc["limits"]["amount"] == {"min": 0.00001, "max": 9000.0}
    assert btc["limits"]["price"] == {"min": 0.01, "max": 1_000_000.0}
    assert btc["limits"]["cost"] == {"min": 5.0, "max": 9_000_000.0}
    assert btc["limits"]["market"]["max"] == 9000.0
    assert eth["precision"] == {"amount": 0.001, "price": 0.1, "base": 1e-8, "quote": 1e-8}
    assert eth["limits"]["cost"]["min"] == 10.0
    assert "STOP_LOSS_LIMIT" in btc["info"]["orderTypes"] and btc["info"]["ocoAllowed"]
    filters = {f["filterType"] for f in btc["info"]["filters"]}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL"} <= filters
    assert [r.path for r in emulator.requests()] == ["/api/v3/exchangeInfo"]


def test_klines_serve_closed_bars_only(emulator: EmulatorServer,
                                       candles_1m: dict[str, Candles]) -> None:
    exchange = connect(emulator, signed=False)
    bars = candles_1m["BTC/USDT"]
    emulator.clock.advance_ms(30_000)  # half way through the bar opened at START
    rows = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert [r[0] for r in rows] == [START - k * MINUTE for k in range(5, 0, -1)]
    i = int(np.searchsorted(bars.timestamp, START - MINUTE))
    assert rows[-1][1:] == [bars.open[i], bars.high[i], bars.low[i], bars.close[i],
                            bars.volume[i]]
    emulator.clock.advance_bars(1)  # the START bar has closed
    assert exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][0] == START
    # since/limit page forward; nothing past venue time even when asked
    page = exchange.fetch_ohlcv("ETH/USDT", "1m", since=START - 2 * MINUTE, limit=10)
    assert [r[0] for r in page] == [START - 2 * MINUTE, START - MINUTE, START]
    raw = requests.get(f"{emulator.url}/api/v3/klines", timeout=5, params={
        "symbol": "BTCUSDT", "interval": "1m", "endTime": START - MINUTE, "limit": 2}).json()
    assert [r[0] for r in raw] == [START - 2 * MINUTE, START - MINUTE]
    assert len(raw[0]) == 12 and all(isinstance(v, str) for v in raw[0][1:6])
    assert raw[0][6] == START - 2 * MINUTE + MINUTE - 1


def test_forming_bar_on_request(make_emulator) -> None:
    emulator = make_emulator(start_ms=START + 20_000, serve_forming=True)
    rows = connect(emulator, signed=False).fetch_ohlcv("BTC/USDT", "1m", limit=2)
    assert [r[0] for r in rows] == [START - MINUTE, START]


def test_kline_errors(emulator: EmulatorServer) -> None:
    exchange = connect(emulator, signed=False)
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        exchange.fetch_ohlcv("BTC/USDT", "5m")  # only the replayed timeframe is served
    url = f"{emulator.url}/api/v3/klines"
    cases = [({"interval": "1m"}, -1102), ({"symbol": "DOGEUSDT", "interval": "1m"}, -1121),
             ({"symbol": "BTCUSDT", "interval": "1m", "limit": "1001"}, -1130),
             ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "x1"}, -1100),
             ({"symbol": "BTCUSDT", "interval": "2w"}, -1120)]
    for params, code in cases:
        answer = requests.get(url, params=params, timeout=5)
        assert (answer.status_code, answer.json()["code"]) == (400, code), params


def test_time_depth_and_tickers(emulator: EmulatorServer,
                                candles_1m: dict[str, Candles]) -> None:
    exchange = connect(emulator, signed=False)
    assert exchange.fetch_time() == START
    emulator.clock.advance_bars(2)
    assert exchange.fetch_time() == START + 2 * MINUTE
    bars = candles_1m["BTC/USDT"]
    k = int(np.searchsorted(bars.timestamp, START + 2 * MINUTE))
    price = float(bars.open[k])
    book = exchange.fetch_order_book("BTC/USDT", limit=5)
    assert len(book["bids"]) == len(book["asks"]) == 5
    best_bid, best_ask = book["bids"][0][0], book["asks"][0][0]
    assert best_bid < price < best_ask
    assert best_ask == pytest.approx(price * 1.0005, abs=0.011)  # the 5 bps half-spread
    assert book["bids"][0][1] == pytest.approx(float(bars.volume[k - 1]) * 0.01, abs=1e-5)
    assert exchange.fetch_order_book("BTC/USDT", limit=5) == book  # deterministic
    assert exchange.fetch_ticker("BTC/USDT")["last"] == price
    weights = [r.path for r in emulator.requests()]
    assert "/api/v3/depth" in weights

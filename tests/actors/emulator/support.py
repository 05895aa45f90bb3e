"""Helpers for tests that talk to the Binance emulator through real ccxt.

Other test folders use them too (the ccxt execution client's tests)::

    from tests.actors.emulator.support import connect, start_emulator
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import ccxt
import requests

from actors.adapters.ccxt_errors import make_exchange
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.emulator.signing import sign
from core.data.candles import Candles

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
START = FIRST_BAR + 1000 * MINUTE  # venue time at start: 1000 closed bars of history
BARS = 3000  # bars served per symbol (enough for every test, quick to load)
SYMBOLS = ("BTC/USDT", "ETH/USDT")


def start_emulator(candles: dict[str, Candles], **settings: Any) -> EmulatorServer:
    """A started emulator on the given candles (manual clock at START unless told)."""
    server_options = settings.pop("server_options", {})
    settings.setdefault("start_ms", START)
    settings.setdefault("timeframe", "1m")
    return EmulatorServer(EmulatorConfig(**settings), candles, **server_options).start()


def connect(emulator: EmulatorServer, *, timeout_ms: int = 5000, signed: bool = True,
            load: bool = True) -> ccxt.binance:
    """A real ccxt binance client talking to ``emulator``, signing with the venue clock."""
    exchange = make_exchange("binance", api_url=emulator.url, rate_limit=False,
                             timeout_ms=timeout_ms)
    if signed:
        exchange.apiKey = emulator.config.api_key
        exchange.secret = emulator.config.api_secret
        exchange.nonce = emulator.clock.now_ms  # the venue's clock, as a session's Clock would
    if load:
        exchange.load_markets()
    return exchange


def signed(emulator: EmulatorServer, method: str, path: str, **params: str
           ) -> requests.Response:
    """A raw signed request at venue time (for parameters ccxt would never send)."""
    query = urlencode({**params, "timestamp": str(emulator.clock.now_ms())})
    query += "&signature=" + sign(query, emulator.config.api_secret)
    return requests.request(method, f"{emulator.url}{path}?{query}", timeout=5,
                            headers={"X-MBX-APIKEY": emulator.config.api_key})

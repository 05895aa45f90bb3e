"""Fixtures: a Binance emulator on 127.0.0.1 replaying real 1m candles, and ccxt clients for it.

Other test folders can use the helpers directly::

    from tests.actors.emulator.conftest import connect, start_emulator
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest

from actors.adapters.ccxt_errors import make_exchange
from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from core.data.candles import Candles

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
START = FIRST_BAR + 1000 * MINUTE  # venue time at start: 1000 closed bars of history
BARS = 3000  # bars served per symbol (enough for every test, quick to load)
SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(scope="session")
def candles_1m(shared_data: Path) -> dict[str, Candles]:
    """The first BARS real 1m bars of BTC/USDT and ETH/USDT."""
    store = ParquetStore(shared_data)
    return {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + BARS * MINUTE)
            for s in SYMBOLS}


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


@pytest.fixture
def make_emulator(candles_1m: dict[str, Candles]) -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators with settings; all are stopped after the test."""
    started: list[EmulatorServer] = []

    def make(**settings: Any) -> EmulatorServer:
        emulator = start_emulator(candles_1m, **settings)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., EmulatorServer]) -> EmulatorServer:
    """A default emulator: 10,000 USDT, manual clock at START."""
    return make_emulator()


@pytest.fixture
def exchange(emulator: EmulatorServer) -> ccxt.binance:
    """A signed ccxt client with markets loaded."""
    return connect(emulator)

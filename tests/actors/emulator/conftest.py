"""Fixtures: a Binance emulator on 127.0.0.1 replaying real 1m candles, and ccxt clients for it.

The helpers behind them live in :mod:`tests.actors.emulator.support`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorServer
from core.data.candles import Candles
from tests.actors.emulator.support import BARS, FIRST_BAR, MINUTE, SYMBOLS, connect, start_emulator


@pytest.fixture(scope="session")
def candles_1m(shared_data: Path) -> dict[str, Candles]:
    """The first BARS real 1m bars of BTC/USDT and ETH/USDT."""
    store = ParquetStore(shared_data)
    return {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + BARS * MINUTE)
            for s in SYMBOLS}


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

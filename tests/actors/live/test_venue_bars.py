"""A live feed's bars from the venue: closed ones only, waited for, and a missing one stops it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.live.venue_bars import VenueBars
from actors.live.venue_spec import VenueFeedSpec

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000
START = FIRST_BAR + 100 * MINUTE + 20_000  # 20 s into a forming bar


@pytest.fixture(scope="module")
def candles(shared_data: Path):
    store = ParquetStore(shared_data)
    return {"BTC/USDT": store.read("BINANCE", "BTC/USDT", "1m", end_ms=FIRST_BAR + 300 * MINUTE)}


def bars_of(emulator: EmulatorServer, timeout_s: float = 0.3) -> VenueBars:
    spec = VenueFeedSpec("binance", emulator.url, "1m", timeout_ms=5_000,
                         bar_timeout_s=timeout_s, poll_s=0.05)
    return VenueBars(spec, "BTC/USDT", MINUTE)


def test_the_forming_candle_is_never_served_even_when_the_venue_lists_it(candles) -> None:
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START,
                            serve_forming=True)  # as Binance does
    with EmulatorServer(config, candles) as emulator:
        bars = bars_of(emulator)
        forming = START - START % MINUTE
        got, error = bars.read(forming - 3 * MINUTE, forming + MINUTE)
        assert sorted(got) == [forming - 3 * MINUTE, forming - 2 * MINUTE, forming - MINUTE]
        assert error is not None and "did not list the closed BTC/USDT bar" in error
        stored = candles["BTC/USDT"]
        row = int(np.searchsorted(stored.timestamp, forming - MINUTE))
        assert got[forming - MINUTE][3] == stored.close[row]  # the venue's real close


def test_a_bar_is_waited_for_until_it_closes(candles) -> None:
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START)
    with EmulatorServer(config, candles) as emulator:
        bars = bars_of(emulator, timeout_s=5.0)
        forming = START - START % MINUTE

        def close_it_later() -> None:
            time.sleep(0.3)
            emulator.clock.advance_bars(1)

        threading.Thread(target=close_it_later, daemon=True).start()
        started = time.monotonic()
        part, error = bars.slice(forming, forming + MINUTE, 7, 3, 4, time.time() + 5.0, None)
        assert error is None and list(part.ts) == [forming] and part.seq == 7
        assert 0.25 <= time.monotonic() - started < 5.0


def test_a_bar_missing_past_the_timeout_ends_the_good_stream(candles) -> None:
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START)
    with EmulatorServer(config, candles) as emulator:
        emulator.add_fault({"kind": "http_5xx", "endpoint": "/api/v3/klines", "status": 503,
                            "probability": 1.0})
        bars = bars_of(emulator, timeout_s=0.3)
        forming = START - START % MINUTE
        part, error = bars.slice(forming - MINUTE, forming, 1, 0, 1, time.time() + 0.3, 1.0)
        assert error is not None and "no answer from the venue" in error
        assert len(part.ts) == 0 and part.error == error and part.error_ts == forming - MINUTE
        assert part.prev_close == 1.0

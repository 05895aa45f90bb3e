"""The venue clock: manual and paced, through the server."""

from __future__ import annotations

import pytest

from actors.emulator.clock import VenueClock
from tests.actors.emulator.support import MINUTE, START, connect


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_manual_and_paced_clocks() -> None:
    wall = FakeMonotonic()
    manual = VenueClock(1000, 0.0, wall)
    wall.now += 10
    assert manual.now_ms() == 1000 and manual.manual
    paced = VenueClock(1000, 60.0, wall)
    wall.now += 1.5
    assert paced.now_ms() == 1000 + 90_000
    assert paced.advance_ms(10) == 1000 + 90_010  # a paced clock can be pushed forward
    with pytest.raises(ValueError, match="backwards"):
        paced.set_ms(0)
    with pytest.raises(ValueError):
        VenueClock(0, -1.0)


def test_paced_server_closes_bars_with_wall_time(make_emulator) -> None:
    wall = FakeMonotonic()
    emulator = make_emulator(speed=60.0, server_options={"monotonic": wall})
    exchange = connect(emulator, signed=False)
    assert exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][0] == START - MINUTE
    wall.now += 2.0  # two venue minutes
    assert exchange.fetch_time() == START + 2 * MINUTE
    assert exchange.fetch_ohlcv("BTC/USDT", "1m", limit=1)[0][0] == START + MINUTE

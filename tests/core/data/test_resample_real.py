"""Resampling checked against real Binance candles: 1m/5m aggregated to 1h equal the 1h files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.data import Candles, complete_bins_mask, find_gaps, resample, validate_candles
from tests.core.data.helpers import load_shared

DAY = 86_400_000
# PROVENANCE.md: complete hours of the 1m and 5m files that exist in the 1h files.
EXPECTED_HOURS = {"1m": 2_178, "5m": 5_980}


@pytest.fixture(scope="module")
def load(shared_data: Path) -> Callable[[str], Candles]:
    cache: dict[str, Candles] = {}

    def get(name: str) -> Candles:
        if name not in cache:
            cache[name] = load_shared(shared_data, name)
            validate_candles(cache[name])
        return cache[name]

    return get


def assert_same_bars(left: Candles, right: Candles) -> int:
    """Exact O/H/L/C and volume to 1e-9 on the common open times; returns their count."""
    common, li, ri = np.intersect1d(left.timestamp, right.timestamp, return_indices=True)
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(
            getattr(left, column)[li], getattr(right, column)[ri], err_msg=column
        )
    np.testing.assert_allclose(left.volume[li], right.volume[ri], rtol=1e-9, atol=0.0)
    return len(common)


@pytest.mark.parametrize("base", ["BTC", "ETH"])
@pytest.mark.parametrize("timeframe", ["1m", "5m"])
def test_fine_bars_resampled_to_1h_equal_the_1h_file(
    load: Callable[[str], Candles], base: str, timeframe: str
) -> None:
    fine = load(f"BINANCE_{base}-USDT_{timeframe}")
    hourly = load(f"BINANCE_{base}-USDT_1h")
    resampled = resample(fine, "1h")
    validate_candles(resampled)
    assert resampled.meta.source == f"resampled from {timeframe} ({fine.meta.source})"
    assert len(resampled) == int(complete_bins_mask(fine, "1h").sum())
    compared = assert_same_bars(resampled, hourly)
    assert compared == EXPECTED_HOURS[timeframe]
    # The partial last hour of the fine file exists only with partial="keep".
    kept = resample(fine, "1h", partial="keep")
    assert len(kept) == len(resampled) + 1
    assert kept.timestamp[-1] not in set(resampled.timestamp.tolist())


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_1m_via_5m_equals_1m_direct(load: Callable[[str], Candles], base: str) -> None:
    minute = load(f"BINANCE_{base}-USDT_1m")
    five = resample(minute, "5m")
    validate_candles(five)
    assert len(five) == len(minute) // 5
    direct = resample(minute, "1h")
    via_five = resample(five, "1h")
    np.testing.assert_array_equal(via_five.timestamp, direct.timestamp)
    assert assert_same_bars(via_five, direct) == len(direct)


@pytest.mark.parametrize("base", ["BTC", "ETH"])
def test_1h_to_1d(load: Callable[[str], Candles], base: str) -> None:
    hourly = load(f"BINANCE_{base}-USDT_1h")
    daily = resample(hourly, "1d")
    validate_candles(daily)
    assert np.all(daily.timestamp % DAY == 0)
    # Every day touched by a gap is incomplete and dropped; every other day is kept.
    gap_days: set[int] = set()
    for gap in find_gaps(hourly).gaps:
        gap_days.update(range((gap.start_ms + 3_600_000) // DAY, (gap.end_ms - 1) // DAY + 1))
    present_days = set((hourly.timestamp // DAY).tolist())
    first_day, last_day = hourly.timestamp[0] // DAY, hourly.timestamp[-1] // DAY
    assert hourly.timestamp[0] % DAY == 0 and hourly.timestamp[-1] % DAY == 23 * 3_600_000
    expected_days = sorted(
        day for day in present_days - gap_days if first_day <= day <= last_day
    )
    assert (daily.timestamp // DAY).tolist() == expected_days
    assert len(daily) > 2_800
    # Same daily bars from the 1m file where both exist, and from 1h -> 4h -> 1d.
    from_minutes = resample(load(f"BINANCE_{base}-USDT_1m"), "1d")
    assert assert_same_bars(from_minutes, daily) == 90
    via_four = resample(resample(hourly, "4h"), "1d")
    np.testing.assert_array_equal(via_four.timestamp, daily.timestamp)
    assert assert_same_bars(via_four, daily) == len(daily)


def test_resampling_the_1m_file_is_fast(load: Callable[[str], Candles]) -> None:
    minute = load("BINANCE_BTC-USDT_1m")
    assert len(minute) == 130_708
    resample(minute, "1h")
    best = min(_timed(lambda: resample(minute, "1h")) for _ in range(3))
    assert best < 0.05


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started

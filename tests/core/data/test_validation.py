from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from core.data import Candles, SeriesMeta, validate_candles
from core.errors import DataError, DataValidationError
from tests.core.data.helpers import HOUR, T0, load_shared, make_candles

CLOSES = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]


def with_value(column: str, row: int, value: float, **extra: list[float]) -> Candles:
    candles = make_candles(CLOSES, **extra)
    values = np.array(getattr(candles, column))
    values[row] = value
    return candles.replace(**{column: values})


def expect_failure(candles: Candles, row: int, fragment: str) -> DataValidationError:
    with pytest.raises(DataValidationError) as caught:
        validate_candles(candles)
    error = caught.value
    assert error.row == row
    assert error.timestamp_ms == int(candles.timestamp[row])
    assert error.source == "unit-test"
    assert fragment in error.problem
    text = str(error)
    assert "source unit-test" in text
    assert f"row {row}" in text
    assert f"timestamp {int(candles.timestamp[row])}" in text
    return error


def test_consistent_series_passes() -> None:
    validate_candles(make_candles(CLOSES))


def test_empty_series_is_valid() -> None:
    validate_candles(make_candles([]))


def test_zero_volume_and_negative_funding_are_legal() -> None:
    validate_candles(
        make_candles(CLOSES, volume=[0.0] * 6, funding=[-0.001] * 6, spread=[0.0] * 6)
    )


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_fail(column: str, bad: float) -> None:
    label = "NaN" if np.isnan(bad) else str(bad)
    expect_failure(with_value(column, 3, bad), 3, f"{column} is {label}")


@pytest.mark.parametrize("column", ["spread", "funding"])
def test_non_finite_optional_columns_fail(column: str) -> None:
    candles = with_value(column, 4, np.nan, **{column: [0.1] * 6})
    expect_failure(candles, 4, f"{column} is NaN")


@pytest.mark.parametrize("column", ["open", "high", "low", "close"])
@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_non_positive_prices_fail(column: str, bad: float) -> None:
    candles = make_candles([1.0] * 6, high=[1.0] * 6, low=[1.0] * 6)
    values = np.array(getattr(candles, column))
    values[2] = bad
    expect_failure(candles.replace(**{column: values}), 2, f"{column} {bad} <= 0")


def test_high_below_low_fails() -> None:
    candles = make_candles(CLOSES).replace(
        open=[100.0] * 6, close=[100.0] * 6, high=[101.0] * 5 + [99.0], low=[99.0] * 5 + [100.0]
    )
    expect_failure(candles, 5, "high 99.0 < low 100.0")


@pytest.mark.parametrize("column", ["open", "close"])
@pytest.mark.parametrize("bad", [98.0, 107.0])
def test_open_or_close_outside_range_fails(column: str, bad: float) -> None:
    candles = make_candles([100.0] * 6, high=[106.0] * 6, low=[99.0] * 6)
    values = np.array(getattr(candles, column))
    values[1] = bad
    expect_failure(
        candles.replace(**{column: values}), 1, f"{column} {bad} outside [low 99.0, high 106.0]"
    )


def test_negative_volume_fails() -> None:
    expect_failure(with_value("volume", 2, -1.5), 2, "volume -1.5 < 0")


def test_negative_spread_fails() -> None:
    expect_failure(with_value("spread", 3, -0.01, spread=[0.1] * 6), 3, "spread -0.01 < 0")


def test_duplicate_timestamp_fails() -> None:
    stamps = [T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    expect_failure(make_candles(CLOSES, timestamps=stamps), 3, "duplicate timestamp")


def test_time_going_backwards_fails() -> None:
    stamps = [T0, T0 + HOUR, T0 + 3 * HOUR, T0 + 2 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
    error = expect_failure(make_candles(CLOSES, timestamps=stamps), 3, "goes backwards")
    assert error.problem == f"timestamp goes backwards (previous {T0 + 3 * HOUR})"


def test_misaligned_timestamp_fails() -> None:
    stamps = [T0 + i * HOUR for i in range(6)]
    stamps[4] += 60_000
    expect_failure(make_candles(CLOSES, timestamps=stamps), 4, "not aligned to the 1h grid")


def test_first_offending_row_wins_across_checks() -> None:
    candles = make_candles(CLOSES)
    volume = np.array(candles.volume)
    volume[4] = -1.0
    high = np.array(candles.high)
    high[2] = np.nan
    stamps = np.array(candles.timestamp)
    stamps[5] = stamps[4]
    expect_failure(candles.replace(volume=volume, high=high, timestamp=stamps), 2, "high is NaN")


def test_ties_on_one_row_are_reported_deterministically() -> None:
    candles = make_candles(CLOSES)
    low = np.array(candles.low)
    low[3] = -1.0  # non-positive low and negative volume on the same row
    volume = np.array(candles.volume)
    volume[3] = -2.0
    broken = candles.replace(low=low, volume=volume)
    messages = set()
    for _ in range(3):
        with pytest.raises(DataValidationError) as caught:
            validate_candles(broken)
        messages.add(str(caught.value))
    assert messages == {f"low -1.0 <= 0 (source unit-test, row 3, timestamp {T0 + 3 * HOUR} "
                        "(2018-01-01T03:00:00Z))"}


def test_source_falls_back_to_symbol() -> None:
    candles = with_value("close", 0, np.nan)
    candles = candles.replace(meta=SeriesMeta("TEST", "ETH/USDT", "1h"))
    with pytest.raises(DataValidationError) as caught:
        validate_candles(candles)
    assert caught.value.source == "ETH/USDT"
    assert caught.value.row == 0


def test_unknown_timeframe_is_a_data_error() -> None:
    candles = make_candles(CLOSES).replace(meta=SeriesMeta("TEST", "BTC/USDT", "7h"))
    with pytest.raises(DataError, match="unknown timeframe"):
        validate_candles(candles)


def test_million_rows_take_milliseconds() -> None:
    n = 1_000_000
    close = 100.0 + np.cumsum(np.random.default_rng(0).normal(0.0, 0.1, n))
    candles = make_candles(close, timeframe="1m", start_ms=T0)
    validate_candles(candles)  # warm-up
    started = time.perf_counter()
    validate_candles(candles)
    assert time.perf_counter() - started < 0.1
    bad = np.array(candles.volume)
    bad[n - 7] = -1.0
    with pytest.raises(DataValidationError) as caught:
        validate_candles(candles.replace(volume=bad))
    assert caught.value.row == n - 7


@pytest.mark.parametrize(
    "name",
    [
        "BINANCE_BTC-USDT_1h",
        "BINANCE_ETH-USDT_1h",
        "BINANCE_SOL-USDT_1h",
        "BINANCE_BTC-USDT_1m",
        "BINANCE_ETH-USDT_5m",
        "BINANCEUSDM_BTC-USDT_1h",
    ],
)
def test_real_shared_files_pass(shared_data: Path, name: str) -> None:
    candles = load_shared(shared_data, name)
    assert len(candles) > 40_000
    validate_candles(candles)

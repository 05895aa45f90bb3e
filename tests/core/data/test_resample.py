from __future__ import annotations

import time

import numpy as np
import pytest

from core.data import (
    Candles,
    SeriesMeta,
    complete_bins_mask,
    generate_synthetic,
    resample,
    validate_candles,
)
from core.errors import DataError
from tests.core.data.helpers import T0, make_candles

MINUTE = 60_000


def minutes(offsets: list[int], **columns: list[float]) -> Candles:
    """1m bars at the given minute offsets from 2018-01-01 00:00 UTC, close = 100 + offset."""
    closes = [100.0 + m for m in offsets]
    return make_candles(
        closes,
        timeframe="1m",
        timestamps=[T0 + m * MINUTE for m in offsets],
        volume=[1.0 + m for m in offsets],
        **columns,
    )


def test_aggregates_ohlcv_per_bin() -> None:
    source = minutes(list(range(10)))
    high = np.array(source.high)
    high[2] = 500.0
    low = np.array(source.low)
    low[7] = 1.0
    out = resample(source.replace(high=high, low=low), "5m")
    np.testing.assert_array_equal(out.timestamp, [T0, T0 + 5 * MINUTE])
    np.testing.assert_array_equal(out.open, [100.0, 104.0])
    np.testing.assert_array_equal(out.close, [104.0, 109.0])
    np.testing.assert_array_equal(out.high, [500.0, 110.0])
    np.testing.assert_array_equal(out.low, [99.0, 1.0])
    np.testing.assert_array_equal(out.volume, [15.0, 40.0])
    assert out.spread is None and out.funding is None
    validate_candles(out)


def test_spread_is_averaged_and_funding_summed() -> None:
    out = resample(
        minutes(list(range(5)), spread=[1.0, 2.0, 3.0, 4.0, 5.0], funding=[0.1, 0, 0, 0, 0.2]),
        "5m",
    )
    np.testing.assert_allclose(out.spread, [3.0])
    np.testing.assert_allclose(out.funding, [0.3])


def test_incomplete_bins_are_dropped_by_default_and_kept_on_request() -> None:
    # bin 0: minutes 2..4 (partial), bin 1: 5..9 (complete), bin 2: 10, 12 (partial)
    source = minutes([2, 3, 4, 5, 6, 7, 8, 9, 10, 12])
    dropped = resample(source, "5m")
    np.testing.assert_array_equal(dropped.timestamp, [T0 + 5 * MINUTE])
    np.testing.assert_array_equal(dropped.close, [109.0])

    kept = resample(source, "5m", partial="keep")
    np.testing.assert_array_equal(kept.timestamp, [T0, T0 + 5 * MINUTE, T0 + 10 * MINUTE])
    np.testing.assert_array_equal(kept.open, [102.0, 104.0, 109.0])  # first open = own close
    np.testing.assert_array_equal(kept.close, [104.0, 109.0, 112.0])
    np.testing.assert_array_equal(kept.volume, [12.0, 40.0, 24.0])
    mask = complete_bins_mask(source, "5m")
    np.testing.assert_array_equal(mask, [False, True, False])
    assert not mask.flags.writeable


def test_daily_bins_open_at_midnight_utc() -> None:
    start = T0 - 2 * 3_600_000  # 2017-12-31 22:00 UTC
    source = make_candles(np.arange(1.0, 50.0) + 100.0, timeframe="1h", start_ms=start)
    out = resample(source, "1d", partial="keep")
    np.testing.assert_array_equal(out.timestamp, [T0 - 86_400_000, T0, T0 + 86_400_000])
    np.testing.assert_array_equal(complete_bins_mask(source, "1d"), [False, True, False])
    whole = resample(source, "1d")
    assert len(whole) == 1
    assert whole.open[0] == source.open[2]
    assert whole.close[0] == source.close[25]


def test_meta_records_the_resampling() -> None:
    source = minutes(list(range(10)))
    source = source.replace(
        meta=SeriesMeta("BINANCE", "BTC/USDT", "1m", source="a.parquet", synthetic=True,
                        files=(("a.parquet", "abc"),))
    )
    meta = resample(source, "5m").meta
    assert (meta.venue, meta.symbol, meta.timeframe) == ("BINANCE", "BTC/USDT", "5m")
    assert meta.source == "resampled from 1m (a.parquet)"
    assert meta.synthetic is True
    assert meta.files == (("a.parquet", "abc"),)


@pytest.mark.parametrize("target", ["3m", "1m"])
def test_targets_that_are_not_coarser_multiples_are_rejected(target: str) -> None:
    source = make_candles([1.0, 2.0, 3.0], timeframe="5m")
    if target == "1m":
        with pytest.raises(DataError, match="whole multiple"):
            resample(source, target)
    else:
        with pytest.raises(DataError, match="cannot resample 5m to 3m"):
            resample(source, target)
        with pytest.raises(DataError, match="whole multiple"):
            complete_bins_mask(source, target)


def test_unknown_target_and_bad_partial_are_rejected() -> None:
    source = minutes(list(range(5)))
    with pytest.raises(DataError, match="unknown timeframe"):
        resample(source, "7m")
    with pytest.raises(DataError, match="partial"):
        resample(source, "5m", partial="pad")  # type: ignore[arg-type]


def test_unsorted_input_is_rejected() -> None:
    source = minutes([0, 2, 1, 3, 4])
    with pytest.raises(DataError, match="validate the candles first"):
        resample(source, "5m")


def test_same_timeframe_is_identity_and_empty_stays_empty() -> None:
    source = minutes(list(range(5)))
    assert resample(source, "1m") is source
    empty = resample(minutes([]), "1h")
    assert len(empty) == 0
    assert empty.meta.timeframe == "1h"


def test_resample_matches_a_plain_python_aggregation() -> None:
    source = generate_synthetic(timeframe="5m", bars=3_000, seed=11)
    drop = np.ones(len(source), dtype=bool)
    drop[[5, 6, 400, 2_999]] = False  # punch holes: those hours become incomplete
    source = source.take(drop)
    out = resample(source, "1h")
    groups: dict[int, list[int]] = {}
    for row, stamp in enumerate(source.timestamp.tolist()):
        groups.setdefault(stamp - stamp % 3_600_000, []).append(row)
    complete = {hour: rows for hour, rows in groups.items() if len(rows) == 12}
    assert out.timestamp.tolist() == sorted(complete)
    for i, rows in enumerate(complete[hour] for hour in sorted(complete)):
        assert out.open[i] == source.open[rows[0]]
        assert out.close[i] == source.close[rows[-1]]
        assert out.high[i] == max(source.high[rows])
        assert out.low[i] == min(source.low[rows])
        assert out.volume[i] == pytest.approx(sum(source.volume[rows]), rel=1e-12)


def test_large_series_is_fast() -> None:
    source = generate_synthetic(timeframe="1m", bars=130_000, seed=2)
    resample(source, "1h")
    started = time.perf_counter()
    out = resample(source, "1h")
    assert time.perf_counter() - started < 0.05
    assert len(out) == 130_000 // 60

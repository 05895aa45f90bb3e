from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data import Gap, GapReport, fill_gaps, find_gaps, validate_candles
from core.errors import DataError
from tests.core.data.helpers import HOUR, T0, load_shared, make_candles


def gappy() -> tuple[list[int], list[float]]:
    """Bars at hours 0, 1, 4, 5, 6, 9: gaps of 2 (after 1h) and 2 (after 6h)."""
    hours = [0, 1, 4, 5, 6, 9]
    return [T0 + h * HOUR for h in hours], [100.0, 101.0, 104.0, 105.0, 103.0, 99.0]


def test_no_gaps() -> None:
    report = find_gaps(make_candles([1.0, 2.0, 3.0]))
    assert report == GapReport(0, 0, 0, None, None, ())
    assert report.describe() == "no gaps"
    assert report.to_dict()["gaps"] == []


@pytest.mark.parametrize("closes", [[], [5.0]])
def test_short_series_have_no_gaps(closes: list[float]) -> None:
    assert find_gaps(make_candles(closes)).gap_count == 0


def test_hand_made_gaps() -> None:
    stamps, closes = gappy()
    stamps[-1] = T0 + 10 * HOUR  # make the second gap the larger one (3 bars)
    report = find_gaps(make_candles(closes, timestamps=stamps))
    assert report.gaps == (Gap(T0 + HOUR, T0 + 4 * HOUR, 2), Gap(T0 + 6 * HOUR, T0 + 10 * HOUR, 3))
    assert (report.missing_bars, report.gap_count, report.largest_missing) == (5, 2, 3)
    assert (report.largest_start_ms, report.largest_end_ms) == (T0 + 6 * HOUR, T0 + 10 * HOUR)
    assert report.describe() == (
        "5 missing bars in 2 gaps; largest 3 bars from 2018-01-01 06:00 to 2018-01-01 10:00 (UTC)"
    )


def test_first_gap_wins_a_tie_for_largest() -> None:
    stamps, closes = gappy()
    report = find_gaps(make_candles(closes, timestamps=stamps))
    assert report.largest_start_ms == T0 + HOUR
    assert report.largest_missing == 2


def test_single_gap_wording_and_json() -> None:
    report = find_gaps(make_candles([1.0, 2.0], timestamps=[T0, T0 + 2 * HOUR]))
    assert report.describe().startswith("1 missing bar in 1 gap; largest 1 bar from")
    encoded = json.loads(json.dumps(report.to_dict()))
    assert encoded["missing_bars"] == 1
    assert encoded["gaps"] == [
        {
            "start_ms": T0,
            "end_ms": T0 + 2 * HOUR,
            "missing": 1,
            "start_utc": "2018-01-01 00:00",
            "end_utc": "2018-01-01 02:00",
        }
    ]


def test_unvalidated_spacing_is_rejected() -> None:
    candles = make_candles([1.0, 2.0], timestamps=[T0, T0 + HOUR + 1])
    with pytest.raises(DataError, match="validate the candles first"):
        find_gaps(candles)
    with pytest.raises(DataError, match="row 1"):
        fill_gaps(candles)


def test_fill_inserts_flat_bars_and_labels_meta() -> None:
    stamps, closes = gappy()
    candles = make_candles(closes, timestamps=stamps, spread=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                           funding=[0.01] * 6)
    filled = fill_gaps(candles)
    assert filled.meta.filled_bars == 4
    assert filled.meta.fill_method == "ffill"
    assert filled.meta.provenance()["filled_bars"] == 4
    assert candles.meta.filled_bars == 0  # the input is untouched
    np.testing.assert_array_equal(filled.timestamp, T0 + np.arange(10) * HOUR)
    inserted = [2, 3, 7, 8]
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(filled, column)[inserted], [101.0] * 2 + [103.0] * 2)
    np.testing.assert_array_equal(filled.volume[inserted], 0.0)
    np.testing.assert_array_equal(filled.spread[inserted], [0.2, 0.2, 0.5, 0.5])
    np.testing.assert_array_equal(filled.funding[inserted], 0.0)
    observed = [0, 1, 4, 5, 6, 9]
    for column in ("open", "high", "low", "close", "volume", "spread", "funding"):
        np.testing.assert_array_equal(getattr(filled, column)[observed], getattr(candles, column))
    validate_candles(filled)
    assert find_gaps(filled).gap_count == 0


def test_fill_without_gaps_returns_the_same_bars() -> None:
    candles = make_candles([1.0, 2.0, 3.0])
    filled = fill_gaps(candles)
    assert filled.meta.filled_bars == 0
    assert filled.meta.fill_method is None
    np.testing.assert_array_equal(filled.close, candles.close)
    np.testing.assert_array_equal(filled.timestamp, candles.timestamp)


def test_fill_rejects_unknown_method() -> None:
    with pytest.raises(DataError, match="unknown gap-fill method"):
        fill_gaps(make_candles([1.0, 2.0]), method="linear")  # type: ignore[arg-type]


def provenance_largest_gap(shared_data: Path, file_name: str) -> tuple[int, int, int]:
    text = (shared_data / "PROVENANCE.md").read_text(encoding="utf-8")
    section = text.split(f"### `ohlcv/{file_name}`", 1)[1].split("###", 1)[0]
    match = re.search(r"largest: (\S+ \S+) -> (\S+ \S+) \((\d+) bars missing\)", section)
    assert match is not None, f"PROVENANCE.md has no largest gap for {file_name}"

    def ms(text: str) -> int:
        return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)

    return ms(match.group(1)), ms(match.group(2)), int(match.group(3))


def test_real_btc_1h_gaps_match_provenance(shared_data: Path) -> None:
    candles = load_shared(shared_data, "BINANCE_BTC-USDT_1h")
    report = find_gaps(candles)
    start, end, missing = provenance_largest_gap(shared_data, "BINANCE_BTC-USDT_1h.parquet")
    assert (report.largest_start_ms, report.largest_end_ms, report.largest_missing) == (
        start,
        end,
        missing,
    )
    assert (start, end, missing) == (1_518_048_000_000, 1_518_170_400_000, 33)
    # Independent count: the complete hourly grid minus the bars present.
    span = int((candles.timestamp[-1] - candles.timestamp[0]) // HOUR) + 1
    assert report.missing_bars == span - len(candles)
    assert report.missing_bars == sum(gap.missing for gap in report.gaps)
    assert 0 < report.gap_count <= 27
    assert report.missing_bars <= 122
    assert "largest 33 bars from 2018-02-08 00:00 to 2018-02-09 10:00 (UTC)" in report.describe()

    filled = fill_gaps(candles)
    assert len(filled) == span
    assert filled.meta.filled_bars == report.missing_bars
    validate_candles(filled)
    assert find_gaps(filled).gap_count == 0

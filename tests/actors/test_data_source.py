"""Auto-detecting loader, user time parsing and funding alignment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actors.adapters.data_source import (
    available_symbols,
    detect_layout,
    load_candles,
    load_funding,
    parse_time_ms,
)
from actors.adapters.parquet_store import ParquetStore
from core.data.candles import Candles
from core.data.funding import FundingRates, align_funding
from core.errors import DataError, DataNotFoundError

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01
T1 = T0 + 300 * H
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def store(shared_data: Path) -> ParquetStore:
    return ParquetStore(shared_data)


@pytest.fixture(scope="module")
def eth(store: ParquetStore) -> Candles:
    return store.read("BINANCE", "ETH/USDT", "1h", start_ms=T0, end_ms=T1)


@pytest.fixture
def freqtrade_dir(tmp_path: Path, eth: Candles) -> Path:
    folder = tmp_path / "user_data" / "data" / "binance"
    folder.mkdir(parents=True)
    frame = eth.to_frame()
    frame.insert(0, "date", pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True))
    frame.to_feather(folder / "ETH_USDT-1h.feather")
    rows = [[int(t), *v] for t, *v in eth.to_frame().itertuples(index=False)]
    (folder / "LTC_USDT-1h.json").write_text(json.dumps(rows))
    return folder


def assert_same_bars(a: Candles, b: Candles) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_three_layouts_give_the_same_bars(
    tmp_path: Path, shared_data: Path, freqtrade_dir: Path, eth: Candles
) -> None:
    csv = tmp_path / "eth.csv"
    eth.to_frame().to_csv(csv, index=False)
    assert detect_layout(shared_data) == "parquet_store"
    assert detect_layout(freqtrade_dir) == "freqtrade"
    assert detect_layout(csv) == "csv"
    window = {"start_ms": T0 + 10 * H, "end_ms": T0 + 110 * H}
    expected = eth.between(**window)
    for data in (shared_data, freqtrade_dir, csv):
        got = load_candles(data, venue="BINANCE", symbol="ETH/USDT", timeframe="1h", **window)
        assert_same_bars(got, expected)
        assert got.meta.venue == "BINANCE" and got.meta.symbol == "ETH/USDT"
        assert got.meta.files and Path(got.meta.files[0][0]).exists()


def test_unknown_layouts_explain_what_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "prices.txt").write_text("1,2,3")
    for path in (tmp_path / "empty", tmp_path / "prices.txt", tmp_path / "missing"):
        with pytest.raises(DataNotFoundError, match=r"\(1\) a Parquet store.*\(2\) a freqtrade.*"
                                                    r"\(3\) a \.csv file"):
            load_candles(path, venue="BINANCE", symbol="BTC/USDT", timeframe="1h")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        detect_layout(tmp_path / "missing")


def test_empty_window_and_missing_series(freqtrade_dir: Path, shared_data: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no bars in the requested window"):
        load_candles(freqtrade_dir, venue="BINANCE", symbol="ETH/USDT", timeframe="1h",
                     start_ms=T1)
    with pytest.raises(DataNotFoundError, match="available: ETH/USDT 1h, LTC/USDT 1h"):
        load_candles(freqtrade_dir, venue="BINANCE", symbol="BTC/USDT", timeframe="1h")
    with pytest.raises(DataNotFoundError, match="available BINANCE 5m symbols: BTC/USDT, ETH/USDT"):
        load_candles(shared_data, venue="BINANCE", symbol="SOL/USDT", timeframe="5m")


def test_available_symbols(tmp_path: Path, shared_data: Path, freqtrade_dir: Path) -> None:
    assert available_symbols(shared_data, "BINANCE", "5m") == ["BTC/USDT", "ETH/USDT"]
    assert available_symbols(shared_data, "BINANCEUSDM", "1h") == ["BTC/USDT", "ETH/USDT"]
    assert available_symbols(freqtrade_dir, "BINANCE", "1h") == ["ETH/USDT", "LTC/USDT"]
    csv = tmp_path / "x.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n")
    assert available_symbols(csv, "CSV", "1h") == []
    assert available_symbols(tmp_path / "missing", "BINANCE", "1h") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", T0),
        ("2024-01-01T05:00", T0 + 5 * H),
        ("2024-01-01T05:00:00Z", T0 + 5 * H),
        ("2024-01-01 07:00:00+02:00", T0 + 5 * H),
        ("2024-01-01T00:00:00.123", T0 + 123),
        (str(T0), T0),
    ],
)
def test_parse_time_ms(text: str, expected: int) -> None:
    assert parse_time_ms(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "01/02/2024", ""])
def test_parse_time_ms_rejects_garbage(text: str) -> None:
    with pytest.raises(DataError, match="bad date/time"):
        parse_time_ms(text)


def test_funding_aligns_on_settlement_bars(store: ParquetStore, shared_data: Path) -> None:
    perp = store.read("BINANCEUSDM", "BTC/USDT", "1h", start_ms=T0, end_ms=T1)
    funding = load_funding(shared_data, "BINANCEUSDM", "BTC/USDT")
    aligned = align_funding(perp, funding)
    assert aligned.unmatched_ms.size == 0
    charged = aligned.candles.funding != 0
    inside = (funding.timestamp >= T0) & (funding.timestamp < T1)
    # every 8 hours; a settlement with a rate of exactly 0 would also be 0 here
    assert charged.sum() == np.count_nonzero(funding.rate[inside])
    np.testing.assert_array_equal(aligned.candles.timestamp[charged] % (8 * H), 0)
    position = np.searchsorted(perp.timestamp, funding.timestamp[inside])
    np.testing.assert_array_equal(aligned.candles.funding[position], funding.rate[inside])
    assert aligned.candles.meta.files == perp.meta.files + funding.files
    assert_same_bars(aligned.candles, perp)


def test_funding_on_a_missing_bar_is_an_error_or_reported(store: ParquetStore) -> None:
    perp = store.read("BINANCEUSDM", "BTC/USDT", "1h", start_ms=T0, end_ms=T1)
    settle = T0 + 16 * H
    holed = perp.take(perp.timestamp != settle)
    funding = FundingRates(np.array([T0 - 8 * H, T0 + 8 * H, settle, T1 + H]),
                           np.array([0.1, 0.2, 0.3, 0.4]), "test funding")
    with pytest.raises(DataError, match=r"1 funding time\(s\) .* first at 1704124800000"):
        align_funding(holed, funding)
    report = align_funding(holed, funding, strict=False)
    np.testing.assert_array_equal(report.unmatched_ms, [settle])
    assert report.candles.funding.sum() == pytest.approx(0.2)  # outside-window rates ignored


def test_load_funding_from_freqtrade_and_csv(tmp_path: Path, freqtrade_dir: Path) -> None:
    with pytest.raises(DataNotFoundError, match="expected one funding-rate file"):
        load_funding(freqtrade_dir, "BINANCE", "ETH/USDT:USDT")
    csv = tmp_path / "x.csv"
    csv.write_text("timestamp,open,high,low,close,volume\n")
    with pytest.raises(DataNotFoundError, match="holds no funding rates"):
        load_funding(csv, "CSV", "BTC/USDT")

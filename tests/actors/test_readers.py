"""freqtrade (feather / parquet / json / json.gz) and CSV readers, built from real data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actors.adapters.csv_reader import read_csv_candles
from actors.adapters.freqtrade_reader import (
    FreqtradeSeries,
    find_freqtrade_file,
    freqtrade_pair,
    list_freqtrade,
    read_freqtrade,
    read_freqtrade_funding,
)
from actors.adapters.parquet_store import ParquetStore
from core.data.candles import Candles
from core.errors import DataError, DataNotFoundError, DataValidationError

H = 3_600_000
T0 = 1_677_628_800_000  # 2023-03-01 00:00 UTC; the window holds a real gap (2023-03-24 13:00)
T1 = T0 + 1000 * H
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def store(shared_data: Path) -> ParquetStore:
    return ParquetStore(shared_data)


@pytest.fixture(scope="module")
def btc(store: ParquetStore) -> Candles:
    return store.read("BINANCE", "BTC/USDT", "1h", start_ms=T0, end_ms=T1)


def freqtrade_frame(candles: Candles, unit: str = "ms") -> pd.DataFrame:
    """Candles as freqtrade stores them: ``date`` as a tz-aware UTC datetime column."""
    frame = candles.to_frame()
    date = pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True).dt.as_unit(unit)
    frame.insert(0, "date", date)
    return frame


def json_rows(candles: Candles) -> list[list[float]]:
    return [[int(t), o, h, lo, c, v] for t, o, h, lo, c, v in zip(
        candles.timestamp.tolist(), candles.open.tolist(), candles.high.tolist(),
        candles.low.tolist(), candles.close.tolist(), candles.volume.tolist(), strict=True)]


def assert_same_bars(a: Candles, b: Candles) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# ----------------------------------------------------------------------------- freqtrade
@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_feather_round_trip(tmp_path: Path, btc: Candles, unit: str) -> None:
    path = tmp_path / "BTC_USDT-1h.feather"
    freqtrade_frame(btc, unit).to_feather(path)
    candles = read_freqtrade(tmp_path, "BTC/USDT", "1h")
    assert_same_bars(candles, btc)
    assert candles.meta.venue == "BINANCE"
    assert candles.meta.source == str(path)
    assert candles.meta.files[0][0] == str(path) and len(candles.meta.files[0][1]) == 64


def test_json_and_json_gz_round_trip(tmp_path: Path, btc: Candles) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "BTC_USDT-1h.json").write_text(json.dumps(json_rows(btc)))
    with gzip.open(tmp_path / "BTC_USDT-1h.json.gz", "wt") as handle:
        json.dump(json_rows(btc), handle)
    assert_same_bars(read_freqtrade(tmp_path / "plain", "BTC/USDT", "1h"), btc)
    assert_same_bars(read_freqtrade(tmp_path, "BTC/USDT", "1h", venue="binance"), btc)


def test_parquet_format_and_format_preference(tmp_path: Path, btc: Candles) -> None:
    freqtrade_frame(btc).to_parquet(tmp_path / "BTC_USDT-1h.parquet")
    (tmp_path / "BTC_USDT-1h.json").write_text("[]")
    found = find_freqtrade_file(tmp_path, "BTC/USDT", "1h")
    assert found.name == "BTC_USDT-1h.parquet"  # feather > parquet > json > json.gz
    assert_same_bars(read_freqtrade(tmp_path, "BTC/USDT", "1h"), btc)


def test_futures_candles_and_funding(tmp_path: Path, store: ParquetStore) -> None:
    perp = store.read("BINANCEUSDM", "BTC/USDT", "1h", start_ms=T0, end_ms=T1)
    funding = store.read_funding("BINANCEUSDM", "BTC/USDT")
    inside = (funding.timestamp >= T0) & (funding.timestamp < T1)
    futures = tmp_path / "futures"
    futures.mkdir()
    freqtrade_frame(perp).to_feather(futures / "BTC_USDT_USDT-1h-futures.feather")
    rates = pd.DataFrame({
        "date": pd.to_datetime(funding.timestamp[inside], unit="ms", utc=True),
        "open": funding.rate[inside], "high": 0.0, "low": 0.0, "close": 0.0, "volume": 0.0,
    })
    rates.to_feather(futures / "BTC_USDT_USDT-8h-funding_rate.feather")

    for symbol in ("BTC/USDT:USDT", "BTC/USDT"):
        candles = read_freqtrade(tmp_path, symbol, "1h", venue="BINANCEUSDM", market="futures")
        assert_same_bars(candles, perp)
    got = read_freqtrade_funding(tmp_path, "BTC/USDT:USDT")
    np.testing.assert_array_equal(got.timestamp, funding.timestamp[inside])
    np.testing.assert_array_equal(got.rate, funding.rate[inside])
    assert got.source.endswith("BTC_USDT_USDT-8h-funding_rate.feather")
    with pytest.raises(DataNotFoundError, match="no freqtrade spot ohlcv data for BTC/USDT 1h"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")


def test_listing_and_pairs(tmp_path: Path, btc: Candles) -> None:
    freqtrade_frame(btc).to_feather(tmp_path / "BTC_USDT-1h.feather")
    (tmp_path / "ETH_USDT-5m.json").write_text("[]")
    (tmp_path / "futures").mkdir()
    (tmp_path / "futures" / "BTC_USDT_USDT-1h-mark.feather").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not data")
    assert list_freqtrade(tmp_path) == [
        FreqtradeSeries("BTC/USDT", "1h", "spot", "ohlcv", "feather",
                        tmp_path / "BTC_USDT-1h.feather"),
        FreqtradeSeries("ETH/USDT", "5m", "spot", "ohlcv", "json", tmp_path / "ETH_USDT-5m.json"),
        FreqtradeSeries("BTC/USDT:USDT", "1h", "futures", "mark", "feather",
                        tmp_path / "futures" / "BTC_USDT_USDT-1h-mark.feather"),
    ]
    assert freqtrade_pair("btc/usdt") == "BTC_USDT"
    assert freqtrade_pair("BTC/USDT", "futures") == "BTC_USDT_USDT"
    with pytest.raises(DataNotFoundError, match="available: BTC/USDT 1h, ETH/USDT 5m"):
        read_freqtrade(tmp_path, "SOL/USDT", "1h")


def test_bad_freqtrade_files_are_clear_errors(tmp_path: Path, btc: Candles) -> None:
    path = tmp_path / "BTC_USDT-1h.json"
    rows = json_rows(btc.take(slice(0, 5)))
    rows[3] = rows[3][:5]
    path.write_text(json.dumps(rows))
    with pytest.raises(DataValidationError, match=r"expected \[ts_ms, open.*row 3"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    rows = json_rows(btc.take(slice(0, 5)))
    rows[2][0] += 0.5
    path.write_text(json.dumps(rows))
    with pytest.raises(DataValidationError, match="not whole milliseconds.*row 2"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    path.write_text('{"not": "rows"}')
    with pytest.raises(DataError, match="expected a JSON array"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    path.write_text("[[1, 2,")
    with pytest.raises(DataError, match="cannot read freqtrade JSON"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    path.unlink()

    frame = freqtrade_frame(btc.take(slice(0, 5)))
    feather = tmp_path / "BTC_USDT-1h.feather"
    frame.rename(columns={"date": "time"}).to_feather(feather)
    with pytest.raises(DataError, match="missing column 'date'"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    broken = frame.copy()
    broken.loc[4, "low"] = broken.loc[4, "high"] * 2
    broken.to_feather(feather)
    with pytest.raises(DataValidationError, match="row 4"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")
    feather.write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read freqtrade file"):
        read_freqtrade(tmp_path, "BTC/USDT", "1h")


# ----------------------------------------------------------------------------- CSV
def write_csv(path: Path, frame: pd.DataFrame, sep: str = ",") -> Path:
    frame.to_csv(path, index=False, sep=sep)
    return path


def test_csv_with_epoch_ms(tmp_path: Path, btc: Candles) -> None:
    path = write_csv(tmp_path / "btc.csv", btc.to_frame())
    candles = read_csv_candles(path, symbol="btc/usdt", timeframe="1h")
    assert_same_bars(candles, btc)
    assert (candles.meta.venue, candles.meta.symbol) == ("CSV", "BTC/USDT")
    assert candles.meta.source == str(path)


def _dates(ts: pd.Series) -> pd.Series:
    return pd.to_datetime(ts, unit="ms", utc=True)


@pytest.mark.parametrize(
    ("header", "render"),
    [
        ("Date", lambda ts: _dates(ts).dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("datetime", lambda ts: _dates(ts).dt.strftime("%Y-%m-%d %H:%M:%S")),
        ("TIME", lambda ts: _dates(ts).dt.tz_convert("Europe/Berlin").dt.strftime(
            "%Y-%m-%dT%H:%M:%S%z")),
        ("time", lambda ts: (ts // 1000).astype(str)),  # epoch seconds
        ("Timestamp", lambda ts: (ts * 1000).astype(str)),  # epoch microseconds
    ],
)
def test_csv_time_formats_and_case(tmp_path: Path, btc: Candles, header: str, render) -> None:
    frame = btc.to_frame()
    frame.insert(0, header, render(frame.pop("timestamp")))
    frame.columns = [header, "Open", "HIGH", "low", "Close", "Volume"]
    path = write_csv(tmp_path / "bars.csv", frame, sep=";")
    assert_same_bars(read_csv_candles(path, symbol="BTC/USDT", timeframe="1h"), btc)


def test_csv_custom_time_column_and_extra_columns(tmp_path: Path, btc: Candles) -> None:
    frame = btc.to_frame().rename(columns={"timestamp": "open_ms"})
    frame["trades"] = 7
    frame["spread"] = 0.5
    path = write_csv(tmp_path / "bars.csv", frame)
    with pytest.raises(DataError, match=r"missing column\(s\) \['timestamp or date"):
        read_csv_candles(path, symbol="BTC/USDT", timeframe="1h")
    candles = read_csv_candles(path, symbol="BTC/USDT", timeframe="1h", time_column="open_ms")
    assert_same_bars(candles, btc)
    np.testing.assert_array_equal(candles.spread, np.full(len(btc), 0.5))


def test_csv_errors_name_the_row(tmp_path: Path, btc: Candles) -> None:
    frame = btc.take(slice(0, 6)).to_frame()
    path = tmp_path / "bad.csv"

    def expect(frame_or_text: pd.DataFrame | str, error: type[Exception], match: str) -> None:
        if isinstance(frame_or_text, str):
            path.write_text(frame_or_text)
        else:
            write_csv(path, frame_or_text)
        with pytest.raises(error, match=match):
            read_csv_candles(path, symbol="BTC/USDT", timeframe="1h")

    expect(frame.drop(columns="volume"), DataError, r"missing column\(s\) \['volume'\]")
    dates = frame.assign(timestamp=pd.to_datetime(frame.timestamp, unit="ms").astype(str))
    dates.loc[3, "timestamp"] = "yesterday"
    expect(dates.rename(columns={"timestamp": "date"}), DataError,
           r"row 3 \(line 5\): unparseable date 'yesterday'")
    mixed = frame.astype({"timestamp": str})
    mixed.loc[2, "timestamp"] = "2023-03-01T02:00:00Z"
    expect(mixed, DataError, "row 2 .*mixes epoch numbers and text")
    units = frame.astype({"timestamp": str})
    units.loc[4, "timestamp"] = str(frame.timestamp[4] // 1000)
    expect(units, DataError, "row 4 .*in seconds but row 0 is in milliseconds")
    numbers = frame.astype({"close": str})
    numbers.loc[1, "close"] = "n/a"
    expect(numbers, DataError,
           r"row 1 \(line 3\), timestamp 1677632400000 \(2023-03-01T01:00.*\): "
           r"close 'n/a' is not a number")
    expect(frame.iloc[[0, 1, 3, 2]], DataValidationError, "goes backwards.*row 3")
    expect("", DataError, "empty file")
    expect("timestamp,open,high,low,close,volume\n", DataError, "header but no rows")
    expect("timestamp,open,Open,high,low,close,volume\n1,2,3,4,5,6,7\n", DataError, "duplicate")
    with pytest.raises(DataError, match="cannot read CSV"):
        read_csv_candles(tmp_path / "missing.csv", symbol="BTC/USDT", timeframe="1h")

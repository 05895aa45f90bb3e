"""ParquetStore: the shared folder as a store, appends, conflicts, atomic writes."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from actors.adapters import parquet_store
from actors.adapters.parquet_store import ParquetStore, SeriesKey
from core.data.candles import Candles
from core.errors import DataError, DataNotFoundError, DataValidationError

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def shared_store(shared_data: Path) -> ParquetStore:
    return ParquetStore(shared_data)


@pytest.fixture(scope="module")
def btc(shared_store: ParquetStore) -> Candles:
    """500 real BTC/USDT 1h bars, relabelled so that nothing points at the shared folder."""
    candles = shared_store.read("BINANCE", "BTC/USDT", "1h", start_ms=T0, end_ms=T0 + 500 * H)
    return candles.replace(meta=dataclasses.replace(candles.meta, source="test", files=()))


def assert_same_bars(a: Candles, b: Candles) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_shared_folder_is_a_store(shared_store: ParquetStore, shared_data: Path) -> None:
    keys = shared_store.list_series()
    path = shared_data / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet"
    assert SeriesKey("BINANCE", "BTC/USDT", "1h", path) in keys
    assert {(k.venue, k.timeframe) for k in keys} >= {
        ("BINANCE", "1h"), ("BINANCE", "1m"), ("BINANCE", "5m"), ("BINANCEUSDM", "1h")
    }
    five = shared_store.list_series(venue="binance", timeframe="5m")
    assert [k.symbol for k in five] == ["BTC/USDT", "ETH/USDT"]
    assert shared_store.exists("BINANCE", "ETH/USDT", "1m")
    assert not shared_store.exists("BINANCE", "ETH/BTC", "1h")


def test_read_shared_matches_the_file_and_records_provenance(
    shared_store: ParquetStore, shared_data: Path
) -> None:
    path = shared_data / "ohlcv" / "BINANCE_ETH-USDT_1h.parquet"
    frame = pd.read_parquet(path)
    candles = shared_store.read("BINANCE", "eth/usdt", "1h")
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(candles, name), frame[name].to_numpy())
    assert candles.meta.symbol == "ETH/USDT"
    assert candles.meta.venue == "BINANCE"
    assert candles.meta.source == str(path)
    assert candles.meta.files == ((str(path), hashlib.sha256(path.read_bytes()).hexdigest()),)
    assert not candles.meta.synthetic


def test_read_window_and_last_timestamp(shared_store: ParquetStore, shared_data: Path) -> None:
    window = shared_store.read("BINANCE", "BTC/USDT", "5m", start_ms=T0 + 7, end_ms=T0 + 10 * H)
    assert window.timestamp[0] == T0 + 300_000
    assert window.timestamp[-1] == T0 + 10 * H - 300_000
    assert len(window) == 119
    frame = pd.read_parquet(shared_data / "ohlcv" / "BINANCE_BTC-USDT_1m.parquet")
    assert shared_store.last_timestamp("BINANCE", "BTC/USDT", "1m") == frame.timestamp.iloc[-1]
    assert shared_store.last_timestamp("BINANCE", "ETH/BTC", "1h") is None


def test_missing_series_names_what_is_available(shared_store: ParquetStore) -> None:
    with pytest.raises(DataNotFoundError, match="available BINANCE 1h symbols: ADA/USDT, AVAX"):
        shared_store.read("BINANCE", "ETH/BTC", "1h")
    with pytest.raises(DataNotFoundError, match="ETH/USDT is stored as: BINANCE 1h, BINANCE 1m"):
        shared_store.read("BINANCE", "ETH/USDT", "4h")
    with pytest.raises(DataNotFoundError, match="holds no series"):
        ParquetStore(Path("/nonexistent-store")).read("BINANCE", "BTC/USDT", "1h")


def test_empty_window_is_not_found(shared_store: ParquetStore) -> None:
    with pytest.raises(DataNotFoundError, match="no bars in window .2030-01-01T00:00Z"):
        shared_store.read("BINANCE", "BTC/USDT", "1h", start_ms=1_893_456_000_000)


def test_bad_names_are_data_errors(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path)
    with pytest.raises(DataError, match="unknown timeframe"):
        store.path_for("BINANCE", "BTC/USDT", "7x")
    with pytest.raises(DataError, match="malformed symbol"):
        store.path_for("BINANCE", "BTCUSDT", "1h")
    with pytest.raises(DataError, match="malformed venue"):
        store.path_for("BIN_ANCE", "BTC/USDT", "1h")


def test_append_creates_a_file_like_the_shared_ones(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    result = store.append(btc)
    assert (result.added, result.skipped_duplicates) == (500, 0)
    assert result.path == tmp_path / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet"
    metadata = pq.read_metadata(result.path)
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert [str(t) for t in pq.read_schema(result.path).types] == ["int64"] + ["double"] * 5
    back = store.read("BINANCE", "BTC/USDT", "1h")
    assert_same_bars(back, btc)
    assert back.meta.source == str(result.path)
    assert store.last_timestamp("BINANCE", "BTC/USDT", "1h") == T0 + 499 * H
    assert store.list_series() == [SeriesKey("BINANCE", "BTC/USDT", "1h", result.path)]


def test_incremental_append_skips_identical_overlap(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    assert store.append(btc.take(slice(0, 300))).added == 300
    result = store.append(btc.take(slice(200, 500)))
    assert (result.added, result.skipped_duplicates) == (200, 100)
    assert_same_bars(store.read("BINANCE", "BTC/USDT", "1h"), btc)
    before = result.path.stat().st_mtime_ns
    again = store.append(btc.take(slice(450, 500)))
    assert (again.added, again.skipped_duplicates) == (0, 50)
    assert result.path.stat().st_mtime_ns == before  # nothing new: the file is not rewritten


def test_backfill_keeps_time_order(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    store.append(btc.take(slice(200, 500)))
    result = store.append(btc.take(slice(0, 250)))
    assert (result.added, result.skipped_duplicates) == (200, 50)
    assert_same_bars(store.read("BINANCE", "BTC/USDT", "1h"), btc)


def test_conflicting_bar_is_refused_and_nothing_changes(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    path = store.append(btc.take(slice(0, 300))).path
    original = path.read_bytes()
    close = btc.close.copy()
    close[250] *= 1.0001
    changed = btc.replace(close=close, high=np.maximum(btc.high, close))
    with pytest.raises(DataError, match=r"bar at 1704967200000 \(2024-01-11T10:00Z\) differs.*"
                                        r"close stored"):
        store.append(changed.take(slice(200, 400)))
    assert path.read_bytes() == original


def test_invalid_new_bars_are_refused(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    volume = btc.volume.copy()
    volume[7] = np.nan
    with pytest.raises(DataValidationError, match="volume is NaN.*row 7"):
        store.append(btc.replace(volume=volume))
    assert not store.exists("BINANCE", "BTC/USDT", "1h")


def test_optional_columns_round_trip_and_must_match(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    spread = np.full(len(btc), 0.01)
    store.append(btc.take(slice(0, 100)).replace(spread=spread[:100]))
    store.append(btc.take(slice(100, 200)).replace(spread=spread[100:200]))
    back = store.read("BINANCE", "BTC/USDT", "1h")
    np.testing.assert_array_equal(back.spread, spread[:200])
    assert back.funding is None
    with pytest.raises(DataError, match="stored columns .*spread.* differ from new columns"):
        store.append(btc.take(slice(200, 300)))


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("boom")])
def test_failed_write_leaves_the_old_file_intact(
    tmp_path: Path, btc: Candles, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    store = ParquetStore(tmp_path)
    path = store.append(btc.take(slice(0, 100))).path
    original = path.read_bytes()

    def torn_write(table: object, where: str | Path, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")  # a partial temp file, then the failure
        raise failure

    monkeypatch.setattr(parquet_store.pq, "write_table", torn_write)
    with pytest.raises(DataError if isinstance(failure, OSError) else RuntimeError):
        store.append(btc.take(slice(100, 200)))
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    monkeypatch.undo()
    assert_same_bars(store.read("BINANCE", "BTC/USDT", "1h"), btc.take(slice(0, 100)))


def test_concurrent_appends_lose_nothing(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    chunks = [btc.take(slice(i, i + 50)) for i in range(0, 500, 50)]
    errors: list[BaseException] = []

    def append(chunk: Candles) -> None:
        try:
            ParquetStore(tmp_path).append(chunk)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_same_bars(store.read("BINANCE", "BTC/USDT", "1h"), btc)


def test_corrupt_and_malformed_files_are_clear_errors(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    path = store.path_for("BINANCE", "BTC/USDT", "1h")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="cannot read Parquet file"):
        store.read("BINANCE", "BTC/USDT", "1h")

    frame = btc.to_frame()
    frame.astype({"timestamp": "float64"}).to_parquet(path)
    with pytest.raises(DataError, match="column 'timestamp' has type double; expected int64"):
        store.read("BINANCE", "BTC/USDT", "1h")

    frame.drop(columns="volume").to_parquet(path)
    with pytest.raises(DataError, match="missing column 'volume'"):
        store.read("BINANCE", "BTC/USDT", "1h")

    frame.iloc[[0, 2, 1, 3]].to_parquet(path)
    with pytest.raises(DataValidationError, match="goes backwards.*BINANCE_BTC-USDT_1h.parquet"):
        store.read("BINANCE", "BTC/USDT", "1h")
    with pytest.raises(DataValidationError):  # append never builds on corrupt stored data
        store.append(btc.take(slice(10, 20)))


def test_listing_ignores_temp_and_foreign_files(tmp_path: Path, btc: Candles) -> None:
    store = ParquetStore(tmp_path)
    path = store.append(btc.take(slice(0, 10))).path
    for name in (".BINANCE_BTC-USDT_1h.parquet.1a2b3c.tmp", "notes.parquet",
                 "BINANCE_BTC-USDT_1w.parquet", "README.md"):
        (path.parent / name).write_bytes(b"x")
    assert [k.path for k in store.list_series()] == [path]

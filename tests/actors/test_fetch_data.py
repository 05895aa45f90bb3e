"""OhlcvDownloader: real ccxt over HTTP against the Binance emulator serving real candles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.ccxt_ohlcv import OhlcvDownloader, make_exchange
from actors.adapters.parquet_store import ParquetStore
from actors.adapters.retry import RetryPolicy
from actors.emulator import EmulatorConfig, EmulatorServer, FaultRule, Reply, Request
from core.data.candles import Candles
from core.data.gaps import find_gaps
from core.errors import DataValidationError, PermanentExchangeError, TemporaryExchangeError

H = 3_600_000
SERVED_FROM = 1_675_209_600_000  # 2023-02-01: the emulator also knows bars before --since
SINCE = 1_677_628_800_000  # 2023-03-01 00:00 UTC
DATA_END = 1_688_169_600_000  # 2023-07-01: the venue's history ends here (bars before it)
SYMBOLS = ("BTC/USDT", "ETH/USDT")
KLINES = "/api/v3/klines"
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PAGE = 500


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> dict[str, Candles]:
    """The real bars the venue serves (a gap on 2023-03-24 13:00 included)."""
    store = ParquetStore(shared_data)
    return {s: store.read("BINANCE", s, "1h", start_ms=SERVED_FROM, end_ms=DATA_END)
            for s in SYMBOLS}


@pytest.fixture
def emulator(reference: dict[str, Candles]) -> Iterator[EmulatorServer]:
    """The venue at DATA_END: every served bar has closed."""
    with EmulatorServer(EmulatorConfig(timeframe="1h", start_ms=DATA_END), reference) as emulator:
        yield emulator


def klines_fault(kind: str, nth: int, **settings: object) -> FaultRule:
    return FaultRule.model_validate({"kind": kind, "endpoint": KLINES, "nth": nth, **settings})


class Sleeps(list):
    """Records the delays the retry logic asked for, without sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def downloader(emulator: EmulatorServer, store: ParquetStore, sleeps: Sleeps,
               attempts: int = 4, **kwargs: object) -> OhlcvDownloader:
    exchange = make_exchange("binance", api_url=emulator.url, rate_limit_ms=1)
    return OhlcvDownloader(
        exchange, store, page_limit=PAGE, progress=False, sleep=sleeps,
        retry=RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.05), **kwargs,
    )


def assert_stored_equals_reference(store: ParquetStore, reference: Candles, symbol: str) -> None:
    stored = store.read("BINANCE", symbol, "1h")
    expected = reference.between(SINCE)
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(stored, name), getattr(expected, name), name)
    assert find_gaps(stored).to_dict() == find_gaps(expected).to_dict()


def start_times(emulator: EmulatorServer) -> list[int]:
    return [int(r.params["startTime"]) for r in emulator.requests(KLINES)]


def test_download_through_429_and_5xx(
    tmp_path: Path, emulator: EmulatorServer, reference: dict[str, Candles]
) -> None:
    bars = len(reference["BTC/USDT"].between(SINCE))
    pages = -(-bars // PAGE)
    emulator.add_fault(klines_fault("http_429", 3, retry_after_s=1))
    emulator.add_fault(klines_fault("http_5xx", 6, status=502))
    # BTC: pages + 1 empty page + 2 retries; then ETH's 2nd page gets a 503
    emulator.add_fault(klines_fault("http_5xx", pages + 1 + 2 + 2, status=503, overloaded=True))
    store, sleeps = ParquetStore(tmp_path), Sleeps()
    lines: list[str] = []
    fetch = downloader(emulator, store, sleeps, log=lines.append)
    reports = [fetch.download(symbol, "1h", SINCE) for symbol in SYMBOLS]

    for symbol, report in zip(SYMBOLS, reports, strict=True):
        assert_stored_equals_reference(store, reference[symbol], symbol)
        assert report.added == bars and report.skipped == 0
        assert (report.first_ms, report.last_ms) == (SINCE, DATA_END - H)
        assert report.pages == pages + 1  # the last, empty page ends the download
        assert not report.resumed and report.dropped_forming == 0
        assert (report.gaps.missing_bars, report.gaps.gap_count) == (1, 1)
        assert "1 missing bar in 1 gap" in report.summary()
    assert [r.retries for r in reports] == [2, 1]
    assert sleeps == [1.0, 0.01, 0.01]  # Retry-After honoured; 5xx on the base delay
    assert len(lines) == 3 and "DDoSProtection" in lines[0] and "502" in lines[1]
    statuses = [r.status for r in emulator.requests(KLINES)]
    assert statuses.count(429) == 1 and statuses.count(502) == 1 and statuses.count(503) == 1
    # a failed request is repeated as it was; otherwise every page starts after the last one
    starts = [s for s, r in zip(start_times(emulator), emulator.requests(KLINES), strict=True)
              if r.status == 200]
    btc_starts = starts[: pages + 1]
    assert btc_starts == sorted(set(btc_starts)) and btc_starts[0] == SINCE
    assert emulator.requests(KLINES)[0].params == {
        "symbol": "BTCUSDT", "interval": "1h", "startTime": str(SINCE), "limit": str(PAGE)}


def test_resume_after_a_permanent_error(
    tmp_path: Path, emulator: EmulatorServer, reference: dict[str, Candles]
) -> None:
    emulator.add_fault(klines_fault("reject", 4, code=-1121, msg="Invalid symbol."))
    store, sleeps = ParquetStore(tmp_path), Sleeps()
    with pytest.raises(PermanentExchangeError, match="BadSymbol: binance .*Invalid symbol"):
        downloader(emulator, store, sleeps).download("BTC/USDT", "1h", SINCE)
    assert sleeps == [] and len(emulator.requests(KLINES)) == 4  # not retried
    # the 3 pages fetched before the error were flushed although flush_every was not reached
    stored = store.read("BINANCE", "BTC/USDT", "1h")
    assert len(stored) == 3 * PAGE
    last = int(stored.timestamp[-1])

    report = downloader(emulator, store, sleeps).download("BTC/USDT", "1h", SINCE)
    assert start_times(emulator)[4] == last + H  # the rerun starts after the last stored bar
    assert report.resumed and report.start_ms == last + H
    assert report.added == len(reference["BTC/USDT"].between(SINCE)) - 3 * PAGE
    assert_stored_equals_reference(store, reference["BTC/USDT"], "BTC/USDT")

    again = downloader(emulator, store, sleeps).download("BTC/USDT", "1h", SINCE)
    assert again.added == 0 and again.pages == 1 and again.first_ms is None
    assert "no new bars" in again.summary()


def test_until_then_resume_gives_the_same_file(
    tmp_path: Path, emulator: EmulatorServer, reference: dict[str, Candles]
) -> None:
    store, sleeps = ParquetStore(tmp_path), Sleeps()
    middle = SINCE + 777 * H
    first = downloader(emulator, store, sleeps, flush_every=1).download(
        "ETH/USDT", "1h", SINCE, until_ms=middle)
    assert first.last_ms == middle - H and first.added == 776  # the 2023-03-24 gap is inside
    assert store.last_timestamp("BINANCE", "ETH/USDT", "1h") == middle - H
    downloader(emulator, store, sleeps).download("ETH/USDT", "1h", SINCE)
    assert_stored_equals_reference(store, reference["ETH/USDT"], "ETH/USDT")


def test_unknown_symbol_fails_at_once(tmp_path: Path, emulator: EmulatorServer) -> None:
    store, sleeps = ParquetStore(tmp_path), Sleeps()
    with pytest.raises(PermanentExchangeError, match="BadSymbol: binance does not have market "
                                                     "symbol DOGE/BTC"):
        downloader(emulator, store, sleeps).download("DOGE/BTC", "1h", SINCE)
    assert emulator.requests(KLINES) == [] and sleeps == []
    assert store.list_series() == []


def test_temporary_errors_give_up_after_the_attempts(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    emulator.add_fault(klines_fault("http_5xx", 2, status=503, count=10))
    store, sleeps = ParquetStore(tmp_path), Sleeps()
    with pytest.raises(TemporaryExchangeError) as caught:
        downloader(emulator, store, sleeps, attempts=3).download("BTC/USDT", "1h", SINCE)
    assert "gave up after 3 attempt(s)" in caught.value.__notes__
    assert sleeps == [0.01, 0.02] and len(emulator.requests(KLINES)) == 4
    assert len(store.read("BINANCE", "BTC/USDT", "1h")) == PAGE  # the first page is kept


def test_still_forming_candle_is_dropped(
    tmp_path: Path, reference: dict[str, Candles]
) -> None:
    now = SINCE + 100 * H + 25 * 60_000  # 25 minutes into the bar opened at SINCE + 100h
    config = EmulatorConfig(timeframe="1h", start_ms=now, serve_forming=True)  # as Binance does
    with EmulatorServer(config, {"BTC/USDT": reference["BTC/USDT"]}) as emulator:
        store = ParquetStore(tmp_path)
        report = downloader(emulator, store, Sleeps(), now_ms=emulator.clock.now_ms).download(
            "BTC/USDT", "1h", SINCE)
    assert report.dropped_forming == 1 and report.until_ms == now
    assert store.last_timestamp("BINANCE", "BTC/USDT", "1h") == SINCE + 99 * H
    assert report.pages == 1


def test_corrupt_bars_from_the_venue_are_refused(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    def broken_klines(request: Request) -> Reply:  # high below low in the 3rd row
        start = int(request.params["startTime"])
        rows = [[t, "10", "11", "9", "10", "1", t + H - 1, "10", 1, "0.5", "5", "0"]
                for t in range(SINCE, SINCE + 5 * H, H) if t >= start]
        for row in rows:
            if row[0] == SINCE + 2 * H:
                row[2] = "8"
        return Reply.json(rows)

    emulator.route("GET", KLINES, broken_klines)
    store = ParquetStore(tmp_path)
    for _ in range(2):  # the rerun resumes at the corrupt bar and refuses it again
        with pytest.raises(DataValidationError, match=r"high 8.0 < low 9.0.*row [02].*timestamp "
                                                      "1677636000000"):
            downloader(emulator, store, Sleeps()).download("BTC/USDT", "1h", SINCE)
        # the valid bars before the corrupt one are kept
        assert store.last_timestamp("BINANCE", "BTC/USDT", "1h") == SINCE + H
    assert start_times(emulator)[-2] == SINCE + 2 * H

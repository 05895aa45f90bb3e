"""A live feed's bars from the venue: closed ones only, waited for, and a missing one stops it;
a paced feed reads a closed bar with one request."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.live import venue_bars
from actors.live.feed import FeedService
from actors.live.venue_bars import VenueBars, VenueClockBound
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


def test_the_clock_bound_holds_from_below_and_starts_again_when_contradicted() -> None:
    bound = VenueClockBound(monotonic=lambda: 10.0)
    assert bound.rate() is None and bound.lower_ms(10.0) is None
    bound.observe(0.0, 0.002, 1_000)
    bound.observe(1.0, 1.002, 61_000)  # a venue clock at 60x; two answers are not enough
    assert bound.rate() is None and bound.seconds_until(200_000) is None
    bound.observe(2.0, 2.002, 121_000)
    rate = bound.rate()
    assert rate is not None and 59_000 < rate < 60_000  # from below
    assert bound.lower_ms(2.0) is None  # before the newest answer came back: unknown
    assert bound.lower_ms(2.102) == 121_000 + int(0.1 * rate) <= 121_000 + 0.102 * 60_000
    assert bound.seconds_until(121_000 + 540_000) == pytest.approx(
        (540_000 - int(7.998 * rate)) / rate)
    bound.observe(3.0, 3.002, 121_500)  # the clock ran slower than bounded: no rate
    assert bound.resets == 1 and bound.rate() is None
    for k in range(1, 3):
        bound.observe(3.0 + k, 3.002 + k, 121_500 + k * 60_000)
    assert bound.rate() is not None
    bound.observe(6.0, 6.002, 100_000)  # stepped back
    assert bound.resets == 2 and bound.rate() is None
    for k in range(1, 3):
        bound.observe(6.0 + k, 6.002 + k, 100_000 + k * 60_000)
    bound.observe(9.0, 9.002, 220_000 + 60_000 + 60_000)  # one bar ahead: the clock jumped
    assert bound.resets == 3 and bound.rate() is None


def test_one_jump_of_the_clock_between_the_first_answers_inflates_no_rate() -> None:
    bound = VenueClockBound(monotonic=lambda: 0.0)
    bound.observe(0.0, 0.001, 0)
    bound.observe(1.0, 1.001, 60_000 + 60_000)  # a bar's jump (an emulator moved by hand)
    bound.observe(2.0, 2.001, 180_000)
    rate = bound.rate()  # the last two answers' rate, not the first's inflated one
    assert rate is not None and rate <= 60_000


def _paced_feed(emulator: EmulatorServer, tmp_path: Path, forming: int, bars: int
                ) -> FeedService:
    """A live feed of ``bars`` steps from the bar forming at ``forming`` (no subscribers)."""
    live = VenueFeedSpec("binance", emulator.url, "1m", timeout_ms=5_000, bar_timeout_s=5.0,
                         poll_s=0.05)
    timeline = np.arange(forming, forming + bars * MINUTE, MINUTE, dtype=np.int64)
    return FeedService(str(tmp_path), "BINANCE", "BTC/USDT", "1m", timeline=timeline,
                       live=live)


def _due_s(emulator: EmulatorServer, venue_ms: int) -> float:
    """Wall time at which the paced emulator's clock reaches ``venue_ms``."""
    return time.time() + (venue_ms - emulator.clock.now_ms()) / emulator.clock.speed / 1000


def _arm(emulator: EmulatorServer, close_ms: int, ahead_s: float = 0.025) -> float:
    """Sleep until ``ahead_s`` before ``close_ms``, as a paced session arms a step."""
    due = _due_s(emulator, close_ms)
    time.sleep(max(0.0, due - ahead_s - time.time()))
    return due


def test_a_paced_feed_reads_each_closed_bar_with_one_request_after_its_close(
        candles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # what the bar-to-order path pays: one klines request per bar once it has closed (the
    # time sample it is proven closed from is taken before the close), with the bar before
    # the first one read in the same request
    monkeypatch.setattr(venue_bars, "CLOSE_WAIT_S", 1.0)  # timing-proof on a loaded machine
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START, speed=60.0)
    stored = candles["BTC/USDT"]
    with EmulatorServer(config, candles) as emulator:
        forming = START - START % MINUTE
        feed = _paced_feed(emulator, tmp_path, forming, 3)
        feed.connect()  # no subscribers: only the markets and the clock's first samples
        for seq in range(3):
            close = forming + (seq + 1) * MINUTE
            feed.publish(seq, seq, seq + 1, _arm(emulator, close))
            part = feed.replay(seq, seq, seq + 1)
            after = [r.path for r in emulator.requests() if r.venue_ms >= close]
            # one klines request, nothing after it (the clock sample before the close may
            # still arrive after it on a loaded machine)
            assert after.count("/api/v3/klines") == 1 and after[-1] == "/api/v3/klines", after
            assert list(part.ts) == [close - MINUTE] and part.error is None
            row = int(np.searchsorted(stored.timestamp, close - MINUTE))
            assert part.close[0] == stored.close[row] and part.prev_close == stored.close[row - 1]
        paths = [r.path for r in emulator.requests()]
        # one klines request per bar; two time requests at the start and at most one per bar
        assert paths.count("/api/v3/klines") == 3 and paths.count("/api/v3/time") <= 5


def test_a_paced_feed_armed_early_still_waits_for_the_close_on_the_venue(
        candles, tmp_path: Path) -> None:
    # the session's clock is only an estimate: armed 0.3 s (18 venue seconds) before the
    # real close, against a venue that lists the forming candle, the feed serves the bar
    # only once the venue says it closed
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START, speed=60.0,
                            serve_forming=True)
    with EmulatorServer(config, candles) as emulator:
        forming = START - START % MINUTE
        feed = _paced_feed(emulator, tmp_path, forming, 2)
        feed.connect()
        close = forming + MINUTE
        feed.publish(0, 0, 1, _arm(emulator, close - 18_000))
        assert emulator.clock.now_ms() >= close
        part = feed.replay(0, 0, 1)
        assert list(part.ts) == [forming] and part.error is None
        served = [r for r in emulator.requests("/api/v3/klines") if r.venue_ms < close]
        assert served  # it asked early, and refused the forming candle it was given


def test_a_stopped_feeds_later_steps_carry_the_last_close_it_read(candles, tmp_path: Path
                                                                  ) -> None:
    # subscribers that see a step only after the feed stopped (a conflated candidate) still
    # get the price in force: the last close read, never "no price"
    config = EmulatorConfig(symbols=("BTC/USDT",), timeframe="1m", start_ms=START + 3 * MINUTE)
    stored = candles["BTC/USDT"]
    with EmulatorServer(config, candles) as emulator:
        forming = START - START % MINUTE
        live = VenueFeedSpec("binance", emulator.url, "1m", timeout_ms=5_000,
                             bar_timeout_s=0.3, poll_s=0.05)
        timeline = np.arange(forming - 2 * MINUTE, forming + 4 * MINUTE, MINUTE,
                             dtype=np.int64)
        feed = FeedService(str(tmp_path), "BINANCE", "BTC/USDT", "1m", timeline=timeline,
                           live=live)
        feed.connect()
        feed.publish(0, 0, 2)
        first = feed.replay(0, 0, 2)
        assert first.error is None and len(first.ts) == 2
        emulator.add_fault({"kind": "http_5xx", "endpoint": "/api/v3/klines", "status": 503,
                            "probability": 1.0})
        feed.publish(1, 2, 4)  # what was not read already is missing: the feed stops
        stopped = feed.replay(1, 2, 4)
        assert stopped.error is not None and len(stopped.ts) < 2
        last_ts, last_close = ((stopped.ts[-1], stopped.close[-1]) if len(stopped.ts)
                               else (first.ts[-1], first.close[-1]))
        feed.publish(2, 4, 6)
        later = feed.replay(2, 4, 6)
        assert later.error == stopped.error and len(later.ts) == 0
        assert later.prev_close == last_close
        row = int(np.searchsorted(stored.timestamp, last_ts))
        assert last_close == stored.close[row]

"""MarketFeed: one actor per (venue, symbol) replaying stored bars in SIM.

The feed reads the stored series as it is, without trusting it: the first corrupt bar (NaN,
non-positive price, high < low, time going backwards, ...) found by
:func:`core.data.validation.validate_candles` ends the good part of the stream. Bars before
it are served; from it on the feed is stopped and every slice carries the error, which the
session records and turns into a stale-data breaker on that symbol. Nothing after a corrupt
bar is ever served, so nothing is ever traded on it.

Each session step the feed *publishes* its slice: :meth:`FeedService.publish` puts a large
one (a SIM batch) in the object store once and pushes the reference to every subscriber, a
one-bar slice by value, numbered by the step; a paced step arrives before its bars close and
is pushed at the close. The
latency-critical subscribers (slot, guardian, executor) get each slice at once; the others
(candidates, which trade their own books and answer to nobody within the step) get the
slices conflated: every ``conflate_s``, all that accumulated, in one call. The last
:data:`REPLAY_BUFFER` slices stay in a bounded buffer, from which :meth:`FeedService.replay`
serves a subscriber that missed one. Slices are pure functions of the requested range, so a
restarted feed (empty buffer) recomputes exactly what the old one would have served.

A perpetual's funding rates (``funding/<VENUE>_<BASE>-<QUOTE>_funding_rate.parquet`` beside
the candles) travel with its bars: each slice carries the rate settled at each bar's open.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray

from actors.adapters.data_source import available_symbols, load_funding
from actors.adapters.files import read_table
from actors.live.logs import actor_log
from actors.live.priority import latency_critical
from actors.live.roster_file import RosterSpec
from actors.live.venue_spec import VenueFeedSpec
from core.data import generate_synthetic
from core.data.candles import Candles, SeriesMeta
from core.data.funding import align_funding
from core.data.naming import parse_symbol
from core.data.timeframes import timeframe_to_ms
from core.data.validation import validate_candles
from core.errors import DataError, DataNotFoundError, DataValidationError
from core.trading.align import FeedSlice

OHLCV = ("open", "high", "low", "close", "volume")
REPLAY_BUFFER = 64
"""Published slices a feed keeps for subscribers that missed them."""
CONFLATE_S = 0.25
"""How often conflated subscribers get what accumulated."""
INLINE_BARS = 64
"""Slices up to this many bars are pushed by value, larger ones through the object store."""
CONFLATE_MAX = 32
"""Slices that make a conflated push go at once."""
SYNC_LEAD_S = 0.02
"""A live feed armed at least this long before a close reads the venue's time first (the
sample its clock bound runs from). ccxt spaces a ``klines`` request 20 ms after the request
before it (Binance: cost 0.4 x 50 ms), so a later sample would delay the bar's read."""


@dataclass(frozen=True, slots=True, eq=False)
class FeedInfo:
    """What a feed holds.

    Attributes:
        symbol: Instrument.
        source: File read (or the synthetic model's label).
        synthetic: True for generated data.
        timeline: Bar times usable for the session timeline: every row whose time is later
            than all rows before it (rows that go back in time are left out).
        good_bars: Number of bars before the first corrupt one.
        error: The first corrupt bar's problem, or None.
        error_ts: Time from which the feed has no good bars, or None.
    """

    symbol: str
    source: str
    synthetic: bool
    timeline: np.ndarray
    good_bars: int
    error: str | None
    error_ts: int | None


def _venue_label(spec: VenueFeedSpec | None) -> str:
    assert spec is not None
    return f"live {spec.exchange_id}" + (f" at {spec.api_url}" if spec.api_url else "")


def series_path(data_dir: Path, venue: str, symbol: str, timeframe: str) -> Path:
    """Where the Parquet store keeps ``(venue, symbol, timeframe)``."""
    base, quote = parse_symbol(symbol)
    return data_dir / "ohlcv" / f"{venue}_{base}-{quote}_{timeframe}.parquet"


class FeedService:
    """The feed's logic; :data:`~actors.live.shells.MarketFeed` is the Ray actor around it.

    Args:
        data_dir: Parquet store folder (holds ``ohlcv/``).
        venue: Venue label.
        symbol: Instrument, ``BASE/QUOTE``.
        timeframe: Bar timeframe.
        synthetic_fallback: Serve the seeded synthetic market when the store has no series
            at all for this venue and timeframe.
        synthetic_bars: Length of the synthetic series.
        seed: Seed of the synthetic series.
        session_id: The session (for logs; "" for a planning probe).
        timeline: The session timeline (``prev_close`` of a slice is taken on it).
        subscribers: Ray names of the actors each published slice is pushed to at once.
        conflated: Ray names of the actors that get the slices conflated.
        namespace: Their Ray namespace.
        conflate_s: Interval of the conflated pushes.
        roster: The session's candidate roster: the candidates added while it runs get the
            slices conflated too (None: only ``conflated``).
    """

    def __init__(self, data_dir: str, venue: str, symbol: str, timeframe: str, *,
                 synthetic_fallback: bool = False, synthetic_bars: int = 5000,
                 seed: int = 7, session_id: str = "", timeline: np.ndarray | None = None,
                 subscribers: Sequence[str] = (), conflated: Sequence[str] = (),
                 namespace: str = "", conflate_s: float = CONFLATE_S,
                 live: VenueFeedSpec | None = None, roster: RosterSpec | None = None) -> None:
        self.symbol = symbol
        self.timeframe_ms = timeframe_to_ms(timeframe)
        self._live: Any = None
        if live is not None:
            from actors.live.venue_bars import VenueBars  # ccxt: live feeds only

            self._live = VenueBars(live, symbol, self.timeframe_ms)
        self._live_error: tuple[str, int] | None = None
        path = series_path(Path(data_dir), venue, symbol, timeframe)
        if self._live is not None:
            candles = Candles(meta=SeriesMeta(venue=venue, symbol=symbol, timeframe=timeframe,
                                              source=_venue_label(live)),
                              timestamp=np.zeros(0, np.int64),
                              **{name: np.zeros(0) for name in OHLCV})
            self.synthetic = False
        elif path.is_file():
            candles, self.synthetic = self._read(path, venue, symbol, timeframe), False
        elif synthetic_fallback and not available_symbols(Path(data_dir), venue, timeframe):
            candles = generate_synthetic(symbol=symbol, timeframe=timeframe,
                                         bars=synthetic_bars, seed=seed)
            self.synthetic = True
        else:
            raise DataNotFoundError(f"no stored bars for {venue} {symbol} {timeframe} "
                                    f"(expected {path})")
        self.source = candles.meta.source
        self._ts = candles.timestamp
        self._columns = {name: getattr(candles, name) for name in OHLCV}
        self._funding = (None if self._live is not None
                         else self._load_funding(Path(data_dir), venue, symbol, candles))
        self._good, self._error, self._error_ts = self._check(candles)
        good = self._ts[: self._good]
        on_timeline = (np.isin(good, timeline) if timeline is not None
                       else np.ones(len(good), dtype=bool))
        self._timeline_rows = np.flatnonzero(on_timeline)
        self._timeline = timeline
        self._subscribers, self._namespace = tuple(subscribers), namespace
        self._conflated = tuple(conflated)
        self._added = roster.reader() if roster is not None else None
        self._handles: dict[str, Any] = {}
        self._pushes: dict[str, Any] = {}
        self._buffer: OrderedDict[tuple[int, int, int], FeedSlice] = OrderedDict()
        self.pushed = 0
        self._lock = threading.Lock()
        self._handles_lock = threading.Lock()
        self._waiting: list[Any] = []
        self._flush = threading.Event()
        if self._conflated or self._added is not None:
            threading.Thread(target=self._conflate, args=(conflate_s,), daemon=True,
                             name="feed-conflate").start()
        self._session_id = session_id
        if not session_id:  # a probe in the driver (planning), not the session's actor
            return
        latency_critical()
        log = actor_log(session_id, f"feed {symbol}")
        log.info("feed started", source=self.source, bars=len(self._ts),
                 synthetic=self.synthetic)
        if self._error is not None:
            log.error("corrupt bar: the feed stops there", good_bars=self._good,
                      error=self._error)

    @staticmethod
    def _load_funding(data_dir: Path, venue: str, symbol: str, candles: Candles
                      ) -> np.ndarray | None:
        """Funding rates on the candles' bars, when the store has them for this pair."""
        try:
            rates = load_funding(data_dir, venue, symbol)
        except DataError:
            return None
        return align_funding(candles, rates, strict=False).candles.funding

    @staticmethod
    def _read(path: Path, venue: str, symbol: str, timeframe: str) -> Candles:
        source = str(path)
        table = read_table(path)
        meta = SeriesMeta(venue=venue, symbol=symbol, timeframe=timeframe, source=source)
        missing = [n for n in ("timestamp", *OHLCV) if n not in table.column_names]
        if missing:
            raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
        # Nulls become NaN (prices) or 0 (time) here, so that validation finds them as the
        # first corrupt bar instead of the whole file being refused.
        columns = {"timestamp": pc.fill_null(table.column("timestamp"), 0).to_numpy(
            zero_copy_only=False).astype(np.int64)}
        for name in OHLCV:
            values = pc.cast(table.column(name), pa.float64())
            columns[name] = pc.fill_null(values, float("nan")).to_numpy(zero_copy_only=False)
        return Candles(meta=meta, **columns)

    def _check(self, candles: Candles) -> tuple[int, str | None, int | None]:
        try:
            validate_candles(candles)
        except DataValidationError as exc:
            row = exc.row if exc.row is not None else 0
            before = int(self._ts[row - 1]) + self.timeframe_ms if row > 0 else 0
            error_ts = max(before, int(self._ts[row])) if row < len(self._ts) else before
            return row, str(exc), error_ts
        return len(self._ts), None, None

    def ping(self) -> str:
        """Heartbeat."""
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def info(self) -> FeedInfo:
        """What the feed holds (see :class:`FeedInfo`)."""
        ts = self._ts
        running = np.maximum.accumulate(ts) if len(ts) else ts
        increasing = np.ones(len(ts), dtype=bool)
        if len(ts) > 1:
            increasing[1:] = ts[1:] > running[:-1]
        return FeedInfo(self.symbol, self.source, self.synthetic, ts[increasing].copy(),
                        self._good, self._error, self._error_ts)

    def slice(self, start_ms: int, end_ms: int, seq: int = -1, i0: int = -1, i1: int = -1
              ) -> FeedSlice:
        """The good bars with open time in ``[start_ms, end_ms)``.

        The slice carries the feed's error when the range reaches the first corrupt bar.
        """
        if self._live is not None:
            return self._live_slice(start_ms, end_ms, seq, i0, i1, None)
        ts = self._ts[: self._good]
        lo, hi = np.searchsorted(ts, [start_ms, end_ms])
        reached = self._error_ts is not None and end_ms > self._error_ts
        rows = self._timeline_rows
        before = int(np.searchsorted(ts[rows], start_ms)) - 1
        prev_close = float(self._columns["close"][rows[before]]) if before >= 0 else None
        return FeedSlice(self.symbol, ts[lo:hi].copy(),
                         *(self._columns[name][lo:hi].copy() for name in OHLCV),
                         error=self._error if reached else None,
                         error_ts=self._error_ts if reached else None, seq=seq,
                         prev_close=prev_close, i0=i0, i1=i1,
                         funding=None if self._funding is None else
                         self._funding[:self._good][lo:hi].copy())

    def publish(self, seq: int, i0: int, i1: int, due_s: float | None = None) -> int:
        """Publish step ``seq`` (timeline ``[i0, i1)``), pushed to the subscribers.

        A slice of more than :data:`INLINE_BARS` bars goes into the object store once and
        its reference is pushed; a smaller one (a paced step's bar) travels in the push
        itself, which costs less than an object-store round trip.

        Args:
            seq: The step.
            i0: Timeline index of its first bar.
            i1: Timeline index after its last bar.
            due_s: Wall time (``time.time()``) at which the step's bars close; the slice is
                prepared now and pushed then (a paced session arms the step just ahead, so
                the session's call is not on the bar-to-order path). None = at once.

        Returns:
            The number of subscribers it was pushed to at once. A subscriber that is down
            misses the push and replays the slice when it needs it.
        """
        if self._live is None:
            part = self._buffered(seq, i0, i1)
        elif due_s is not None and due_s - time.time() >= SYNC_LEAD_S:
            self._live.sync_clock()  # the sample the close is proven from, off the bar's path
        if due_s is not None:
            wait = due_s - time.time()
            if wait > 0:
                time.sleep(wait)
        if self._live is not None:  # a live bar is read once it has closed on the venue
            part = self._buffered(seq, i0, i1, deadline_s=time.time()
                                  + self._live.spec.bar_timeout_s, steady=due_s is not None)
        ref = ray.put(part) if len(part.ts) > INLINE_BARS else part
        sent = 0
        for name in self._subscribers:
            handle = self._subscriber(name)
            if handle is None:
                continue
            try:
                pushed = handle.on_bars.remote(ref)
                self._pushes.setdefault(name, pushed)  # one tracked until it answers
                sent += 1
            except Exception:  # noqa: BLE001 - the subscriber died: look it up next time
                self._handles.pop(name, None)
        self.pushed += sent
        if self._conflated or self._added is not None:
            with self._lock:
                self._waiting.append(ref)
                if len(self._waiting) >= CONFLATE_MAX:
                    self._flush.set()
        return sent

    def _conflate(self, interval_s: float) -> None:
        while True:
            self._flush.wait(interval_s)
            self._flush.clear()
            with self._lock:
                refs, self._waiting = self._waiting, []
            if not refs:
                continue
            added = self._added() if self._added is not None else []
            for name in (*self._conflated, *added):
                handle = self._subscriber(name)
                if handle is None:
                    continue
                try:
                    pushed = handle.on_bars_many.remote(refs)
                    with self._handles_lock:
                        self._pushes.setdefault(name, pushed)
                except Exception:  # noqa: BLE001 - the subscriber died: it replays
                    self._handles.pop(name, None)

    def connect(self) -> int:
        """Resolve and ping every subscriber (before the first step: first contacts are slow).

        A live feed also loads the venue's markets and takes the first samples of its clock
        bound (:meth:`~actors.live.venue_bars.VenueBars.prepare`), so that the first bar's read
        is one request.

        Returns:
            The number of subscribers that answered.
        """
        if self._live is not None:
            self._live.prepare()
        answered = 0
        for name in (*self._subscribers, *self._conflated):
            handle = self._subscriber(name)
            if handle is not None:
                with contextlib.suppress(Exception):
                    ray.get(handle.ping.remote(), timeout=60)
                    answered += 1
        return answered

    def replay(self, seq: int, i0: int, i1: int) -> FeedSlice:
        """Step ``seq``'s slice again (from the buffer, else recomputed: the same bars)."""
        return self._buffered(seq, i0, i1)

    def _buffered(self, seq: int, i0: int, i1: int, deadline_s: float | None = None,
                  steady: bool = False) -> FeedSlice:
        key = (seq, i0, i1)
        with self._lock:
            part = self._buffer.get(key)
        if part is None:
            assert self._timeline is not None, "a publishing feed needs the session timeline"
            start = int(self._timeline[i0])
            end = int(self._timeline[i1 - 1]) + self.timeframe_ms
            part = (self._live_slice(start, end, seq, i0, i1, deadline_s, steady)
                    if self._live is not None else self.slice(start, end, seq, i0, i1))
            with self._lock:
                self._buffer[key] = part
                while len(self._buffer) > REPLAY_BUFFER:
                    self._buffer.popitem(last=False)
        return part

    def _live_slice(self, start_ms: int, end_ms: int, seq: int, i0: int, i1: int,
                    deadline_s: float | None, steady: bool = False) -> FeedSlice:
        """The venue's closed bars of ``[start_ms, end_ms)``; after a failure, none.

        The first bar the venue fails to give (missing past the deadline, corrupt, refused)
        stops the feed's good stream for good, as a corrupt stored bar does. ``steady``: the
        step was armed on the session's venue clock (a paced session; see
        :meth:`~actors.live.venue_bars.VenueBars.read`). The close before the range, when not
        cached, is read in the same request.
        """
        assert self._live is not None
        prev_close = self._live.close_before(start_ms)
        if self._live_error is not None and end_ms > self._live_error[1]:
            end_ms = max(start_ms, self._live_error[1])
            if prev_close is None:  # past the stop: the last close read is still the price
                prev_close = self._live.last_close_before(start_ms)
        part, error = self._live.slice(start_ms, end_ms, seq, i0, i1, deadline_s, prev_close,
                                       steady=steady)
        if error is not None and self._live_error is None:
            self._live_error = (error, int(part.error_ts or start_ms))
            self._log_error(error)
        if self._live_error is not None:
            part = dataclasses.replace(part, error=self._live_error[0],
                                       error_ts=self._live_error[1])
        return part

    def _log_error(self, error: str) -> None:
        if self._session_id:
            actor_log(self._session_id, f"feed {self.symbol}").error(
                "the venue's bars stopped: the feed stops there", error=error)

    def _subscriber(self, name: str) -> Any:
        with self._handles_lock:
            return self._resolve(name)

    def _resolve(self, name: str) -> Any:
        previous = self._pushes.get(name)
        if previous is not None:
            ready, _ = ray.wait([previous], timeout=0)
            if ready:
                del self._pushes[name]
                try:
                    ray.get(ready[0])
                except Exception:  # noqa: BLE001 - its actor died: resolve the name again
                    self._handles.pop(name, None)
        if name not in self._handles:
            try:
                self._handles[name] = ray.get_actor(name, namespace=self._namespace)
            except ValueError:
                return None
        return self._handles[name]

    def stop(self) -> None:
        """Nothing to flush: a feed holds no hard state."""

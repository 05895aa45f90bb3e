"""Closed bars read from a venue through ccxt: the source of a PAPER / LIVE feed.

A live feed publishes step ``seq`` when its bar has closed on the venue. :class:`VenueBars`
reads the closed candles of a time range with ``fetch_ohlcv`` (Binance ``klines``) and
polls until every bar of the range is there, or a deadline passes:

- a candle is *closed* when the venue's clock has reached its close; the still-forming
  candle Binance returns last is never served. The venue's clock is known from below by
  three proofs: its last answer to a time request (``fetch_time``); the open time of the
  newest candle it lists (a venue lists no candle before it opens, so every candle listed
  before it has closed: the range is read with one candle more); and, for a *steady* read
  (a paced session, whose premise is a venue clock running at a steady rate), a
  :class:`VenueClockBound` extrapolated from the time answers. A candle none of them proves
  closed costs one more time request;
- a steady read of a bar that just closed waits until the bound proves the close (a
  millisecond or two), then reads it with a single request; the feed takes the time sample
  the bound runs from just before the close (:meth:`VenueBars.sync_clock`), off the
  bar-to-order path;
- temporary errors (network, 5xx, 429) are retried until the deadline; the venue's
  ``Retry-After`` is obeyed;
- a bar still missing at the deadline, a corrupt bar (NaN, high < low, non-positive price)
  or a permanent error ends the feed's good stream: the slice carries the error, the feed
  serves nothing after it, and the guardian's stale-data breaker takes over (fail closed).

Bars read are cached (bounded) by open time, so replays and history requests after a
restart read the venue's history again only for what the cache no longer holds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from actors.adapters.ccxt_errors import ccxt_errors, make_exchange
from actors.live.venue_spec import VenueFeedSpec
from core.errors import ExchangeError, PermanentExchangeError, RateLimitError
from core.trading.align import FeedSlice

CACHE_BARS = 20_000
"""Bars a live feed keeps in memory."""
MAX_KLINES = 1000
"""Binance's largest ``klines`` page."""
CLOCK_DRIFT = 1e-3
"""Relative rate error allowed between the venue's clock and ours when extrapolating (NTP
slews each clock by at most 500 ppm)."""
MIN_SPAN_S = 0.05
"""Least wall time between two time answers a clock rate is measured from."""
MAX_RATE_GAIN = 1.05
"""A time answer further ahead of the last one than the measured rate allows, by this factor,
means the venue's clock jumped forward: the rate is measured again."""
CLOSE_WAIT_S = 0.01
"""Longest a steady read waits for the clock bound to prove its bars closed; past it, the
read asks the venue's time instead (a second request, ~10 ms with ccxt's throttle)."""

Row = tuple[float, float, float, float, float]
Sample = tuple[float, float, int]
"""A time answer: (sent, answered) on our monotonic clock, the venue's ms."""


class VenueClockBound:
    """A lower bound of the venue's clock, from its answers to time requests.

    The venue's answer ``v`` to a request sent at ``s`` and answered at ``r`` (our monotonic
    clock) was true at some instant in ``[s, r]``, so at any ``t >= r`` the venue's clock
    reads at least ``v``. Two answers also bound the venue's rate from below (``(v2 - v1) /
    (r2 - s1)``); the smaller of the rates since the first answer and over the last two
    answers, less :data:`CLOCK_DRIFT`, extrapolates the last answer (three answers at least,
    so that one jump of the clock between two of them cannot inflate both). This holds only
    for a clock that runs steadily (a real venue, a paced emulator), which is why only
    steady reads use the extrapolation. An answer below the bound (a clock slower than
    bounded, or stepped back) or far above it (a jump, see :data:`MAX_RATE_GAIN`) discards
    the rate until three answers measure it again.

    Args:
        monotonic: Our clock in seconds.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self._first: Sample | None = None  # the answer the long rate starts from
        self._prev: Sample | None = None  # the answer before the newest
        self._last: Sample | None = None  # the newest answer
        self._count = 0  # answers since the rate was last discarded
        self.resets = 0

    def observe(self, sent_s: float, answered_s: float, venue_ms: int) -> None:
        """Record the venue's answer ``venue_ms`` to a time request sent and answered then."""
        if self._last is not None:
            floor, rate = self.lower_ms(sent_s), self.rate()
            gained_max = (None if rate is None
                          else (answered_s - self._last[0]) * rate * MAX_RATE_GAIN)
            if venue_ms < self._last[2] or (floor is not None and venue_ms < floor) or (
                    gained_max is not None and venue_ms - self._last[2] > gained_max):
                self._first, self._last, self._count = None, None, 0
                self.resets += 1
        sample = (sent_s, answered_s, int(venue_ms))
        if self._first is None:
            self._first = sample
        self._prev, self._last = self._last, sample
        self._count += 1

    def rate(self) -> float | None:
        """Venue ms per wall second, from below (None until three answers measure it)."""
        if self._count < 3 or self._last is None:
            return None
        rates = []
        for start in (self._first, self._prev):
            if start is None:
                continue
            span, gained = self._last[1] - start[0], self._last[2] - start[2]
            if span >= MIN_SPAN_S and gained > 0:
                rates.append(gained / span)
        return min(rates) * (1.0 - CLOCK_DRIFT) if rates else None

    def lower_ms(self, at_s: float) -> int | None:
        """The least the venue's clock can read at ``at_s`` (our clock), or None if unknown.

        Known only with a measured rate, and from the newest answer on.
        """
        rate = self.rate()
        if rate is None or self._last is None or at_s < self._last[1]:
            return None
        return self._last[2] + int((at_s - self._last[1]) * rate)

    def seconds_until(self, venue_ms: int) -> float | None:
        """Wall seconds until the bound reaches ``venue_ms`` (0 if it has; None: unknown)."""
        now = self.monotonic()
        lower, rate = self.lower_ms(now), self.rate()
        if lower is None or rate is None:
            return None
        return max(0.0, (venue_ms - lower) / rate)


class VenueBars:
    """Closed candles of one symbol on a venue (see the module doc).

    Args:
        spec: Where and how to read.
        symbol: Instrument.
        timeframe_ms: Bar length.
        exchange: A ccxt exchange (None: built from ``spec``; tests inject one).
        sleep: Sleep function.
        clock: The venue clock's bound (None: a fresh one on :func:`time.monotonic`).
    """

    def __init__(self, spec: VenueFeedSpec, symbol: str, timeframe_ms: int,
                 exchange: object | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: VenueClockBound | None = None) -> None:
        self.spec, self.symbol, self.timeframe_ms = spec, symbol, int(timeframe_ms)
        self._ex = exchange if exchange is not None else make_exchange(
            spec.exchange_id, api_url=spec.api_url, timeout_ms=spec.timeout_ms)
        self._sleep = sleep
        self.clock = clock if clock is not None else VenueClockBound()
        self._rows: OrderedDict[int, Row] = OrderedDict()
        self._venue_ms = 0
        self._lock = threading.RLock()  # the feed's threads share the exchange and the cache

    def venue_now_ms(self) -> int:
        """The venue's clock (one time request; the answer also feeds :attr:`clock`).

        Raises:
            ExchangeError: The venue did not answer (translated ccxt error).
        """
        with self._lock:
            sent = self.clock.monotonic()
            with ccxt_errors(f"fetch_time {self.symbol}", exchange=self._ex):
                venue_ms = int(self._ex.fetch_time())
            self.clock.observe(sent, self.clock.monotonic(), venue_ms)
            self._venue_ms = venue_ms
            return venue_ms

    def sync_clock(self) -> bool:
        """Read the venue's time for :attr:`clock` (before a close); False if it failed."""
        try:
            self.venue_now_ms()
        except ExchangeError:
            return False
        return True

    def prepare(self) -> bool:
        """Get ready for the first bar, off its path; False if a request failed.

        Loads the venue's markets (ccxt reads them before its first candle request) and reads
        the venue's time twice, :data:`MIN_SPAN_S` apart (the clock bound's first samples: the
        one before the first close makes three).
        """
        try:
            with self._lock, ccxt_errors(f"load_markets {self.symbol}", exchange=self._ex):
                self._ex.load_markets()
            loaded = True
        except ExchangeError:
            loaded = False
        synced = self.sync_clock()
        self._sleep(MIN_SPAN_S)
        return self.sync_clock() and synced and loaded

    def read(self, start_ms: int, end_ms: int, deadline_s: float | None = None, *,
             steady: bool = False, before: bool = False
             ) -> tuple[dict[int, Row], str | None]:
        """The closed bars with open time in ``[start_ms, end_ms)``, waiting for them.

        Args:
            start_ms: First open time wanted.
            end_ms: Exclusive end.
            deadline_s: Wall time (``time.time()``) to give up waiting (None: one read).
            steady: The venue's clock runs steadily (a paced session): :attr:`clock`'s
                extrapolation proves closes, and the read first waits (at most
                :data:`CLOSE_WAIT_S`) until it proves the range's end.
            before: Also read the bar before ``start_ms`` if it is not cached (in the same
                request; its absence is no error).

        Returns:
            ``({open time: (o, h, l, c, v)}, error)``: every bar of the range and no error,
            or what was there and why the rest is not.
        """
        wanted = range(start_ms, end_ms, self.timeframe_ms)
        lead = start_ms - self.timeframe_ms
        lead_missing = before and self.close_before(start_ms) is None
        if steady and len(wanted):
            self._await_close(end_ms)
        while True:
            have = self._have(wanted)
            if len(have) == len(wanted):
                return have, None
            try:
                self._fetch(lead if lead_missing else _first_gap(wanted, have), end_ms, steady)
            except PermanentExchangeError as exc:
                return self._have(wanted), f"venue refused the bars of {self.symbol}: {exc}"
            except ExchangeError as exc:
                if deadline_s is None or time.time() >= deadline_s:
                    return self._have(wanted), (f"no answer from the venue for {self.symbol} "
                                                f"bars: {exc}")
                wait = getattr(exc, "retry_after_s", None) if isinstance(
                    exc, RateLimitError) else None
                self._sleep(max(self.spec.poll_s, float(wait or 0.0)))
                continue
            lead_missing = False  # one try for the bar before
            have = self._have(wanted)
            if len(have) == len(wanted):
                continue
            if deadline_s is None or time.time() >= deadline_s:
                return have, (f"the venue did not list the closed {self.symbol} bar at "
                              f"{_first_gap(wanted, have)} within "
                              f"{self.spec.bar_timeout_s:g}s of its close")
            self._sleep(self.spec.poll_s)

    def _await_close(self, close_ms: int) -> None:
        """Sleep until :attr:`clock` proves ``close_ms`` passed, if that comes soon."""
        wait = self.clock.seconds_until(close_ms)
        if wait is not None and 0.0 < wait <= CLOSE_WAIT_S:
            self._sleep(wait + 1e-4)

    def _have(self, wanted: range) -> dict[int, Row]:
        with self._lock:
            return {t: self._rows[t] for t in wanted if t in self._rows}

    def _fetch(self, since_ms: int, end_ms: int, steady: bool = False) -> None:
        """Read candles from ``since_ms`` (one more than the range) and keep the closed ones.

        A candle is kept when one of the module doc's proofs says it closed; a wanted one
        none proves costs a time request.
        """
        with self._lock:
            self._fetch_locked(since_ms, end_ms, steady)

    def _fetch_locked(self, since_ms: int, end_ms: int, steady: bool) -> None:
        tf = self.timeframe_ms
        limit = min(MAX_KLINES, max(1, (end_ms - since_ms) // tf) + 1)
        sent = self.clock.monotonic()
        with ccxt_errors(f"fetch_ohlcv {self.symbol}", exchange=self._ex):
            rows = self._ex.fetch_ohlcv(self.symbol, self.spec.timeframe, since_ms, limit)
        bound = self.clock.lower_ms(sent) if steady else None
        # a listed candle has opened; only those up to the one after the range were asked for
        listed = [int(row[0]) for row in rows if int(row[0]) <= end_ms]
        closed = max([self._venue_ms, bound or 0, *listed])
        if any(since_ms <= int(row[0]) < end_ms and closed < int(row[0]) + tf for row in rows):
            closed = max(closed, self.venue_now_ms())  # is the last one still forming?
        for row in rows:
            ts = int(row[0])
            if ts + tf > closed or ts < since_ms:
                continue
            self._rows[ts] = tuple(float(v) if v is not None else float("nan")
                                   for v in row[1:6])  # type: ignore[assignment]
            self._rows.move_to_end(ts)
        while len(self._rows) > CACHE_BARS:
            self._rows.popitem(last=False)

    def slice(self, start_ms: int, end_ms: int, seq: int, i0: int, i1: int,
              deadline_s: float | None, prev_close: float | None, *, steady: bool = False
              ) -> tuple[FeedSlice, str | None]:
        """A :class:`FeedSlice` of ``[start_ms, end_ms)`` (waiting until ``deadline_s``).

        Args:
            start_ms: First open time.
            end_ms: Exclusive end.
            seq: The step.
            i0: Timeline index of the first bar.
            i1: Timeline index after the last bar.
            deadline_s: Wall time to give up waiting (None: one read).
            prev_close: The close before ``start_ms`` (None: the bar before is read in the
                same request, if it is not cached, and its close used).
            steady: See :meth:`read`.

        Returns:
            The slice of the bars there (before any corrupt one) and the error that ends the
            feed's good stream, if any.
        """
        bars, error = self.read(start_ms, end_ms, deadline_s, steady=steady,
                                before=prev_close is None and start_ms > 0)
        if prev_close is None:
            prev_close = self.close_before(start_ms)
        times = sorted(bars)
        good: list[int] = []
        expected = start_ms
        for ts in times:
            o, h, lo, c, v = bars[ts]
            bad = not all(np.isfinite((o, h, lo, c, v))) or min(o, h, lo, c) <= 0 or h < lo \
                or v < 0 or not lo <= min(o, c) or max(o, c) > h
            if ts != expected or bad:
                error = error or (f"corrupt {self.symbol} bar at {ts} from the venue" if bad
                                  else f"the venue skipped the {self.symbol} bar at {expected}")
                break
            good.append(ts)
            expected += self.timeframe_ms
        arrays = np.array([bars[t] for t in good], dtype=np.float64).reshape(len(good), 5)
        error_ts = (good[-1] + self.timeframe_ms if good else start_ms) if error else None
        part = FeedSlice(self.symbol, np.array(good, dtype=np.int64), *arrays.T.copy(),
                         error=error, error_ts=error_ts, seq=seq, prev_close=prev_close,
                         i0=i0, i1=i1)
        return part, error

    def close_before(self, ts: int) -> float | None:
        """The close of the bar before ``ts`` if it was read, else None."""
        with self._lock:
            row = self._rows.get(ts - self.timeframe_ms)
        return row[3] if row is not None else None

    def last_close_before(self, ts: int) -> float | None:
        """The close of the last bar read that opened before ``ts`` (None: none was read).

        The price in force at ``ts`` for a feed that stopped earlier: its later steps carry
        no bar, and their subscribers forward-fill from this close.
        """
        with self._lock:
            earlier = [t for t in self._rows if t < ts]
            return self._rows[max(earlier)][3] if earlier else None


def _first_gap(wanted: range, have: dict[int, Row]) -> int:
    """The first open time of ``wanted`` not in ``have`` (there is one)."""
    return next(t for t in wanted if t not in have)

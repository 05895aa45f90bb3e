"""Closed bars read from a venue through ccxt: the source of a PAPER / LIVE feed.

A live feed publishes step ``seq`` when its bar has closed on the venue. :class:`VenueBars`
reads the closed candles of a time range with ``fetch_ohlcv`` (Binance ``klines``) and
polls until every bar of the range is there, or a deadline passes:

- a candle is *closed* when the venue's own clock (``fetch_time``) has reached its close; the
  still-forming candle Binance returns last is never served;
- temporary errors (network, 5xx, 429) are retried until the deadline; the venue's
  ``Retry-After`` is obeyed;
- a bar still missing at the deadline, a corrupt bar (NaN, high < low, non-positive price)
  or a permanent error ends the feed's good stream: the slice carries the error, the feed
  serves nothing after it, and the guardian's stale-data breaker takes over (fail closed).

Bars read are cached (bounded) by open time, so replays and history requests after a
restart read the venue's history again only for what the cache no longer holds.
"""

from __future__ import annotations

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


class VenueBars:
    """Closed candles of one symbol on a venue (see the module doc).

    Args:
        spec: Where and how to read.
        symbol: Instrument.
        timeframe_ms: Bar length.
        exchange: A ccxt exchange (None: built from ``spec``; tests inject one).
        sleep: Sleep function.
    """

    def __init__(self, spec: VenueFeedSpec, symbol: str, timeframe_ms: int,
                 exchange: object | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec, self.symbol, self.timeframe_ms = spec, symbol, int(timeframe_ms)
        self._ex = exchange if exchange is not None else make_exchange(
            spec.exchange_id, api_url=spec.api_url, timeout_ms=spec.timeout_ms)
        self._sleep = sleep
        self._rows: OrderedDict[int, tuple[float, float, float, float, float]] = OrderedDict()
        self._venue_ms = 0

    def venue_now_ms(self) -> int:
        """The venue's clock.

        Raises:
            ExchangeError: The venue did not answer (translated ccxt error).
        """
        with ccxt_errors(f"fetch_time {self.symbol}", exchange=self._ex):
            self._venue_ms = int(self._ex.fetch_time())
        return self._venue_ms

    def read(self, start_ms: int, end_ms: int, deadline_s: float | None = None
             ) -> tuple[dict[int, tuple[float, float, float, float, float]], str | None]:
        """The closed bars with open time in ``[start_ms, end_ms)``, waiting for them.

        Args:
            start_ms: First open time wanted.
            end_ms: Exclusive end.
            deadline_s: Wall time (``time.time()``) to give up waiting (None: one read).

        Returns:
            ``({open time: (o, h, l, c, v)}, error)``: every bar of the range and no error,
            or what was there and why the rest is not.
        """
        wanted = range(start_ms, end_ms, self.timeframe_ms)
        while True:
            missing = [t for t in wanted if t not in self._rows]
            if not missing:
                return {t: self._rows[t] for t in wanted}, None
            try:
                self._fetch(missing[0], end_ms)
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
            if all(t in self._rows for t in wanted):
                continue
            if deadline_s is None or time.time() >= deadline_s:
                gone = [t for t in wanted if t not in self._rows]
                return self._have(wanted), (f"the venue did not list the closed {self.symbol} "
                                            f"bar at {gone[0]} within "
                                            f"{self.spec.bar_timeout_s:g}s of its close")
            self._sleep(self.spec.poll_s)

    def _have(self, wanted: range) -> dict[int, tuple[float, float, float, float, float]]:
        return {t: self._rows[t] for t in wanted if t in self._rows}

    def _fetch(self, since_ms: int, end_ms: int) -> None:
        """Read candles from ``since_ms`` and keep those that have closed."""
        limit = min(MAX_KLINES, max(1, (end_ms - since_ms) // self.timeframe_ms))
        with ccxt_errors(f"fetch_ohlcv {self.symbol}", exchange=self._ex):
            rows = self._ex.fetch_ohlcv(self.symbol, self.spec.timeframe, since_ms, limit)
        if rows and int(rows[-1][0]) + self.timeframe_ms > self._venue_ms:
            self.venue_now_ms()  # is the last one still forming?
        for row in rows:
            ts = int(row[0])
            if ts + self.timeframe_ms > self._venue_ms or ts < since_ms:
                continue
            self._rows[ts] = tuple(float(v) if v is not None else float("nan")
                                   for v in row[1:6])  # type: ignore[assignment]
            self._rows.move_to_end(ts)
        while len(self._rows) > CACHE_BARS:
            self._rows.popitem(last=False)

    def slice(self, start_ms: int, end_ms: int, seq: int, i0: int, i1: int,
              deadline_s: float | None, prev_close: float | None) -> tuple[FeedSlice, str | None]:
        """A :class:`FeedSlice` of ``[start_ms, end_ms)`` (waiting until ``deadline_s``).

        Returns:
            The slice of the bars there (before any corrupt one) and the error that ends the
            feed's good stream, if any.
        """
        bars, error = self.read(start_ms, end_ms, deadline_s)
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
        row = self._rows.get(ts - self.timeframe_ms)
        return row[3] if row is not None else None

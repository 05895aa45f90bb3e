"""Download OHLCV history through ccxt into a :class:`ParquetStore`, resumably.

:class:`OhlcvDownloader` pages through ``fetch_ohlcv`` from the last stored bar (or ``since``),
retries temporary errors with backoff (ccxt's own throttle keeps to the venue's rate limit),
drops the still-forming last candle, and flushes fetched bars to the store every few pages
and always before an error propagates — a crash loses nothing already fetched, and the next
run resumes where this one stopped.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ccxt
import numpy as np
from tqdm import tqdm

from actors.adapters.ccxt_errors import ccxt_errors, make_exchange
from actors.adapters.parquet_store import ParquetStore
from actors.adapters.retry import RetryPolicy
from core.data.candles import Candles, SeriesMeta
from core.data.gaps import GapReport, find_gaps
from core.data.naming import parse_symbol
from core.data.timeframes import timeframe_to_ms
from core.data.validation import validate_candles
from core.errors import DataError, DataValidationError, TemporaryExchangeError

__all__ = ["DownloadReport", "OhlcvDownloader", "make_exchange"]

T = TypeVar("T")
_NO_GAPS = GapReport(0, 0, 0, None, None, ())


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What one :meth:`OhlcvDownloader.download` call did.

    Attributes:
        venue: Store venue token.
        symbol: ccxt symbol.
        timeframe: Bar length.
        path: The series file in the store.
        start_ms: Where fetching started (``since``, or after the last stored bar).
        until_ms: Exclusive upper bound on open times.
        resumed: True when stored bars moved the start past ``since``.
        added: Bars written to the store.
        skipped: Fetched bars already stored identically.
        pages: ``fetch_ohlcv`` calls that returned (including the final empty page).
        first_ms: Open time of the first bar fetched, or None.
        last_ms: Open time of the last bar fetched, or None.
        dropped_forming: Still-forming candles dropped (open time + timeframe > now).
        gaps: Missing bars in the fetched range (joined to the last bar stored before it).
        retry_log: One line per retried failure (error and delay).
    """

    venue: str
    symbol: str
    timeframe: str
    path: Path
    start_ms: int
    until_ms: int
    resumed: bool
    added: int
    skipped: int
    pages: int
    first_ms: int | None
    last_ms: int | None
    dropped_forming: int
    gaps: GapReport = field(default=_NO_GAPS)
    retry_log: tuple[str, ...] = ()

    @property
    def retries(self) -> int:
        """Number of retried failures (temporary errors, rate limits)."""
        return len(self.retry_log)

    def summary(self) -> str:
        """One line for humans."""
        def iso(ms: int | None) -> str:
            return "-" if ms is None else str(np.datetime64(ms, "ms"))[:16].replace("T", " ")

        span = "no new bars" if self.first_ms is None else (
            f"{iso(self.first_ms)} -> {iso(self.last_ms)}")
        start = f"resumed at {iso(self.start_ms)}" if self.resumed else f"from {iso(self.start_ms)}"
        return (
            f"{self.venue} {self.symbol} {self.timeframe}: +{self.added} bars ({span}), {start}, "
            f"{self.pages} pages, {self.retries} retries, gaps: {self.gaps.describe()} "
            f"-> {self.path}"
        )


class OhlcvDownloader:
    """Paginated, resumable OHLCV download from a ccxt exchange into a Parquet store."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        store: ParquetStore,
        *,
        page_limit: int = 1000,
        retry: RetryPolicy | None = None,
        progress: bool | None = None,
        flush_every: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        now_ms: Callable[[], int] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """Create a downloader.

        Args:
            exchange: A ccxt exchange (see :func:`make_exchange`).
            store: Where bars go (and where resuming looks).
            page_limit: Bars requested per ``fetch_ohlcv`` call.
            retry: Retry policy for temporary errors.
            progress: Show a tqdm bar; None shows it only when stderr is a terminal.
            flush_every: Pages between writes to the store.
            sleep: Sleep used between retries (injected in tests).
            now_ms: The clock; defaults to ``exchange.milliseconds``.
            log: Receives one line per retry.
        """
        if page_limit < 1 or flush_every < 1:
            raise ValueError("page_limit and flush_every must be >= 1")
        self._exchange = exchange
        self._store = store
        self._page_limit = page_limit
        self._retry = retry or RetryPolicy()
        self._progress = progress
        self._flush_every = flush_every
        self._sleep = sleep
        self._now = now_ms or exchange.milliseconds
        self._log = log

    def _call(self, fn: Callable[[], T], context: str, retry_log: list[str]) -> T:
        def attempt() -> T:
            with ccxt_errors(context, exchange=self._exchange):
                return fn()

        def on_retry(failure: int, error: TemporaryExchangeError, delay: float) -> None:
            line = f"retry {failure} in {delay:g}s after {error}"
            retry_log.append(line)
            if self._log is not None:
                self._log(line)

        return self._retry.call(attempt, sleep=self._sleep, on_retry=on_retry)

    def prepare(self, symbol: str, timeframe: str, retry_log: list[str] | None = None) -> None:
        """Load markets and check that the venue lists ``symbol`` and offers ``timeframe``.

        Raises:
            PermanentExchangeError: For a symbol the venue does not list (``BadSymbol``).
            DataError: For a timeframe the venue does not offer.
        """
        log = [] if retry_log is None else retry_log
        self._call(self._exchange.load_markets, f"load_markets {self._exchange.id}", log)
        self._call(lambda: self._exchange.market(symbol), f"market {symbol}", log)
        offered = getattr(self._exchange, "timeframes", None) or {}
        if offered and timeframe not in offered:
            raise DataError(f"{self._exchange.id} does not offer timeframe {timeframe!r}; "
                            f"offered: {', '.join(offered)}")

    def download(
        self,
        symbol: str,
        timeframe: str,
        since_ms: int,
        until_ms: int | None = None,
        *,
        venue: str | None = None,
    ) -> DownloadReport:
        """Fetch bars with open times in ``[max(since, last stored + tf), until)`` into the store.

        ``until_ms`` defaults to the exchange's current time; the still-forming candle is
        never stored.

        Raises:
            PermanentExchangeError: At once (e.g. unknown symbol); fetched bars are stored.
            TemporaryExchangeError: When retries are exhausted; fetched bars are stored.
            DataError: If the venue returns corrupt bars or bars contradicting stored ones.
        """
        tf_ms = timeframe_to_ms(timeframe)
        parse_symbol(symbol)
        venue = (venue or self._exchange.id).upper()
        retry_log: list[str] = []
        self.prepare(symbol, timeframe, retry_log)
        now = int(self._now())
        end = now if until_ms is None else int(until_ms)
        last_stored = self._store.last_timestamp(venue, symbol, timeframe)
        start = since_ms if last_stored is None else max(since_ms, last_stored + tf_ms)
        meta = SeriesMeta(venue=venue, symbol=symbol, timeframe=timeframe,
                          source=f"{self._exchange.id} fetch_ohlcv {symbol} {timeframe}")
        state = _State(self._store, meta)
        bar = tqdm(total=max(0, math.ceil((end - start) / tf_ms)), unit="bar",
                   desc=f"{venue} {symbol} {timeframe}", disable=self._progress_disabled(),
                   leave=True)
        context = f"fetch_ohlcv {symbol} {timeframe}"
        try:
            cursor = start
            while cursor < end:
                rows = self._call(
                    functools.partial(self._exchange.fetch_ohlcv, symbol, timeframe,
                                      since=cursor, limit=self._page_limit),
                    f"{context} since {cursor}", retry_log,
                )
                state.pages += 1
                if not rows:
                    break
                rows = [row for row in rows if row[0] >= cursor]
                if not rows:
                    raise DataError(f"{context}: the venue answered since={cursor} with older "
                                    "bars only; refusing to loop")
                usable = [row for row in rows if row[0] < end and row[0] + tf_ms <= now]
                state.dropped_forming += sum(
                    1 for row in rows if row[0] < end and row[0] + tf_ms > now)
                state.buffer.extend(usable)
                bar.update(len(usable))
                cursor = int(rows[-1][0]) + tf_ms
                if len(usable) < len(rows):
                    break
                if state.pages % self._flush_every == 0:
                    state.flush()
            bar.total = bar.n  # the venue's history may end before ``until``: show 100 %
        except BaseException as error:
            state.flush_after(error)
            raise
        finally:
            bar.close()
        state.flush()
        return DownloadReport(
            venue=venue, symbol=symbol, timeframe=timeframe,
            path=self._store.path_for(venue, symbol, timeframe), start_ms=start, until_ms=end,
            resumed=last_stored is not None and start > since_ms, added=state.added,
            skipped=state.skipped, pages=state.pages,
            first_ms=state.first_ms, last_ms=state.last_ms,
            dropped_forming=state.dropped_forming,
            gaps=self._gaps(venue, symbol, timeframe, state, last_stored, tf_ms),
            retry_log=tuple(retry_log),
        )

    def _progress_disabled(self) -> bool | None:
        return None if self._progress is None else not self._progress

    def _gaps(self, venue: str, symbol: str, timeframe: str, state: _State,
              last_stored: int | None, tf_ms: int) -> GapReport:
        if state.first_ms is None or state.last_ms is None:
            return _NO_GAPS
        lower = state.first_ms if last_stored is None else min(state.first_ms, last_stored)
        window = self._store.read(venue, symbol, timeframe, start_ms=lower,
                                  end_ms=state.last_ms + tf_ms)
        return find_gaps(window)


class _State:
    """Bars fetched but not yet stored, and the running counters of one download."""

    def __init__(self, store: ParquetStore, meta: SeriesMeta) -> None:
        self.store, self.meta = store, meta
        self.buffer: list[list[Any]] = []
        self.pages = self.added = self.skipped = self.dropped_forming = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None

    def flush(self) -> None:
        """Store the buffered bars and clear the buffer; a failed batch is reported once.

        On corrupt bars, the valid bars before the first corrupt one are still stored, so a
        rerun resumes exactly at the bar the venue got wrong.
        """
        if not self.buffer:
            return
        rows, self.buffer = self.buffer, []
        try:
            timestamp = np.array([row[0] for row in rows], dtype=np.int64)
            values = np.array([row[1:6] for row in rows], dtype=np.float64)
        except (TypeError, ValueError, IndexError) as exc:
            raise DataError(f"{self.meta.source}: malformed OHLCV rows: {exc}") from exc
        if values.shape != (len(rows), 5):
            raise DataError(f"{self.meta.source}: expected [ts, o, h, l, c, v] rows")
        candles = Candles(timestamp=timestamp, open=values[:, 0], high=values[:, 1],
                          low=values[:, 2], close=values[:, 3], volume=values[:, 4],
                          meta=self.meta)
        try:
            validate_candles(candles)
        except DataValidationError as exc:
            if exc.row:
                self._append(candles.take(slice(0, exc.row)))
            raise
        self._append(candles)

    def _append(self, candles: Candles) -> None:
        result = self.store.append(candles)
        self.added += result.added
        self.skipped += result.skipped_duplicates
        if self.first_ms is None:
            self.first_ms = int(candles.timestamp[0])
        self.last_ms = int(candles.timestamp[-1])

    def flush_after(self, error: BaseException) -> None:
        """Flush while ``error`` propagates; a flush failure is attached as a note."""
        pending = len(self.buffer)
        try:
            self.flush()
        except Exception as flush_error:  # the original error stays the one raised
            error.add_note(f"could not store {pending} fetched bars: {flush_error}")

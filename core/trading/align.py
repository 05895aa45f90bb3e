"""Put the bars of several feeds onto one session timeline (pure).

The session timeline is the set of bar open times every feed has (as the backtester's
``MarketArrays.from_candles`` aligns on common bars). A feed that stopped on a corrupt bar
has no rows after it: its column is forward-filled from its last good close with zero volume
and the symbol is reported as stale, so the risk guardian denies orders on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import FeedNeverStartedError
from core.trading.messages import MarketBatch


@dataclass(frozen=True, slots=True, eq=False)
class FeedSlice:
    """The good bars one feed has in a time range, and its error once it has stopped.

    Attributes:
        symbol: Instrument.
        ts: Bar open times (strictly increasing).
        open: Opens.
        high: Highs.
        low: Lows.
        close: Closes.
        volume: Volumes.
        error: Why the feed stopped (first corrupt bar), or None while it is healthy.
        error_ts: Time from which the feed has no more good bars (None while healthy).
        seq: The feed's sequence number of this slice (the session step it serves; -1 for a
            slice that is not part of the published stream).
        prev_close: Close of the feed's last good bar on the session timeline before ``ts``
            (what a stopped feed is forward-filled with), None if there is none.
        i0: Timeline index of the step's first bar (-1 when not a published step).
        i1: Timeline index after the step's last bar.
        funding: Funding rate settled at each bar's open (perpetuals), or None.
    """

    symbol: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    error: str | None = None
    error_ts: int | None = None
    seq: int = -1
    prev_close: float | None = None
    i0: int = -1
    i1: int = -1
    funding: np.ndarray | None = None


def common_timeline(timestamps: Sequence[np.ndarray], start_ms: int | None,
                    until_ms: int | None) -> np.ndarray:
    """Bar times present in every series, within ``[start_ms, until_ms)``.

    Args:
        timestamps: Strictly increasing bar open times per feed.
        start_ms: First time kept (None = no bound).
        until_ms: First time no longer kept (None = no bound).

    Returns:
        int64 array, strictly increasing.
    """
    if not timestamps:
        return np.empty(0, dtype=np.int64)
    common = np.asarray(timestamps[0], dtype=np.int64)
    for ts in timestamps[1:]:
        common = np.intersect1d(common, np.asarray(ts, dtype=np.int64), assume_unique=True)
    keep = np.ones(common.shape[0], dtype=bool)
    if start_ms is not None:
        keep &= common >= start_ms
    if until_ms is not None:
        keep &= common < until_ms
    return common[keep]


def align_batch(seq: int, start: int, timeline: np.ndarray, slices: Sequence[FeedSlice],
                venue: str, timeframe_ms: int, last_close: Sequence[float | None]
                ) -> tuple[MarketBatch, dict[str, str]]:
    """Build one :class:`MarketBatch` on ``timeline`` from per-feed slices.

    Args:
        seq: Batch number.
        start: Session-wide index of ``timeline[0]``.
        timeline: Bar times of this batch.
        slices: One slice per symbol, in column order, covering ``timeline``.
        venue: Venue label.
        timeframe_ms: Bar length.
        last_close: Per symbol, the close of the bar before ``timeline[0]`` (None at the
            very start), used to forward-fill a stopped feed.

    Returns:
        The batch and ``{symbol: reason}`` for every symbol that has missing bars in it
        (stopped feed); those columns are flat at the last good close with zero volume.

    Raises:
        ValueError: A healthy feed misses a timeline bar (the timeline was built wrongly),
            or a stopped feed has no price to fill with.
    """
    n, k = timeline.shape[0], len(slices)
    columns = {name: np.empty((n, k)) for name in ("open", "high", "low", "close", "volume")}
    stale: dict[str, str] = {}
    for j, part in enumerate(slices):
        position = np.searchsorted(part.ts, timeline)
        found = position < part.ts.shape[0]
        found[found] = part.ts[position[found]] == timeline[found]
        if found.all():
            for name in columns:
                columns[name][:, j] = getattr(part, name)[position]
            continue
        if part.error is None:
            missing = int(timeline[~found][0])
            raise ValueError(f"feed {part.symbol} has no bar at {missing} although it is on "
                             "the session timeline")
        stale[part.symbol] = part.error
        _fill_stopped(columns, j, part, position, found, last_close[j])
    arrays = {name: _readonly(values) for name, values in columns.items()}
    funding = None
    if any(part.funding is not None for part in slices):
        rates = np.zeros((n, k))
        for j, part in enumerate(slices):
            if part.funding is not None and part.ts.shape[0]:
                position = np.searchsorted(part.ts, timeline)
                found = position < part.ts.shape[0]
                found[found] = part.ts[position[found]] == timeline[found]
                rates[found, j] = part.funding[position[found]]
        funding = _readonly(rates)
    return MarketBatch(seq=seq, start=start, venue=venue,
                       symbols=tuple(s.symbol for s in slices), timeframe_ms=timeframe_ms,
                       ts=_readonly(np.asarray(timeline, dtype=np.int64)), funding=funding,
                       **arrays), stale


def _fill_stopped(columns: dict[str, np.ndarray], j: int, part: FeedSlice,
                  position: np.ndarray, found: np.ndarray, previous: float | None) -> None:
    """Real bars where the feed has them, then flat bars at the last good close."""
    close = np.empty(found.shape[0])
    last = previous
    for i in range(found.shape[0]):
        if found[i]:
            last = float(part.close[position[i]])
        if last is None:
            raise FeedNeverStartedError(f"feed {part.symbol} stopped before its first bar: "
                                        f"{part.error}")
        close[i] = last
    for name in ("open", "high", "low", "close"):
        values = np.where(found, getattr(part, name)[np.minimum(position, max(
            part.ts.shape[0] - 1, 0))] if part.ts.shape[0] else close, close)
        columns[name][:, j] = values
    volume = part.volume[np.minimum(position, max(part.ts.shape[0] - 1, 0))] \
        if part.ts.shape[0] else np.zeros(found.shape[0])
    columns["volume"][:, j] = np.where(found, volume, 0.0)


def _readonly(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    values.flags.writeable = False
    return values

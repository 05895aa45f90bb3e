"""Aggregate candles to a coarser timeframe on UTC-epoch-aligned bins."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.data.candles import Candles
from core.data.timeframes import timeframe_to_ms
from core.errors import DataError


@dataclass(frozen=True, slots=True)
class _Bins:
    """Bin layout of a sorted series: bin open times, first row of each bin, rows per bin."""

    open_ms: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    expected: int


def _ratio(candles: Candles, timeframe: str) -> tuple[int, int]:
    """Target bar length and the number of source bars per target bar."""
    source_ms = candles.timeframe_ms
    target_ms = timeframe_to_ms(timeframe)
    if target_ms < source_ms or target_ms % source_ms != 0:
        raise DataError(
            f"cannot resample {candles.meta.timeframe} to {timeframe}: the target must be a "
            f"whole multiple of the source timeframe "
            f"({candles.meta.source or candles.meta.symbol})"
        )
    return target_ms, target_ms // source_ms


def _bins(candles: Candles, timeframe: str) -> _Bins:
    target_ms, expected = _ratio(candles, timeframe)
    ts = candles.timestamp
    if len(ts) > 1 and bool((np.diff(ts) <= 0).any()):
        raise DataError(
            f"cannot resample unsorted or duplicated timestamps "
            f"({candles.meta.source or candles.meta.symbol}); validate the candles first"
        )
    bin_ms = ts - ts % target_ms  # floor to the epoch-aligned bin (1d bins open 00:00 UTC)
    if len(ts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Bins(empty, empty, empty, expected)
    new_bin = np.empty(len(ts), dtype=bool)
    new_bin[0] = True
    np.not_equal(bin_ms[1:], bin_ms[:-1], out=new_bin[1:])
    starts = np.flatnonzero(new_bin)
    counts = np.diff(np.append(starts, len(ts)))
    return _Bins(bin_ms[starts], starts, counts, expected)


def complete_bins_mask(candles: Candles, timeframe: str) -> np.ndarray:
    """Which target bins hold every one of their source bars.

    The mask is aligned with the bars of ``resample(candles, timeframe, partial="keep")``.

    Args:
        candles: Validated source candles.
        timeframe: Target timeframe, a whole multiple of the source timeframe.

    Returns:
        Read-only boolean array, one entry per (complete or partial) target bin.

    Raises:
        DataError: If the target is finer than or not a whole multiple of the source.
    """
    bins = _bins(candles, timeframe)
    mask = bins.counts == bins.expected
    mask.setflags(write=False)
    return mask


def resample(
    candles: Candles, timeframe: str, *, partial: Literal["drop", "keep"] = "drop"
) -> Candles:
    """Aggregate candles to a coarser timeframe.

    Bins are aligned to the UTC epoch (4h bins open at 00:00, 04:00, ... UTC; 1d bins at
    00:00 UTC). Open = first, high = max, low = min, close = last, volume = sum; spread is
    averaged and funding summed when present. A bin is complete when it holds all
    ``target / source`` sub-bars. By default incomplete bins are dropped so a partial bar
    never masquerades as a whole one; ``partial="keep"`` keeps them.

    The result's meta keeps venue, symbol, synthetic flag, files and fill labels, takes the
    new timeframe, and its source reads ``"resampled from <tf> (<source>)"``. Resampling to
    the same timeframe returns the input unchanged.

    Args:
        candles: Validated source candles (sorted, unique timestamps).
        timeframe: Target timeframe such as ``"5m"``, ``"1h"`` or ``"1d"``.
        partial: ``"drop"`` (default) or ``"keep"`` incomplete bins.

    Returns:
        The aggregated candles.

    Raises:
        DataError: If the target is finer than or not a whole multiple of the source, the
            timeframe is unknown, ``partial`` is invalid, or timestamps are not increasing.
    """
    if partial not in ("drop", "keep"):
        raise DataError(f"partial must be 'drop' or 'keep', got {partial!r}")
    if timeframe_to_ms(timeframe) == candles.timeframe_ms:
        _ratio(candles, timeframe)
        return candles
    bins = _bins(candles, timeframe)
    starts = bins.starts
    ends = starts + bins.counts - 1
    meta = dataclasses.replace(
        candles.meta,
        timeframe=timeframe,
        source=f"resampled from {candles.meta.timeframe} ({candles.meta.source})",
    )
    if len(starts) == 0:
        return candles.replace(meta=meta)

    def reduce(op: np.ufunc, values: np.ndarray) -> np.ndarray:
        return op.reduceat(values, starts)

    spread = None
    if candles.spread is not None:
        spread = reduce(np.add, candles.spread) / bins.counts
    funding = None if candles.funding is None else reduce(np.add, candles.funding)
    result = Candles(
        timestamp=bins.open_ms,
        open=candles.open[starts],
        high=reduce(np.maximum, candles.high),
        low=reduce(np.minimum, candles.low),
        close=candles.close[ends],
        volume=reduce(np.add, candles.volume),
        meta=meta,
        spread=spread,
        funding=funding,
    )
    if partial == "keep":
        return result
    complete = bins.counts == bins.expected
    return result if bool(complete.all()) else result.take(complete)

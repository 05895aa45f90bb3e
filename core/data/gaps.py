"""Missing bars: find them, report them, and fill them only when asked to."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from core.data.candles import Candles
from core.errors import DataError

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _utc(timestamp_ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DD HH:MM`` UTC (pure; no wall clock)."""
    return (_EPOCH + _dt.timedelta(milliseconds=timestamp_ms)).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Gap:
    """One run of missing bars.

    Attributes:
        start_ms: Open time of the last bar before the gap.
        end_ms: Open time of the first bar after the gap.
        missing: Number of bars missing between the two.
    """

    start_ms: int
    end_ms: int
    missing: int

    def to_dict(self) -> dict[str, Any]:
        """Return the gap as a JSON-serialisable dict (ms and ISO-like UTC strings)."""
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "missing": self.missing,
            "start_utc": _utc(self.start_ms),
            "end_utc": _utc(self.end_ms),
        }


@dataclass(frozen=True, slots=True)
class GapReport:
    """Summary of the missing bars of a series.

    Attributes:
        missing_bars: Total number of missing bars.
        gap_count: Number of distinct gaps.
        largest_missing: Bars missing in the largest gap (0 when there is none).
        largest_start_ms: Open time of the last bar before the largest gap, or None.
        largest_end_ms: Open time of the first bar after the largest gap, or None.
        gaps: Every gap in time order (the first one wins ties for "largest").
    """

    missing_bars: int
    gap_count: int
    largest_missing: int
    largest_start_ms: int | None
    largest_end_ms: int | None
    gaps: tuple[Gap, ...]

    def describe(self) -> str:
        """One-line human summary, e.g. ``"122 missing bars in 27 gaps; largest ..."``."""
        if self.gap_count == 0 or self.largest_start_ms is None or self.largest_end_ms is None:
            return "no gaps"
        bars = "bar" if self.missing_bars == 1 else "bars"
        gaps = "gap" if self.gap_count == 1 else "gaps"
        largest = "bar" if self.largest_missing == 1 else "bars"
        return (
            f"{self.missing_bars} missing {bars} in {self.gap_count} {gaps}; "
            f"largest {self.largest_missing} {largest} from {_utc(self.largest_start_ms)} "
            f"to {_utc(self.largest_end_ms)} (UTC)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-serialisable dict."""
        return {
            "description": self.describe(),
            "missing_bars": self.missing_bars,
            "gap_count": self.gap_count,
            "largest_missing": self.largest_missing,
            "largest_start_ms": self.largest_start_ms,
            "largest_end_ms": self.largest_end_ms,
            "gaps": [gap.to_dict() for gap in self.gaps],
        }


def _step_ms(candles: Candles) -> tuple[int, np.ndarray]:
    """Bar length and the consecutive timestamp differences, checked to be whole bars."""
    step = candles.timeframe_ms
    diffs = np.diff(candles.timestamp)
    bad = (diffs <= 0) | (diffs % step != 0)
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise DataError(
            f"{candles.meta.source or candles.meta.symbol}: timestamps at row {row} are not "
            f"increasing whole {candles.meta.timeframe} steps; validate the candles first"
        )
    return step, diffs


def find_gaps(candles: Candles) -> GapReport:
    """Find every run of missing bars in a sorted, validated series.

    Args:
        candles: Validated candles (sorted, unique, grid-aligned timestamps).

    Returns:
        A :class:`GapReport`; ``"no gaps"`` for fewer than two bars.

    Raises:
        DataError: If timestamps do not advance in whole bars (unvalidated input).
    """
    step, diffs = _step_ms(candles)
    where = np.flatnonzero(diffs > step)
    if where.size == 0:
        return GapReport(0, 0, 0, None, None, ())
    missing = diffs[where] // step - 1
    starts = candles.timestamp[where]
    ends = candles.timestamp[where + 1]
    gaps = tuple(
        Gap(int(start), int(end), int(count))
        for start, end, count in zip(starts.tolist(), ends.tolist(), missing.tolist(), strict=True)
    )
    largest = int(np.argmax(missing))
    return GapReport(
        missing_bars=int(missing.sum()),
        gap_count=len(gaps),
        largest_missing=gaps[largest].missing,
        largest_start_ms=gaps[largest].start_ms,
        largest_end_ms=gaps[largest].end_ms,
        gaps=gaps,
    )


def fill_gaps(candles: Candles, method: Literal["ffill"] = "ffill") -> Candles:
    """Insert the missing bars explicitly; never applied implicitly by any reader.

    Each inserted bar is flat at the previous close (open = high = low = close), has volume 0,
    the previous spread (when the series has spreads) and funding 0 (when it has funding).
    The result's ``meta.filled_bars`` grows by the number of inserted bars and
    ``meta.fill_method`` is set to ``"ffill"`` so every artifact built from it is labelled.
    A series without gaps is returned unchanged (``filled_bars`` stays as it was).

    Args:
        candles: Validated candles (sorted, unique, grid-aligned timestamps).
        method: Fill method; only ``"ffill"`` exists.

    Returns:
        Gap-free candles covering the same first-to-last span.

    Raises:
        DataError: If the method is unknown or timestamps do not advance in whole bars.
    """
    if method != "ffill":
        raise DataError(f"unknown gap-fill method {method!r}; supported: 'ffill'")
    step, diffs = _step_ms(candles)
    if not (diffs > step).any():
        return candles
    ts = candles.timestamp
    total = int((ts[-1] - ts[0]) // step) + 1
    slots = (ts - ts[0]) // step
    observed = np.zeros(total, dtype=bool)
    observed[slots] = True
    source = np.full(total, -1, dtype=np.int64)
    source[slots] = np.arange(len(ts))
    source = np.maximum.accumulate(source)  # index of the latest observed bar per slot

    previous_close = candles.close[source]

    def keep_or(values: np.ndarray, filler: np.ndarray | float) -> np.ndarray:
        return np.where(observed, values[source], filler)

    spread = None if candles.spread is None else candles.spread[source]
    funding = None if candles.funding is None else keep_or(candles.funding, 0.0)
    inserted = total - len(ts)
    meta = dataclasses.replace(
        candles.meta, filled_bars=candles.meta.filled_bars + inserted, fill_method=method
    )
    return Candles(
        timestamp=ts[0] + np.arange(total, dtype=np.int64) * step,
        open=keep_or(candles.open, previous_close),
        high=keep_or(candles.high, previous_close),
        low=keep_or(candles.low, previous_close),
        close=previous_close,
        volume=keep_or(candles.volume, 0.0),
        meta=meta,
        spread=spread,
        funding=funding,
    )

"""Funding rates of perpetual futures and their placement on candle bars."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from core.data.candles import Candles
from core.errors import DataError


@dataclass(frozen=True, slots=True)
class FundingRates:
    """Funding rates of a perpetual: settlement times (int64 ms UTC) and rates per period."""

    timestamp: np.ndarray
    rate: np.ndarray
    source: str = ""
    files: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.timestamp)


@dataclass(frozen=True, slots=True)
class FundingAlignment:
    """Candles with their ``funding`` column set, plus settlement times that matched no bar."""

    candles: Candles
    unmatched_ms: np.ndarray


def align_funding(
    candles: Candles, funding: FundingRates, *, strict: bool = True
) -> FundingAlignment:
    """Put funding rates on the bars whose open time equals a settlement time (0 elsewhere).

    Settlement times outside ``[first bar, last bar]`` are outside the window and ignored.
    A settlement time inside the window without a bar (the bar is missing from the data)
    cannot be charged: with ``strict`` that is an error; otherwise it is reported in
    ``unmatched_ms`` so the caller decides — a backtest must not skip a payment silently.
    The funding file is added to ``meta.files``.

    Raises:
        DataError: In strict mode, naming the first unmatched settlement time.
    """
    rates = np.zeros(len(candles), dtype=np.float64)
    unmatched = np.empty(0, dtype=np.int64)
    if len(candles):
        first_bar, last_bar = candles.timestamp[0], candles.timestamp[-1]
        inside = (funding.timestamp >= first_bar) & (funding.timestamp <= last_bar)
        times, values = funding.timestamp[inside], funding.rate[inside]
        index = np.minimum(np.searchsorted(candles.timestamp, times), len(candles) - 1)
        matched = candles.timestamp[index] == times
        rates[index[matched]] = values[matched]
        unmatched = times[~matched]
    if strict and len(unmatched):
        first = int(unmatched[0])
        raise DataError(
            f"{len(unmatched)} funding time(s) from {funding.source or 'funding'} fall on "
            f"missing bars of {candles.meta.source or candles.meta.symbol}; the first at "
            f"{first} ({np.datetime64(first, 'ms')} UTC); pass strict=False to get them listed"
        )
    meta = dataclasses.replace(candles.meta, files=candles.meta.files + funding.files)
    return FundingAlignment(candles.replace(funding=rates, meta=meta), unmatched)

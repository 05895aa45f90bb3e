"""Timeframe strings (``1m``, ``5m``, ``1h``, ``1d``) and their lengths in milliseconds."""

from __future__ import annotations

from core.errors import DataError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
YEAR_MS = 365 * DAY_MS

TIMEFRAME_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
}


def timeframe_to_ms(timeframe: str) -> int:
    """Return the length of one bar of ``timeframe`` in milliseconds.

    Args:
        timeframe: A timeframe string such as ``"1m"``, ``"1h"`` or ``"1d"``.

    Raises:
        DataError: If the timeframe is not supported; the message lists the supported ones.
    """
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        known = ", ".join(TIMEFRAME_MS)
        raise DataError(f"unknown timeframe {timeframe!r}; supported: {known}") from None


def periods_per_year(timeframe_ms: int) -> float:
    """Number of bars of ``timeframe_ms`` in a 365-day crypto year (markets never close)."""
    return YEAR_MS / timeframe_ms

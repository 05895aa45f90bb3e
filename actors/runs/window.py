"""Time windows from the command line: dates in a timezone, or an ISO-8601 duration."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.data.timeframes import DAY_MS, HOUR_MS, MINUTE_MS
from core.errors import UsageError

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?)?$"
)


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """What the user asked for: explicit bounds or a trailing duration.

    Attributes:
        start_ms: Inclusive start (ms UTC) for an explicit window.
        end_ms: Exclusive end (ms UTC) for an explicit window.
        duration_ms: Length of a trailing window ending at the last bar.
        label: The window as the user wrote it, for reports.
    """

    start_ms: int | None
    end_ms: int | None
    duration_ms: int | None
    label: str

    @classmethod
    def everything(cls) -> WindowRequest:
        """All the data there is."""
        return cls(None, None, None, "all data")


def parse_timezone(name: str) -> dt.tzinfo:
    """Resolve an IANA timezone name; ``UsageError`` with a hint when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown timezone {name!r}; use an IANA name such as UTC, Europe/Berlin or "
            "America/New_York"
        ) from None


def parse_moment(text: str, tz: dt.tzinfo, what: str) -> int:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` in ``tz`` (unless it has an offset)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp() * 1000)


def parse_duration(text: str) -> int:
    """Parse an ISO-8601 duration of weeks, days, hours and minutes (``P90D``, ``PT12H``)."""
    match = _DURATION.match(text.strip().upper())
    if match is None or not any(match.groupdict().values()):
        raise UsageError(
            f"window {text!r} is not an ISO-8601 duration; examples: P90D, P2W, PT12H, P1DT6H "
            "(months and years are ambiguous: give days)"
        )
    parts = {key: int(value or 0) for key, value in match.groupdict().items()}
    total = (parts["weeks"] * 7 * DAY_MS + parts["days"] * DAY_MS + parts["hours"] * HOUR_MS
             + parts["minutes"] * MINUTE_MS)
    if total <= 0:
        raise UsageError(f"window {text!r} is empty; give a positive duration such as P90D")
    return total


def parse_window(start: str | None, end: str | None, window: str | None,
                 tz_name: str) -> WindowRequest:
    """Validate the window options; exactly one form must be given.

    Raises:
        UsageError: No window, both forms, a lone bound, a reversed window, a bad date or
            duration, or an unknown timezone.
    """
    tz = parse_timezone(tz_name)
    if window is not None:
        if start is not None or end is not None:
            raise UsageError("give either --start/--end or --window, not both")
        return WindowRequest(None, None, parse_duration(window), window)
    if start is None and end is None:
        raise UsageError(
            "no window: give --start and --end (e.g. --start 2022-01-01 --end 2024-01-01) "
            "or a trailing --window such as P90D"
        )
    if start is None or end is None:
        missing = "--end" if end is None else "--start"
        raise UsageError(f"{missing} is missing: an explicit window needs both bounds")
    start_ms = parse_moment(start, tz, "--start")
    end_ms = parse_moment(end, tz, "--end")
    if start_ms >= end_ms:
        raise UsageError(f"the window is reversed or empty: --start {start} is not before "
                         f"--end {end}")
    return WindowRequest(start_ms, end_ms, None, f"{start} .. {end} ({tz_name})")

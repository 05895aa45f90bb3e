"""Times given by users, as epoch milliseconds UTC (pure)."""

from __future__ import annotations

import datetime as dt

from core.errors import DataError


def parse_time_ms(text: str) -> int:
    """Parse a user-given time to epoch ms UTC.

    Accepts a date (``2024-01-01``), an ISO-8601 datetime (``2024-01-01T12:00``, taken as UTC
    unless it carries an offset such as ``+02:00`` or ``Z``) or epoch milliseconds.

    Raises:
        DataError: If the text is none of these.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DataError(
            f"bad date/time {text!r}; expected YYYY-MM-DD, an ISO-8601 datetime such as "
            "2024-01-01T12:00:00Z, or epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)

"""The replayed window of a SIM session and its batches (pure helpers, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from configs.session import SessionConfig, parse_duration_ms
from core.data.times import parse_time_ms
from core.errors import DataError, UsageError


@dataclass(frozen=True, slots=True)
class Window:
    """``[start_ms, until_ms)`` replayed, as requested and as bounded by the data."""

    start_ms: int
    until_ms: int


def resolve_window(session: SessionConfig, first_ms: int, end_ms: int) -> Window:
    """Turn the session's start/until/duration into bounds inside ``[first_ms, end_ms)``.

    Raises:
        UsageError: Bad times, or a window outside the data.
    """
    try:
        start = parse_time_ms(session.start) if session.start else None
        until = parse_time_ms(session.until) if session.until else None
        duration = parse_duration_ms(session.duration) if session.duration else None
    except (ValueError, DataError) as exc:
        raise UsageError(str(exc)) from exc
    if start is None and until is None:
        until = end_ms
        start = end_ms - duration if duration is not None else first_ms
    elif start is None:
        start = until - duration if duration is not None else first_ms  # type: ignore[operator]
    elif until is None:
        until = start + duration if duration is not None else end_ms
    start, until = max(start, first_ms), min(until, end_ms)  # type: ignore[type-var]
    if until <= start:
        raise UsageError(f"the session window is empty: data covers {first_ms} .. {end_ms} "
                         "(ms); check --start/--until/--duration")
    return Window(int(start), int(until))


def batch_bounds(timeline: np.ndarray, batch_bars: int) -> list[tuple[int, int]]:
    """``[(i0, i1), ...]`` index ranges of consecutive batches over ``timeline``."""
    n = int(timeline.shape[0])
    return [(i, min(i + batch_bars, n)) for i in range(0, n, batch_bars)]

"""Where time comes from: a :class:`Clock`, set from the data in SIM, and the SIM pacing.

:class:`Clock` is the protocol, :class:`SimClock` the data-driven clock and
:class:`PacingPlan` the pure rule saying how long a SIM step should take on the wall.

Nothing in ``core/`` reads the wall clock. In SIM the time is set from the data (the open time
of the bar being processed) and never goes backwards; the wall-clock ``LiveClock`` of PAPER and
LIVE lives on the actor side and implements the same protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import DataValidationError


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in epoch milliseconds UTC."""

    def now_ms(self) -> int:
        """The current time, ms since the epoch (UTC)."""
        ...


class SimClock:
    """A clock driven by the data: it shows the time of the last bar it was advanced to.

    Args:
        start_ms: Initial time, ms UTC (default 0: before any bar).

    Example:
        >>> clock = SimClock()
        >>> clock.advance_to(1_514_764_800_000)
        >>> clock.now_ms()
        1514764800000
    """

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        """The time of the last :meth:`advance_to`, ms UTC."""
        return self._now

    def advance_to(self, ts: int) -> None:
        """Move the clock to ``ts``; staying at the same time is allowed.

        Args:
            ts: New time, ms UTC.

        Raises:
            DataValidationError: If ``ts`` is earlier than the current time (the data went
                backwards: the replay is corrupt and must stop).
        """
        ts = int(ts)
        if ts < self._now:
            raise DataValidationError(
                f"time went backwards: the clock is at {self._now} and was asked to go to {ts}",
                source="SimClock", timestamp_ms=ts,
            )
        self._now = ts

    def __getstate__(self) -> int:
        return self._now

    def __setstate__(self, state: int) -> None:
        self._now = int(state)

    def __repr__(self) -> str:
        return f"SimClock(now_ms={self._now})"


@dataclass(frozen=True, slots=True)
class PacingPlan:
    """How fast SIM replays the data relative to real time.

    ``speed`` is the number of market seconds replayed per wall second: ``3600`` plays one
    hour of bars per second; ``None`` or ``0`` means as fast as the machine allows.

    Attributes:
        speed: Replay speed factor, or None / 0 for unpaced.

    Raises:
        ValueError: If ``speed`` is negative or not finite.
    """

    speed: float | None = None

    def __post_init__(self) -> None:
        if self.speed is not None and not (math.isfinite(self.speed) and self.speed >= 0.0):
            raise ValueError(
                f"pacing speed must be None, 0 (unpaced) or a positive finite factor, "
                f"got {self.speed!r}"
            )

    @property
    def paced(self) -> bool:
        """True when steps are stretched to real time (a positive speed)."""
        return bool(self.speed)

    def step_seconds(self, n_bars: int, timeframe_ms: int) -> float:
        """Wall seconds that a step of ``n_bars`` bars of ``timeframe_ms`` should take.

        Args:
            n_bars: Bars in the step (>= 0).
            timeframe_ms: Bar length, ms (> 0).

        Returns:
            ``n_bars * timeframe_ms / 1000 / speed``, or 0.0 when unpaced.

        Raises:
            ValueError: On a negative bar count or a non-positive timeframe.
        """
        if n_bars < 0 or timeframe_ms <= 0:
            raise ValueError(
                f"need n_bars >= 0 and timeframe_ms > 0, got {n_bars} and {timeframe_ms}"
            )
        if not self.speed:
            return 0.0
        return n_bars * timeframe_ms / 1000.0 / self.speed

    def wait_seconds(self, n_bars: int, timeframe_ms: int, elapsed_s: float) -> float:
        """Seconds still to wait after a step that already took ``elapsed_s`` wall seconds.

        Args:
            n_bars: Bars in the step.
            timeframe_ms: Bar length, ms.
            elapsed_s: Wall time the step's work took, s.

        Returns:
            ``max(0, step_seconds - elapsed_s)``: never negative, 0.0 when unpaced.
        """
        return max(0.0, self.step_seconds(n_bars, timeframe_ms) - max(elapsed_s, 0.0))

    def bars_per_step(self, timeframe_ms: int, step_s: float, max_bars: int) -> int:
        """How many bars one step should hold so a step lasts about ``step_s`` wall seconds.

        Args:
            timeframe_ms: Bar length, ms.
            step_s: Desired wall duration of a step, s.
            max_bars: Upper bound (the unpaced batch size).

        Returns:
            ``max_bars`` when unpaced, else ``clip(round(step_s * speed * 1000 /
            timeframe_ms), 1, max_bars)``.
        """
        if max_bars < 1 or timeframe_ms <= 0:
            raise ValueError(
                f"need max_bars >= 1 and timeframe_ms > 0, got {max_bars} and {timeframe_ms}"
            )
        if not self.speed:
            return max_bars
        bars = round(step_s * self.speed * 1000.0 / timeframe_ms)
        return int(min(max(bars, 1), max_bars))

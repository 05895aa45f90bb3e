"""Restart intensity: how many restarts a supervisor tolerates within a sliding window."""

from __future__ import annotations

from collections import deque


class RestartIntensity:
    """Counts restarts in a sliding time window.

    Args:
        max_restarts: Restarts tolerated within ``period_s``; one more means escalation.
        period_s: Window length in seconds (on the same time base as the ``now`` arguments).
    """

    def __init__(self, max_restarts: int, period_s: float) -> None:
        self._max = max_restarts
        self._period = period_s
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Count one restart at ``now``.

        Returns:
            True while the count within the window is at most ``max_restarts``; False when
            this restart exceeds the intensity (the supervisor must escalate).
        """
        self._times.append(now)
        self._expire(now)
        return len(self._times) <= self._max

    def count(self, now: float) -> int:
        """Restarts within the window ending at ``now``."""
        self._expire(now)
        return len(self._times)

    def reset(self) -> None:
        """Forget every recorded restart."""
        self._times.clear()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self._period:
            self._times.popleft()

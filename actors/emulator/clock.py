"""The venue's clock: manual (tests) or paced against the wall clock (demos, benchmarks).

Venue time is epoch milliseconds in the replayed history. In manual mode (``speed == 0``) it
moves only when told (:meth:`VenueClock.advance_ms`, :meth:`VenueClock.set_ms`), so tests are
deterministic. Paced at ``speed`` X, venue ms = start + (wall seconds elapsed) * 1000 * X;
telling a paced clock to advance shifts it forward. Time never goes backwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class VenueClock:
    """Venue time in epoch ms.

    Args:
        start_ms: Venue time at start.
        speed: 0 for a manual clock, else venue ms per wall ms.
        monotonic: Wall-clock source in seconds (injectable for tests).

    Raises:
        ValueError: For a negative speed.
    """

    def __init__(self, start_ms: int, speed: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self._lock = threading.Lock()
        self._base_ms = int(start_ms)
        self._speed = float(speed)
        self._monotonic = monotonic
        self._wall_start = monotonic()

    @property
    def speed(self) -> float:
        """Venue ms per wall ms (0 = manual)."""
        return self._speed

    @property
    def manual(self) -> bool:
        """Whether the clock moves only when told."""
        return self._speed == 0.0

    def now_ms(self) -> int:
        """Current venue time."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> int:
        if self._speed == 0.0:
            return self._base_ms
        return self._base_ms + int((self._monotonic() - self._wall_start) * 1000 * self._speed)

    def advance_ms(self, delta_ms: int) -> int:
        """Move forward by ``delta_ms``; returns the new time.

        Raises:
            ValueError: For a negative step.
        """
        if delta_ms < 0:
            raise ValueError(f"the clock cannot go backwards (step {delta_ms} ms)")
        with self._lock:
            self._base_ms += int(delta_ms)
            return self._now_locked()

    def set_ms(self, to_ms: int) -> int:
        """Move forward to ``to_ms``; returns the new time.

        Raises:
            ValueError: If ``to_ms`` is before the current time.
        """
        with self._lock:
            now = self._now_locked()
            if to_ms < now:
                raise ValueError(f"the clock cannot go backwards (now {now}, asked {to_ms})")
            self._base_ms += int(to_ms) - now
            return self._now_locked()

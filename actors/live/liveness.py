"""Heartbeats that prove progress, not just a live thread.

A threaded actor answers ``ping`` from a second thread even while its step is stuck (a strategy
in an endless loop): the ping alone proves nothing. :class:`Progress` records when the actor's
current unit of work started; :meth:`Progress.check` (called from ``ping``) raises
:class:`StuckError` once that work has run longer than the limit, so the supervisor counts
missed heartbeats and restarts the actor, and the step is retried on its successor.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from core.errors import EvotraderError

DEFAULT_STUCK_AFTER_S = 30.0
"""Default limit of one unit of work (``[session] stuck_after_s``)."""


class StuckError(EvotraderError):
    """The actor's current work has run past its limit: it is alive but making no progress."""


class Progress:
    """When the current work started, and how long it may take.

    Args:
        limit_s: Work running longer than this makes :meth:`check` raise.
        clock: Monotonic seconds (tests pass their own).
        on_stuck: Called each time :meth:`check` finds the work stuck, before it raises
            (e.g. :meth:`actors.live.poison.PoisonGuard.mark_stuck`).
    """

    def __init__(self, limit_s: float = DEFAULT_STUCK_AFTER_S,
                 clock: Callable[[], float] | None = None,
                 on_stuck: Callable[[], None] | None = None) -> None:
        self.limit_s = limit_s
        self._on_stuck = on_stuck
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._work: tuple[str, float] | None = None
        self.completed = 0

    @contextlib.contextmanager
    def working(self, what: str) -> Iterator[None]:
        """Mark the enclosed block as the actor's current work."""
        with self._lock:
            self._work = (what, self._clock())
        try:
            yield
        finally:
            with self._lock:
                self._work = None
                self.completed += 1

    def check(self) -> None:
        """Raise when the current work has run past the limit.

        Raises:
            StuckError: Naming the work and how long it has run.
        """
        with self._lock:
            work = self._work
        if work is None:
            return
        what, since = work
        running = self._clock() - since
        if running > self.limit_s:
            if self._on_stuck is not None:
                self._on_stuck()
            raise StuckError(f"{what} has run for {running:.1f} s (limit {self.limit_s:g} s): "
                             "no progress")


def run_bounded(work: Callable[[], None], limit_s: float, what: str) -> bool:
    """Run optional ``work`` (a warm-up) for at most ``limit_s`` seconds.

    The work runs in a daemon thread; past the limit it is left to finish (or hang) there and
    the caller goes on, so code that may never return (a user's strategy) cannot keep an
    actor's constructor from returning: the same code then runs again in a real step, under
    :class:`Progress` and the poison guard.

    Args:
        work: What to run; it must not touch state the caller keeps.
        limit_s: How long to wait for it.
        what: Name of the thread (for stack dumps).

    Returns:
        True if the work finished within the limit.
    """
    thread = threading.Thread(target=work, daemon=True, name=what)
    thread.start()
    thread.join(limit_s)
    return not thread.is_alive()

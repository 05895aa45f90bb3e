"""Heartbeats: ping a child, count missed answers, tell alive / unhealthy / dead / exited.

Pings never block the reconcile loop: each child has at most one ping in flight, checked
without waiting on every tick. An actor error on ping means dead at once; a ping not answered
within the timeout (or one that raises) is a miss; too many consecutive misses mean unhealthy.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ray.exceptions import ActorUnavailableError, RayActorError

from supervisors.errors import SupervisorEscalatedError

DONE = "done"
"""What a child's ``ping()`` returns to say it finished its work normally (a normal exit)."""

_NORMAL_EXIT_MARKERS = ("INTENDED_USER_EXIT", "exit_actor() is called")


class Outcome(StrEnum):
    """What a heartbeat poll found.

    Attributes:
        QUIET: Nothing new (a ping is in flight or not due).
        ALIVE: The child answered a ping.
        MISSED: A ping was missed (late or raised); not yet unhealthy.
        UNHEALTHY: Too many consecutive misses, or no first answer within the start timeout.
        DIED: The actor is dead (killed, crashed, failed ``__init__``).
        EXITED: The child finished normally (answered ``DONE`` or called ``exit_actor()``).
    """

    QUIET = "quiet"
    ALIVE = "alive"
    MISSED = "missed"
    UNHEALTHY = "unhealthy"
    DIED = "died"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class Probe:
    """Result of a heartbeat poll or a one-off ping.

    Attributes:
        outcome: What was found.
        detail: Why, for events (e.g. Ray's death message, the number of misses).
    """

    outcome: Outcome
    detail: str = ""


def classify_failure(exc: BaseException) -> Probe:
    """Classify an exception raised by a ping.

    ``ActorUnavailableError`` (temporarily unreachable) and application errors raised by
    ``ping`` are misses; any other ``RayActorError`` (``ActorDiedError``) is a death, unless
    Ray reports an intended exit (``ray.actor.exit_actor()``), which is a normal exit. A
    nested supervisor that escalated (its ping raises ``SupervisorEscalatedError``) is dead.
    """
    text = f"{type(exc).__name__}: {_reason(str(exc))}"
    cause = getattr(exc, "cause", None) or exc  # RayTaskError wraps what ping raised
    if isinstance(cause, SupervisorEscalatedError):
        return Probe(Outcome.DIED, f"{cause} (its ping says so)")
    if isinstance(exc, ActorUnavailableError):
        return Probe(Outcome.MISSED, f"actor unavailable: {text}")
    if isinstance(exc, RayActorError):
        message = str(exc)
        if any(marker in message for marker in _NORMAL_EXIT_MARKERS):
            return Probe(Outcome.EXITED, "the actor exited by itself (exit_actor)")
        return Probe(Outcome.DIED, text)
    return Probe(Outcome.MISSED, f"ping raised {type(cause).__name__}: {_reason(str(cause))}")


def classify_answer(answer: object) -> Probe:
    """Classify a ping's return value: ``DONE`` is a normal exit, anything else alive."""
    if answer == DONE:
        return Probe(Outcome.EXITED, "the child reported it is done")
    return Probe(Outcome.ALIVE)


async def ping_once(handle: Any, timeout_s: float) -> Probe:
    """Ping ``handle`` once and wait up to ``timeout_s`` for the answer."""
    try:
        answer = await asyncio.wait_for(
            asyncio.wrap_future(handle.ping.remote().future()), timeout_s
        )
    except TimeoutError:
        return Probe(Outcome.UNHEALTHY, f"no answer to ping within {timeout_s:g} s")
    except Exception as exc:
        return classify_failure(exc)
    return classify_answer(answer)


WATCH_S = 1.0
"""How long one death watch waits in the child before it answers and is sent again.

Short, because a threaded child that ends itself with ``exit_actor()`` only exits once its
running calls (the watch among them) have returned.
"""


class Heartbeat:
    """Heartbeat state of one child incarnation, and a death watch on it.

    Pings prove that the child makes progress, once per ``interval_s``. A child that has a
    ``watch(timeout_s)`` method also gets a *death watch*: one call always outstanding that
    the child answers only after ``timeout_s``. Ray fails a pending call as soon as its actor
    dies, so a death is noticed at the supervisor's next pass (like an Erlang link), not at
    the next ping.

    Args:
        interval_s: Time between pings.
        timeout_s: A ping unanswered after this long is a miss.
        misses: Consecutive misses that make the child unhealthy.
        start_timeout_s: Time allowed for the first answer after a (re)start.
    """

    def __init__(self, interval_s: float, timeout_s: float, misses: int, start_timeout_s: float):
        self._interval = interval_s
        self._timeout = timeout_s
        self._max_misses = misses
        self._start_timeout = start_timeout_s
        self._pending: concurrent.futures.Future[Any] | None = None
        self._watch: concurrent.futures.Future[Any] | None = None
        self._sent_at = -math.inf
        self._started_at = 0.0
        self.answered = False
        self.misses = 0

    def begin(self, handle: Any, now: float, *, answered: bool = False) -> None:
        """Start tracking a new incarnation and ping it at once.

        Args:
            handle: The child's actor handle.
            now: Monotonic time.
            answered: True for an adopted child that already answered a probe.
        """
        self._pending = None
        self._sent_at = -math.inf
        self._started_at = now
        self.answered = answered
        self.misses = 0
        self._send(handle, now)
        self._watch = _send_watch(handle)

    def poll(self, handle: Any, now: float) -> Probe:
        """Check the death watch and the ping in flight (without waiting); send what is due."""
        watch = self._watch
        if watch is not None and watch.done():
            error = watch.exception()
            if error is None:
                self._watch = _send_watch(handle)
            else:
                self._watch = None
                death = classify_failure(error)
                if death.outcome in (Outcome.DIED, Outcome.EXITED):
                    self._pending = None
                    return death
        probe = self._check(now)
        if probe.outcome in (Outcome.DIED, Outcome.EXITED, Outcome.UNHEALTHY):
            self._pending = None
            return probe
        if self._pending is None and now - self._sent_at >= self._interval:
            self._send(handle, now)
        return probe

    def _check(self, now: float) -> Probe:
        pending = self._pending
        if pending is None:
            return Probe(Outcome.QUIET)
        if pending.done():
            self._pending = None
            error = pending.exception()
            probe = classify_answer(pending.result()) if error is None else classify_failure(error)
            if probe.outcome is Outcome.ALIVE:
                self.answered = True
                self.misses = 0
                return probe
            if probe.outcome is Outcome.MISSED:
                return self._miss(probe.detail)
            return probe
        if not self.answered:
            if now - self._started_at > self._start_timeout:
                return Probe(
                    Outcome.UNHEALTHY,
                    f"no answer to its first ping within start_timeout_s={self._start_timeout:g}",
                )
            return Probe(Outcome.QUIET)
        if now - self._sent_at > self._timeout:
            self._pending = None
            return self._miss(f"no answer to ping within {self._timeout:g} s")
        return Probe(Outcome.QUIET)

    def _miss(self, detail: str) -> Probe:
        self.misses += 1
        if self.misses >= self._max_misses:
            return Probe(Outcome.UNHEALTHY, f"{self.misses} missed heartbeats (last: {detail})")
        return Probe(Outcome.MISSED, detail)

    def _send(self, handle: Any, now: float) -> None:
        self._pending = handle.ping.remote().future()
        self._sent_at = now


def _send_watch(handle: Any) -> concurrent.futures.Future[Any] | None:
    """A death watch on ``handle``, or None if the child has no ``watch`` method."""
    try:
        method = handle.watch
    except AttributeError:
        return None
    return method.remote(WATCH_S).future()


def _reason(text: str, limit: int = 300) -> str:
    """The informative line of a (multi-line) Ray error message, bounded for events.

    Ray's death messages start with a generic sentence; the cause is on a line starting with
    "The actor is dead because" (or "The actor died because").
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith(("The actor is dead", "The actor died"))]
    reason = causes[-1] if causes else (lines[0] if lines else "")
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."

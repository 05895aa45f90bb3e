"""Supervisor events: a frozen record per lifecycle change, a bounded log, and a sink.

Every supervisor keeps its own bounded log; a nested supervisor also forwards its events to its
parent, so the root's log (and the root's sink) sees the whole tree.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_log = logging.getLogger(__name__)

EventSink = Callable[["SupervisorEvent"], object] | Any
"""A callable taking a :class:`SupervisorEvent`, or a Ray actor method (``handle.record``).

It runs inside the supervisor actor, so it must be serialisable; an actor method is called
with ``.remote(event)`` without waiting. A sink that raises is logged and ignored.
"""


class EventKind(StrEnum):
    """What happened.

    Attributes:
        STARTED: A child was started for the first time.
        EXITED: A child finished normally (ping answered ``DONE`` or it called
            ``exit_actor()``).
        DIED: A child's actor died (killed, crashed, init failed) or its supervisor reported
            failure.
        UNHEALTHY: A child missed too many heartbeats.
        RESTARTED: A child was started again after a failure (or a sibling's).
        ESCALATED: The supervisor exceeded its intensity, stopped its children and gave up.
        ADOPTED: A live child from a previous supervisor instance was taken over.
        STOPPED: A child (or the supervisor itself, ``child == ""``) was stopped.
        ERROR: An exception was caught (factory, sink, reconcile loop); the loop continues.
    """

    STARTED = "started"
    EXITED = "exited"
    DIED = "died"
    UNHEALTHY = "unhealthy"
    RESTARTED = "restarted"
    ESCALATED = "escalated"
    ADOPTED = "adopted"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """One supervision event.

    Attributes:
        seq: Position in the log that holds it (1, 2, ...); per supervisor log.
        ts: Time from the supervisor's injected clock.
        supervisor: Path of the supervisor that recorded it (e.g. ``"root/trading"``).
        child: Short name of the child concerned; ``""`` for the supervisor itself.
        kind: What happened.
        detail: Human-readable cause or outcome.
        restarts: The child's restart count after the event (supervisor events: restarts in
            the intensity window).
    """

    seq: int
    ts: float
    supervisor: str
    child: str
    kind: EventKind
    detail: str
    restarts: int


class EventLog:
    """Bounded, sequenced, in-memory event log.

    Args:
        max_events: How many events are kept; older ones are dropped (their ``seq`` stays).
    """

    def __init__(self, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self._events: deque[SupervisorEvent] = deque(maxlen=max_events)
        self._seq = 0

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (0 when empty)."""
        return self._seq

    def append(self, event: SupervisorEvent) -> SupervisorEvent:
        """Store a copy of ``event`` with this log's next sequence number and return it."""
        self._seq += 1
        stored = dataclasses.replace(event, seq=self._seq)
        self._events.append(stored)
        return stored

    def since(self, seq: int) -> list[SupervisorEvent]:
        """Events with a sequence number greater than ``seq``, oldest first."""
        return [event for event in self._events if event.seq > seq]


def deliver(sink: EventSink | None, event: SupervisorEvent) -> None:
    """Hand ``event`` to ``sink`` (callable or Ray actor method); never raises."""
    if sink is None:
        return
    try:
        remote = getattr(sink, "remote", None)
        if remote is not None:
            remote(event)
        else:
            sink(event)
    except Exception:  # a broken sink must not break supervision
        _log.exception("supervisor event sink failed for %s", event)

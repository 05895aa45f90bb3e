"""Run-time state of one supervised child, as its supervisor sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from supervisors.health import Heartbeat
from supervisors.spec import ChildSpec, RestartType, SupervisorSpec


class ChildStatus(StrEnum):
    """Where a child is in its life.

    Attributes:
        PENDING: Waiting to be started (first start, restart, or retry after a factory error).
        RUNNING: Started or adopted; pinged on every heartbeat.
        EXITED: Finished normally and not restarted (transient or temporary).
        DEAD: Ended abnormally and not restarted (temporary).
        STOPPED: Stopped by the supervisor (``stop()`` or escalation).
    """

    PENDING = "pending"
    RUNNING = "running"
    EXITED = "exited"
    DEAD = "dead"
    STOPPED = "stopped"


@dataclass(eq=False)
class ChildRecord:
    """Mutable state of one child, owned by its supervisor's event loop.

    Attributes:
        spec: The declared child (worker or nested supervisor).
        index: Position among its siblings (start order).
        actor_name: Full Ray actor name.
        heartbeat: Heartbeat state of the current incarnation.
        status: Life-cycle status.
        handle: Actor handle of the current incarnation (None when not running).
        restarts: Times this child was restarted by this supervisor instance.
        started: Whether the child was ever started or adopted by this supervisor instance.
        last_heartbeat: Clock time of the last answered ping (None before the first).
        next_attempt_at: Monotonic time before which a failed start is not retried.
        retired_id: Actor id of the last incarnation this supervisor ended (never adopted).
        reported_failure: Failure reported by a nested supervisor child, handled next tick.
    """

    spec: ChildSpec | SupervisorSpec
    index: int
    actor_name: str
    heartbeat: Heartbeat
    status: ChildStatus = ChildStatus.PENDING
    handle: Any = None
    restarts: int = 0
    started: bool = False
    last_heartbeat: float | None = None
    next_attempt_at: float = 0.0
    retired_id: str = ""
    reported_failure: str | None = field(default=None)

    @property
    def name(self) -> str:
        """The child's short name."""
        return self.spec.name

    @property
    def restart(self) -> RestartType:
        """The child's restart type."""
        return self.spec.restart

    @property
    def is_supervisor(self) -> bool:
        """Whether the child is a nested supervisor."""
        return isinstance(self.spec, SupervisorSpec)

    @property
    def alive(self) -> bool:
        """Running, answered since its (re)start, and no missed heartbeat pending."""
        return (
            self.status is ChildStatus.RUNNING
            and self.heartbeat.answered
            and self.heartbeat.misses == 0
        )


def should_restart(restart: RestartType, normal_exit: bool) -> bool:
    """Whether a child with this restart type is restarted after it ended.

    Args:
        restart: The child's restart type.
        normal_exit: True when the child finished normally (done / ``exit_actor``).
    """
    if restart is RestartType.PERMANENT:
        return True
    if restart is RestartType.TRANSIENT:
        return not normal_exit
    return False

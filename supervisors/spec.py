"""Declarative specs: what a supervisor runs (children) and how it reacts to failures.

Specs are frozen and validated when built; an invalid value raises
:class:`~supervisors.errors.SupervisorSpecError` naming the field and what is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from supervisors.errors import SupervisorSpecError
from supervisors.naming import check_name

ChildFactory = Callable[[str], Any]
"""Creates a child actor given its full Ray actor name and returns its handle."""


class RestartType(StrEnum):
    """When a terminated child is restarted (OTP semantics).

    Attributes:
        PERMANENT: Always restarted, whatever the reason it ended.
        TRANSIENT: Restarted only after an abnormal end (death, kill, missed heartbeats); a
            normal exit (ping answered ``DONE`` or ``ray.actor.exit_actor()``) is final.
        TEMPORARY: Never restarted; also not restarted when a sibling's restart stops it.
    """

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(StrEnum):
    """Which children restart when one must be restarted.

    Attributes:
        ONE_FOR_ONE: Only the failed child.
        ONE_FOR_ALL: All children: the others are stopped, then all start again in order.
        REST_FOR_ONE: The failed child and every child declared after it, in order.
    """

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


def _enum(cls: type[StrEnum], value: object, field_name: str, owner: str) -> Any:
    """Coerce ``value`` to the enum ``cls`` or raise an error listing the accepted values."""
    try:
        return cls(value)
    except ValueError:
        accepted = ", ".join(member.value for member in cls)
        raise SupervisorSpecError(
            f"{owner}: {field_name}={value!r} is not one of: {accepted}"
        ) from None


def _positive(value: object, field_name: str, owner: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SupervisorSpecError(
            f"{owner}: {field_name} must be a number of seconds, got {value!r}"
        )
    if not math.isfinite(value) or value <= 0:
        raise SupervisorSpecError(f"{owner}: {field_name} must be finite and > 0, got {value!r}")
    return float(value)


def _count(value: object, field_name: str, owner: str, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SupervisorSpecError(
            f"{owner}: {field_name} must be an integer >= {minimum}, got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One supervised actor.

    Attributes:
        name: Readable name, unique among its siblings; the last segment of the actor name.
        factory: ``factory(actor_name)`` creates the actor and returns its handle. It must
            name the actor ``actor_name`` in the supervisor's namespace, and should pass
            ``lifetime="detached"`` (so a restarted supervisor can adopt it), ``num_cpus=0`` as
            fits, and keep Ray's ``max_restarts=0``: the supervisor restarts, not Ray. The actor
            must implement ``ping()``; ``stop()`` is optional (called before a kill).
        restart: Permanent, transient or temporary (see :class:`RestartType`).
        shutdown_timeout_s: How long a graceful ``stop()`` may take before ``ray.kill``.
        start_timeout_s: How long a new child may take to answer its first ping.
        significant: Its normal exit ends the supervisor when the supervisor has
            ``auto_shutdown`` (OTP's significant children); it must not be permanent.
    """

    name: str
    factory: ChildFactory
    restart: RestartType = RestartType.PERMANENT
    shutdown_timeout_s: float = 5.0
    start_timeout_s: float = 30.0
    significant: bool = False

    def __post_init__(self) -> None:
        check_name(self.name, "child name")
        owner = f"child {self.name!r}"
        if not callable(self.factory):
            raise SupervisorSpecError(
                f"{owner}: factory must be a callable taking the actor name and returning the "
                f"actor handle, e.g. lambda name: Actor.options(name=name, ...).remote(); "
                f"got {self.factory!r}"
            )
        object.__setattr__(self, "restart", _enum(RestartType, self.restart, "restart", owner))
        object.__setattr__(
            self,
            "shutdown_timeout_s",
            _positive(self.shutdown_timeout_s, "shutdown_timeout_s", owner),
        )
        object.__setattr__(
            self, "start_timeout_s", _positive(self.start_timeout_s, "start_timeout_s", owner)
        )
        if self.significant and self.restart is RestartType.PERMANENT:
            raise SupervisorSpecError(
                f"{owner}: a significant child must be transient or temporary (a permanent "
                "child never exits for good, so it could never end its supervisor)"
            )


@dataclass(frozen=True, slots=True)
class SupervisorSpec:
    """A supervisor: its children (workers or nested supervisors) and its failure policy.

    Attributes:
        name: Readable name; a root's actor is ``<prefix>/<name>``, a nested supervisor's is
            ``<prefix>/<parent path>/<name>``.
        children: Child specs, started in this order and stopped in reverse order. A nested
            :class:`SupervisorSpec` supervises a subtree and is itself a child.
        strategy: Restart strategy (see :class:`Strategy`).
        max_restarts: Restart intensity: more than this many restarts within ``period_s``
            makes the supervisor stop its children and escalate to its parent.
        period_s: Sliding window of the restart intensity, in seconds.
        heartbeat_interval_s: Time between pings of a child.
        heartbeat_timeout_s: A ping not answered within this time is a missed heartbeat.
        heartbeat_misses: A child is unhealthy (and restarted) after this many consecutive
            missed heartbeats. An actor error on ping means dead at once.
        loop_interval_s: Period of the reconcile loop (detection latency).
        restart_backoff_s: Delay before retrying a child whose factory raised.
        restart: How this supervisor is restarted as a child of its parent.
        shutdown_timeout_s: How long this supervisor's graceful stop may take (as a child).
        start_timeout_s: How long this supervisor may take to answer its first ping (as a
            child).
        auto_shutdown: When a significant child exits normally, stop every child and end
            this supervisor (OTP's ``auto_shutdown = any_significant``).
    """

    name: str
    children: tuple[ChildSpec | SupervisorSpec, ...] = field(default_factory=tuple)
    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    period_s: float = 5.0
    heartbeat_interval_s: float = 0.5
    heartbeat_timeout_s: float = 1.0
    heartbeat_misses: int = 3
    loop_interval_s: float = 0.1
    restart_backoff_s: float = 0.5
    restart: RestartType = RestartType.PERMANENT
    shutdown_timeout_s: float = 30.0
    start_timeout_s: float = 30.0
    auto_shutdown: bool = False

    def __post_init__(self) -> None:
        check_name(self.name, "supervisor name")
        owner = f"supervisor {self.name!r}"
        object.__setattr__(self, "children", self._checked_children(owner))
        object.__setattr__(self, "strategy", _enum(Strategy, self.strategy, "strategy", owner))
        object.__setattr__(self, "restart", _enum(RestartType, self.restart, "restart", owner))
        object.__setattr__(
            self, "max_restarts", _count(self.max_restarts, "max_restarts", owner, 0)
        )
        object.__setattr__(
            self, "heartbeat_misses", _count(self.heartbeat_misses, "heartbeat_misses", owner, 1)
        )
        for name in (
            "period_s",
            "heartbeat_interval_s",
            "heartbeat_timeout_s",
            "loop_interval_s",
            "restart_backoff_s",
            "shutdown_timeout_s",
            "start_timeout_s",
        ):
            object.__setattr__(self, name, _positive(getattr(self, name), name, owner))

    def _checked_children(self, owner: str) -> tuple[ChildSpec | SupervisorSpec, ...]:
        """Validate the children: spec types and unique names; return them as a tuple."""
        if isinstance(self.children, ChildSpec | SupervisorSpec) or not isinstance(
            self.children, Iterable
        ):
            raise SupervisorSpecError(
                f"{owner}: children must be a list of ChildSpec or SupervisorSpec, "
                f"got {self.children!r}"
            )
        children = tuple(self.children)
        seen: set[str] = set()
        for child in children:
            if not isinstance(child, ChildSpec | SupervisorSpec):
                raise SupervisorSpecError(
                    f"{owner}: every child must be a ChildSpec or a nested SupervisorSpec, "
                    f"got {child!r}"
                )
            if child.name in seen:
                raise SupervisorSpecError(
                    f"{owner}: two children are named {child.name!r}; sibling names must be "
                    "unique because they become Ray actor names"
                )
            seen.add(child.name)
        return children

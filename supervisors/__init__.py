"""OTP-style supervision of Ray actors (child specs, restart strategies, reconcile loops).

A supervised actor must implement ``ping()`` (any answer means alive; returning
:data:`DONE` means it finished normally) and may implement ``stop()`` (called before it is
killed, given the child's shutdown timeout). Ending itself with ``ray.actor.exit_actor()`` is
also a normal exit.
"""

from supervisors.child import ChildStatus, should_restart
from supervisors.errors import (
    ChildUnavailableError,
    SupervisionError,
    SupervisorEscalatedError,
    SupervisorSpecError,
)
from supervisors.events import EventKind, EventLog, EventSink, SupervisorEvent
from supervisors.health import DONE, Outcome, Probe
from supervisors.intensity import RestartIntensity
from supervisors.naming import child_actor_name, supervisor_actor_name
from supervisors.runtime import DEFAULT_PREFIX, find_supervisor, start_supervisor, wait_for_child
from supervisors.spec import ChildFactory, ChildSpec, RestartType, Strategy, SupervisorSpec
from supervisors.strategy import restart_scope
from supervisors.supervisor import Supervisor, SupervisorStatus
from supervisors.tree import TreeNode

__all__ = [
    "DEFAULT_PREFIX",
    "DONE",
    "ChildFactory",
    "ChildSpec",
    "ChildStatus",
    "ChildUnavailableError",
    "EventKind",
    "EventLog",
    "EventSink",
    "Outcome",
    "Probe",
    "RestartIntensity",
    "RestartType",
    "Strategy",
    "SupervisionError",
    "Supervisor",
    "SupervisorEscalatedError",
    "SupervisorEvent",
    "SupervisorSpec",
    "SupervisorSpecError",
    "SupervisorStatus",
    "TreeNode",
    "child_actor_name",
    "find_supervisor",
    "restart_scope",
    "should_restart",
    "start_supervisor",
    "supervisor_actor_name",
    "wait_for_child",
]

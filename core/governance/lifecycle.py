"""The lifecycle of an alpha or policy, as a pure state machine.

``born -> validated -> candidate -> active``, one step at a time; an active policy that a
promotion replaces goes back to ``candidate`` (kept ready for a rollback, which promotes it
again); ``retired`` is reachable from every other state and is final. The stores (the trial
registry, the policy ledger) append each move; the rules live only here.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import LifecycleError


class Status(StrEnum):
    """Where an alpha or policy stands."""

    BORN = "born"
    VALIDATED = "validated"
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


LIFECYCLE: tuple[str, ...] = tuple(s.value for s in Status)
"""The statuses in lifecycle order."""

ALLOWED: dict[Status, tuple[Status, ...]] = {
    Status.BORN: (Status.VALIDATED, Status.RETIRED),
    Status.VALIDATED: (Status.CANDIDATE, Status.RETIRED),
    Status.CANDIDATE: (Status.ACTIVE, Status.RETIRED),
    Status.ACTIVE: (Status.CANDIDATE, Status.RETIRED),
    Status.RETIRED: (),
}
"""The moves allowed from each status."""


def parse_status(value: str) -> Status:
    """The status named ``value``.

    Raises:
        LifecycleError: ``value`` names no status (the message lists them).
    """
    try:
        return Status(value)
    except ValueError:
        raise LifecycleError(f"unknown status {value!r}; expected one of {LIFECYCLE}") from None


def check_move(subject: str, current: str, target: str) -> Status:
    """The status after moving ``subject`` from ``current`` to ``target``.

    Args:
        subject: What moves, for the message (``"trial 1a2b in layer '1h'"``).
        current: Its status now.
        target: The status asked for.

    Raises:
        LifecycleError: ``target`` is unknown or not allowed from ``current``; the message
            names both and the moves allowed from ``current``.
    """
    now, wanted = parse_status(current), parse_status(target)
    allowed = ALLOWED[now]
    if wanted not in allowed:
        names = ", ".join(s.value for s in allowed) or "nothing (final)"
        raise LifecycleError(f"{subject} cannot go {now.value} -> {wanted.value}; "
                             f"allowed from {now.value}: {names}")
    return wanted

"""Driver-side helpers: start a root supervisor, find it, wait for a restarted child."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError

from supervisors.actor_ops import kill, lookup
from supervisors.errors import ChildUnavailableError
from supervisors.events import EventSink
from supervisors.naming import check_prefix, supervisor_actor_name
from supervisors.spec import SupervisorSpec
from supervisors.supervisor import Supervisor

DEFAULT_PREFIX = "evotrader"
_PROBE_TIMEOUT_S = 5.0


def start_supervisor(
    spec: SupervisorSpec,
    *,
    prefix: str = DEFAULT_PREFIX,
    namespace: str | None = None,
    clock: Callable[[], float] | None = None,
    event_sink: EventSink | None = None,
    max_events: int = 1000,
    lifetime: str | None = "detached",
) -> Any:
    """Start the root supervisor ``<prefix>/<spec.name>``, or return the live one.

    The supervisor starts its children itself (adopting live ones with the same names); this
    call does not wait for them. When a supervisor with that name is already alive (it
    answers a ping), its handle is returned and the arguments are ignored; one that does not
    answer (e.g. being killed) is killed and replaced.

    Args:
        spec: The root spec.
        prefix: First segment(s) of every actor name.
        namespace: Ray namespace of the tree (default: the driver's namespace).
        clock: Time source for event timestamps (default ``time.time``); must be picklable.
        event_sink: Callable or Ray actor method receiving every event of the tree.
        max_events: Size of each supervisor's in-memory event log.
        lifetime: Ray lifetime of the supervisors (``"detached"``: they outlive the driver).

    Returns:
        The root supervisor's actor handle.
    """
    check_prefix(prefix)
    ns = namespace or ray.get_runtime_context().namespace
    name = supervisor_actor_name(prefix, spec.name)
    _replace_if_unresponsive(name, ns)
    return Supervisor.options(
        name=name,
        namespace=ns,
        lifetime=lifetime,
        get_if_exists=True,
        num_cpus=0,
        max_restarts=0,
    ).remote(
        spec,
        prefix=prefix,
        namespace=ns,
        clock=clock,
        event_sink=event_sink,
        max_events=max_events,
        lifetime=lifetime,
    )


def _replace_if_unresponsive(name: str, namespace: str) -> None:
    """Kill a supervisor registered as ``name`` that does not answer, and wait for its name."""
    existing = lookup(name, namespace)
    if existing is None:
        return
    try:
        ray.get(existing.status.remote(), timeout=_PROBE_TIMEOUT_S)
        return
    except Exception:  # dead, dying or hung: replace it
        kill(existing)
    deadline = time.monotonic() + _PROBE_TIMEOUT_S
    while lookup(name, namespace) is not None and time.monotonic() < deadline:
        time.sleep(0.01)


def find_supervisor(
    path: str, *, prefix: str = DEFAULT_PREFIX, namespace: str | None = None
) -> Any:
    """The live supervisor at ``path`` (``"root"`` or ``"root/trading"``), e.g. for a CLI.

    Raises:
        ValueError: No live supervisor has that name (Ray's ``get_actor`` error).
    """
    ns = namespace or ray.get_runtime_context().namespace
    return ray.get_actor(supervisor_actor_name(prefix, path), namespace=ns)


def wait_for_child(supervisor: Any, name: str, timeout_s: float = 30.0) -> Any:
    """Block until ``supervisor``'s child ``name`` answers again; return its handle.

    Typical use after a call raised ``RayActorError``::

        handle = wait_for_child(root, "trading/executor", timeout_s=10)
        ray.get(handle.submit.remote(order))

    Raises:
        ChildUnavailableError: The child will not come back, or not within ``timeout_s``.
    """
    started = time.monotonic()
    try:
        return ray.get(supervisor.wait_child.remote(name, timeout_s), timeout=timeout_s + 10)
    except GetTimeoutError as exc:
        waited = time.monotonic() - started
        raise ChildUnavailableError(
            f"the supervisor did not answer wait_child({name!r}) within {waited:.1f} s"
        ) from exc

"""Polling helpers for the supervision tests (generous timeouts, no tight timing asserts)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import ray

from supervisors import SupervisorSpec, wait_for_child
from supervisors.actor_ops import actor_id

TIMEOUT_S = 20.0

FAST = {
    "loop_interval_s": 0.1,
    "heartbeat_interval_s": 0.1,
    "heartbeat_timeout_s": 1.0,
    "heartbeat_misses": 2,
    "max_restarts": 10,
    "period_s": 60.0,
    "restart_backoff_s": 0.2,
}


def fast_spec(name: str, children, **overrides) -> SupervisorSpec:
    """A supervisor spec with a fast loop and heartbeat (tests only)."""
    return SupervisorSpec(name, children=children, **{**FAST, **overrides})


def wait_until(predicate: Callable[[], object], what: str, timeout_s: float = TIMEOUT_S):
    """Poll ``predicate`` until truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def ids(supervisor, names) -> dict[str, str]:
    """Actor id of each named child once it answers."""
    return {name: actor_id(wait_for_child(supervisor, name, TIMEOUT_S)) for name in names}


def replaced(supervisor, name: str, old_id: str):
    """Wait until child ``name`` runs as a new actor (not ``old_id``); return its handle."""

    def new_handle():
        handle = wait_for_child(supervisor, name, TIMEOUT_S)
        return handle if actor_id(handle) != old_id else None

    return wait_until(new_handle, f"{name} to be restarted")


def kill_child(handle, how: str) -> None:
    """Kill a child by ``ray.kill`` or by SIGKILL to its worker process."""
    if how == "ray.kill":
        ray.kill(handle)
    elif how == "sigkill":
        os.kill(ray.get(handle.pid.remote(), timeout=TIMEOUT_S), signal.SIGKILL)
    else:
        raise ValueError(how)


def events(sup, /, **match):
    """Events of supervisor ``sup`` whose fields equal ``match`` (kind compared by value)."""
    found = ray.get(sup.events.remote(0), timeout=TIMEOUT_S)
    return [e for e in found if all(str(getattr(e, k)) == str(v) for k, v in match.items())]


def wait_event(sup, /, **match):
    """Wait for an event of supervisor ``sup`` matching ``match``; return the matches."""
    return wait_until(lambda: events(sup, **match), f"event {match}")

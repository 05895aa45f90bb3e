"""Heartbeats: a child whose ping hangs is declared unhealthy and restarted."""

from __future__ import annotations

import ray

from supervisors import ChildSpec, start_supervisor, wait_for_child
from tests.supervisors.helpers import fast_spec, ids, kill_child, replaced, wait_event
from tests.supervisors.workers import WorkerFactory


def test_a_hanging_child_is_unhealthy_after_missed_heartbeats_and_restarted(prefix, namespace):
    factory = WorkerFactory(namespace)
    spec = fast_spec(
        "root",
        [ChildSpec("steady", factory), ChildSpec("stuck", factory)],
        heartbeat_timeout_s=0.5,
        heartbeat_misses=3,
    )
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    before = ids(root, ["steady", "stuck"])

    ray.get(wait_for_child(root, "stuck").hang.remote())
    unhealthy = wait_event(root, child="stuck", kind="unhealthy")
    assert "3 missed heartbeats" in unhealthy[0].detail
    fresh = replaced(root, "stuck", before["stuck"])
    assert ray.get(fresh.ping.remote()) == "ok"
    assert ids(root, ["steady"]) == {"steady": before["steady"]}


def test_a_death_is_noticed_through_the_death_watch_long_before_the_next_ping(prefix,
                                                                              namespace):
    # Pings every 60 s: only the always-pending watch call can tell the supervisor, within
    # the helpers' 20-s wait, that its child was killed.
    spec = fast_spec("root", [ChildSpec("watched", WorkerFactory(namespace))],
                     heartbeat_interval_s=60.0, heartbeat_timeout_s=120.0)
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    before = ids(root, ["watched"])
    assert ray.get(wait_for_child(root, "watched").ping.remote()) == "ok"
    kill_child(wait_for_child(root, "watched"), "sigkill")
    died = wait_event(root, child="watched", kind="died")
    assert "worker process has died" in died[0].detail
    fresh = replaced(root, "watched", before["watched"])
    assert ray.get(fresh.ping.remote()) == "ok"

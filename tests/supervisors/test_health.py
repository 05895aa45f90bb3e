"""Heartbeats: a child whose ping hangs is declared unhealthy and restarted."""

from __future__ import annotations

import ray

from supervisors import ChildSpec, start_supervisor, wait_for_child
from tests.supervisors.helpers import fast_spec, ids, replaced, wait_event
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

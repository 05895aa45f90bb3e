"""Intensity: a nested supervisor escalates to its parent; the root escalates and stops all."""

from __future__ import annotations

import pytest
import ray

from supervisors import (
    ChildSpec,
    ChildUnavailableError,
    SupervisorEscalatedError,
    start_supervisor,
    wait_for_child,
)
from supervisors.actor_ops import actor_id
from tests.supervisors.helpers import (
    TIMEOUT_S,
    events,
    fast_spec,
    ids,
    kill_child,
    replaced,
    wait_event,
)
from tests.supervisors.workers import Collector, WorkerFactory


def test_escalation_climbs_the_tree_and_the_root_stops_everything(prefix, namespace):
    factory = WorkerFactory(namespace)
    inner = fast_spec("inner", [ChildSpec("w", factory)], max_restarts=1)
    spec = fast_spec("root", [ChildSpec("solo", factory), inner], max_restarts=1)
    collector = Collector.options(num_cpus=0).remote()
    root = start_supervisor(spec, prefix=prefix, namespace=namespace, event_sink=collector.record)
    try:
        run(root, prefix, namespace, collector)
    finally:
        ray.kill(collector)


def run(root, prefix, namespace, collector):
    before = ids(root, ["solo", "inner", "inner/w"])

    # 1st failure of inner/w: the nested supervisor restarts it (its intensity: 1 restart)
    kill_child(wait_for_child(root, "inner/w"), "ray.kill")
    first = replaced(root, "inner/w", before["inner/w"])

    # 2nd failure: inner exceeds its intensity, stops w, escalates; root restarts inner
    kill_child(first, "sigkill")
    escalated = wait_event(root, supervisor="root/inner", kind="escalated")
    assert "exceed max_restarts=1" in escalated[0].detail
    died = wait_event(root, supervisor="root", child="inner", kind="died")
    assert "escalated" in died[0].detail
    new_inner = replaced(root, "inner", before["inner"])
    assert ray.get(new_inner.status.remote()) in ("starting", "running")
    w = wait_for_child(root, "inner/w", TIMEOUT_S)
    assert actor_id(w) not in (before["inner/w"], actor_id(first))
    assert ids(root, ["solo"]) == {"solo": before["solo"]}
    assert ray.get(root.restart_counts.remote()) == {"solo": 0, "inner": 1}

    # the root exceeds its own intensity (1): it stops everything and records it
    kill_child(wait_for_child(root, "solo"), "ray.kill")
    escalation = wait_event(root, supervisor="root", child="", kind="escalated")
    assert ray.get(root.status.remote()) == "escalated"
    assert "child 'solo' died" in escalation[0].detail
    assert {e.child for e in events(root, supervisor="root", kind="stopped")} == {"inner"}
    assert events(root, supervisor="root/inner", child="w", kind="stopped")
    left = [n for n in ray.util.list_named_actors() if n.startswith(prefix + "/")]
    assert left == [f"{prefix}/root"]
    with pytest.raises(SupervisorEscalatedError):
        ray.get(root.ping.remote(), timeout=TIMEOUT_S)
    with pytest.raises(ChildUnavailableError):
        wait_for_child(root, "solo", 1)
    tree = ray.get(root.tree.remote())
    assert tree.status == "escalated"
    assert {c.status for c in tree.children} == {"stopped"}

    # the sink saw the whole tree, nested events included, in the root log's order
    received = ray.get(collector.events.remote())
    logged = ray.get(root.events.remote(0))
    assert [(e.supervisor, e.child, e.kind) for e in received] == [
        (e.supervisor, e.child, e.kind) for e in logged
    ]
    assert {e.supervisor for e in received} == {"root", "root/inner"}

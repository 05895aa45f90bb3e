"""A re-created supervisor adopts live children instead of starting duplicates."""

from __future__ import annotations

import ray

from supervisors import ChildSpec, find_supervisor, start_supervisor, wait_for_child
from supervisors.actor_ops import actor_id
from tests.supervisors.helpers import (
    events,
    fast_spec,
    ids,
    kill_child,
    replaced,
    wait_event,
    wait_until,
)
from tests.supervisors.workers import WorkerFactory


def named(prefix):
    return sorted(n for n in ray.util.list_named_actors() if n.startswith(prefix + "/"))


def test_killed_supervisors_come_back_and_adopt_their_live_children(prefix, namespace):
    factory = WorkerFactory(namespace)
    inner = fast_spec("inner", [ChildSpec("b", factory)])
    spec = fast_spec("root", [ChildSpec("a", factory), inner])
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    before = ids(root, ["a", "inner", "inner/b"])
    actors = named(prefix)

    # the root supervisor itself dies; a new one (same name) adopts a and inner (and so b)
    ray.kill(root)  # asynchronous: wait until Ray has released the name
    wait_until(lambda: f"{prefix}/root" not in named(prefix), "the root's name to be free")
    root2 = start_supervisor(spec, prefix=prefix, namespace=namespace)
    adopted = wait_event(root2, supervisor="root", kind="adopted")
    wait_until(lambda: len(events(root2, supervisor="root", kind="adopted")) == 2, "2 adoptions")
    assert {e.child for e in events(root2, supervisor="root", kind="adopted")} == {"a", "inner"}
    assert adopted[0].child == "a"
    assert ids(root2, ["a", "inner", "inner/b"]) == before
    assert not events(root2, kind="started")
    assert named(prefix) == actors  # no duplicates
    assert actor_id(root2) != actor_id(root)
    assert actor_id(find_supervisor("root", prefix=prefix, namespace=namespace)) == actor_id(root2)
    assert actor_id(start_supervisor(spec, prefix=prefix, namespace=namespace)) == actor_id(root2)

    # the adopting root supervises for real: a killed child is restarted
    kill_child(wait_for_child(root2, "a"), "sigkill")
    replaced(root2, "a", before["a"])

    # the nested supervisor dies: the root restarts it and the new one adopts b
    inner = find_supervisor("root/inner", prefix=prefix, namespace=namespace)
    kill_child(inner, "ray.kill")
    replaced(root2, "inner", before["inner"])
    wait_event(root2, supervisor="root/inner", child="b", kind="adopted")
    assert ids(root2, ["inner/b"]) == {"inner/b": before["inner/b"]}
    assert ray.get(root2.restart_counts.remote()) == {"a": 1, "inner": 1}

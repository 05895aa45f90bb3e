"""one_for_one, one_for_all, rest_for_one on real Ray actors killed by ray.kill and SIGKILL."""

from __future__ import annotations

import ray

from supervisors import ChildSpec, start_supervisor, wait_for_child
from supervisors.actor_ops import actor_id
from tests.supervisors.helpers import (
    TIMEOUT_S,
    events,
    fast_spec,
    ids,
    kill_child,
    replaced,
    wait_until,
)
from tests.supervisors.workers import WorkerFactory

NAMES = ("a", "b", "c")


def fixed_clock() -> float:
    return 1234.5


def start(prefix, namespace, strategy, **kwargs):
    factory = WorkerFactory(namespace)
    spec = fast_spec("root", [ChildSpec(n, factory) for n in NAMES], strategy=strategy)
    return start_supervisor(spec, prefix=prefix, namespace=namespace, **kwargs)


def kill_and_wait(root, before, victim, how, expect_new):
    """Kill ``victim`` and wait until exactly ``expect_new`` children run as new actors."""
    kill_child(wait_for_child(root, victim, TIMEOUT_S), how)
    after = {name: before[name] for name in NAMES}
    for name in expect_new:
        after[name] = actor_id(replaced(root, name, before[name]))
    now = ids(root, NAMES)
    assert now == after
    assert {n for n in NAMES if now[n] != before[n]} == set(expect_new)
    return now


def restarted_order(root, since):
    return [e.child for e in events(root, kind="restarted") if e.seq > since]


def last_seq(root):
    return ray.get(root.events.remote(0))[-1].seq


def test_one_for_one_restarts_only_the_killed_child(prefix, namespace):
    root = start(prefix, namespace, "one_for_one", clock=fixed_clock)
    before = ids(root, NAMES)
    assert ray.get(root.ping.remote()) in ("starting", "running")

    after = kill_and_wait(root, before, "b", "ray.kill", expect_new=["b"])
    kill_and_wait(root, after, "c", "sigkill", expect_new=["c"])

    assert ray.get(root.restart_counts.remote()) == {"a": 0, "b": 1, "c": 1}
    died = events(root, kind="died")
    assert [e.child for e in died] == ["b", "c"]
    assert "ray.kill" in died[0].detail and "worker process has died" in died[1].detail
    assert {e.ts for e in events(root)} == {1234.5}  # timestamps from the injected clock
    assert [e.child for e in events(root, kind="started")] == ["a", "b", "c"]
    tree = ray.get(root.tree.remote())
    assert [(n.name, n.status, n.restarts) for n in tree.children] == [
        ("a", "running", 0), ("b", "running", 1), ("c", "running", 1)
    ]
    assert tree.children[1].actor_name == f"{prefix}/root/b"


def test_one_for_all_restarts_every_child_in_order(prefix, namespace):
    root = start(prefix, namespace, "one_for_all")
    before = ids(root, NAMES)
    wait_until(lambda: ray.get(root.status.remote()) == "running", "root running")

    mark = last_seq(root)
    after = kill_and_wait(root, before, "b", "sigkill", expect_new=NAMES)
    assert restarted_order(root, mark) == ["a", "b", "c"]
    assert [e.child for e in events(root, kind="stopped") if e.seq > mark] == ["c", "a"]

    mark = last_seq(root)
    kill_and_wait(root, after, "a", "ray.kill", expect_new=NAMES)
    assert restarted_order(root, mark) == ["a", "b", "c"]
    assert ray.get(root.restart_counts.remote()) == {"a": 2, "b": 2, "c": 2}


def test_rest_for_one_restarts_the_child_and_those_after_it(prefix, namespace):
    root = start(prefix, namespace, "rest_for_one")
    before = ids(root, NAMES)

    mark = last_seq(root)
    after = kill_and_wait(root, before, "b", "ray.kill", expect_new=["b", "c"])
    assert restarted_order(root, mark) == ["b", "c"]

    mark = last_seq(root)
    kill_and_wait(root, after, "a", "sigkill", expect_new=NAMES)
    assert restarted_order(root, mark) == ["a", "b", "c"]
    assert ray.get(root.restart_counts.remote()) == {"a": 1, "b": 2, "c": 2}

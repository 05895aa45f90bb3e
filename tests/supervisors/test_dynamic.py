"""Children that come and go while a supervisor runs (start/terminate/replace_child)."""

from __future__ import annotations

import pytest
import ray

from supervisors import ChildSpec, start_supervisor, wait_for_child
from supervisors.actor_ops import actor_id, lookup
from supervisors.errors import ChildUnavailableError, SupervisorSpecError
from tests.supervisors.helpers import TIMEOUT_S, events, fast_spec, kill_child, replaced, wait_until
from tests.supervisors.workers import WorkerFactory


def start(prefix, namespace, strategy="rest_for_one"):
    factory = WorkerFactory(namespace)
    spec = fast_spec("root", [ChildSpec(n, factory) for n in ("a", "b")], strategy=strategy)
    return start_supervisor(spec, prefix=prefix, namespace=namespace), factory


def names(root) -> list[str]:
    return [c.name for c in ray.get(root.spec.remote(), timeout=TIMEOUT_S).children]


def test_an_added_child_is_supervised_like_a_declared_one(prefix, namespace):
    root, factory = start(prefix, namespace)
    a = wait_for_child(root, "a", TIMEOUT_S)
    actor = ray.get(root.start_child.remote(ChildSpec("cand-1", factory)), timeout=TIMEOUT_S)
    assert actor == f"{prefix}/root/cand-1"
    added = wait_for_child(root, "cand-1", TIMEOUT_S)
    assert ray.get(added.echo.remote(7)) == 7
    assert names(root) == ["a", "b", "cand-1"]
    assert ray.get(root.spec_version.remote()) == 1
    # killed, it is restarted; rest_for_one: the children before it are left alone
    kill_child(added, "ray.kill")
    replaced(root, "cand-1", actor_id(added))
    assert actor_id(wait_for_child(root, "a", TIMEOUT_S)) == actor_id(a)
    with pytest.raises(SupervisorSpecError, match="two children are named 'a'"):
        ray.get(root.start_child.remote(ChildSpec("a", factory)), timeout=TIMEOUT_S)
    assert names(root) == ["a", "b", "cand-1"]


def test_a_terminated_child_is_stopped_and_forgotten(prefix, namespace):
    root, _ = start(prefix, namespace)
    b = wait_for_child(root, "b", TIMEOUT_S)
    how = ray.get(root.terminate_child.remote("b"), timeout=TIMEOUT_S)
    assert how  # stopped gracefully (or killed after its timeout)
    wait_until(lambda: lookup(f"{prefix}/root/b", namespace) is None, "b's name to be free")
    assert names(root) == ["a"]
    assert any("terminated on request" in e.detail for e in events(root, child="b"))
    with pytest.raises(ChildUnavailableError, match="no child 'b'"):
        wait_for_child(root, "b", 1.0)
    # what is left is still supervised
    a = wait_for_child(root, "a", TIMEOUT_S)
    kill_child(a, "ray.kill")
    replaced(root, "a", actor_id(a))
    del b


def test_a_replaced_child_takes_its_place_in_the_start_order(prefix, namespace):
    root, factory = start(prefix, namespace)
    a = wait_for_child(root, "a", TIMEOUT_S)
    b = wait_for_child(root, "b", TIMEOUT_S)
    ray.get(root.replace_child.remote("a", ChildSpec("a2", factory)), timeout=TIMEOUT_S)
    assert names(root) == ["a2", "b"]
    a2 = wait_for_child(root, "a2", TIMEOUT_S)
    wait_until(lambda: lookup(f"{prefix}/root/a", namespace) is None, "a's name to be free")
    assert actor_id(wait_for_child(root, "b", TIMEOUT_S)) == actor_id(b)  # b left alone
    # rest_for_one in the new order: a2's death restarts b after it
    kill_child(a2, "ray.kill")
    replaced(root, "a2", actor_id(a2))
    replaced(root, "b", actor_id(b))
    # the same name with a new definition: a new incarnation
    old = wait_for_child(root, "b", TIMEOUT_S)
    ray.get(root.replace_child.remote("b", ChildSpec("b", WorkerFactory(namespace))),
            timeout=TIMEOUT_S)
    assert actor_id(replaced(root, "b", actor_id(old))) != actor_id(old)
    assert ray.get(root.spec_version.remote()) == 2
    del a

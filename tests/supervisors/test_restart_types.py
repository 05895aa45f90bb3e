"""permanent / transient / temporary children, normal exits and kills, under one_for_one."""

from __future__ import annotations

import pytest
import ray

from supervisors import ChildSpec, ChildUnavailableError, start_supervisor, wait_for_child
from tests.supervisors.helpers import (
    TIMEOUT_S,
    events,
    fast_spec,
    ids,
    kill_child,
    replaced,
    wait_event,
    wait_until,
)
from tests.supervisors.workers import WorkerFactory


def status_of(root, name):
    return ray.get(root.tree.remote()).find(name).status


def settles(root, name, status):
    wait_until(lambda: status_of(root, name) == status, f"{name} to be {status}")


def test_restart_types_decide_what_comes_back(prefix, namespace):
    factory = WorkerFactory(namespace)
    spec = fast_spec(
        "root",
        [
            ChildSpec("perm", factory, restart="permanent"),
            ChildSpec("done", factory, restart="transient"),
            ChildSpec("trans", factory, restart="transient"),
            ChildSpec("temp", factory, restart="temporary"),
        ],
    )
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    before = ids(root, ["perm", "done", "trans", "temp"])

    # permanent: restarted even after a normal exit
    ray.get(wait_for_child(root, "perm").finish.remote())
    replaced(root, "perm", before["perm"])
    assert events(root, child="perm", kind="exited")

    # transient, normal exit (ping answers DONE): not restarted, and stopped cleanly
    ray.get(wait_for_child(root, "done").finish.remote())
    wait_event(root, child="done", kind="exited")
    settles(root, "done", "exited")
    with pytest.raises(ChildUnavailableError, match="will not be restarted"):
        wait_for_child(root, "done", 2)

    # transient, killed: restarted; then exit_actor() (a normal exit): not restarted
    kill_child(wait_for_child(root, "trans"), "ray.kill")
    handle = replaced(root, "trans", before["trans"])
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(handle.quit.remote(), timeout=TIMEOUT_S)
    exited = wait_event(root, child="trans", kind="exited")
    assert "exit_actor" in exited[0].detail
    settles(root, "trans", "exited")

    # temporary: never restarted, not even after a kill
    kill_child(wait_for_child(root, "temp"), "sigkill")
    wait_event(root, child="temp", kind="died")
    settles(root, "temp", "dead")
    assert not events(root, child="temp", kind="restarted")

    assert ray.get(root.restart_counts.remote()) == {"perm": 1, "done": 0, "trans": 1, "temp": 0}
    names = set(ray.util.list_named_actors())
    assert f"{prefix}/root/perm" in names and f"{prefix}/root/temp" not in names
    assert f"{prefix}/root/done" not in names and f"{prefix}/root/trans" not in names

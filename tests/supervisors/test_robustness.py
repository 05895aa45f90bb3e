"""The loop survives a raising factory; stop() is graceful and ordered; callers retry."""

from __future__ import annotations

import statistics
import time

import ray
from ray.exceptions import RayActorError

from supervisors import ChildSpec, start_supervisor, wait_for_child
from supervisors.actor_ops import actor_id
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


def test_the_reconcile_loop_survives_a_raising_factory(prefix, namespace):
    good, flaky = WorkerFactory(namespace), WorkerFactory(namespace, fail_first=2)
    spec = fast_spec("root", [ChildSpec("a", good), ChildSpec("b", flaky)], max_restarts=5)
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)

    errors = wait_until(lambda: len(events(root, child="b", kind="error")) >= 2, "2 errors")
    assert errors
    failures = events(root, child="b", kind="error")
    assert "RuntimeError: factory failure #1 (test)" in failures[0].detail
    assert "factory failure #2" in failures[1].detail
    before = ids(root, ["a", "b"])  # b started on the third attempt
    assert [e.child for e in events(root, kind="started")] == ["a", "b"]

    kill_child(wait_for_child(root, "a"), "sigkill")  # the loop still supervises
    replaced(root, "a", before["a"])
    assert ray.get(root.status.remote()) == "running"


def test_stop_is_graceful_in_reverse_order_and_kills_after_the_timeout(prefix, namespace,
                                                                        tmp_path):
    journal = tmp_path / "stopped.txt"
    quick = WorkerFactory(namespace, journal=journal)
    slow = WorkerFactory(namespace, journal=journal, stop_delay_s=30)
    spec = fast_spec(
        "root",
        [ChildSpec("a", quick), ChildSpec("b", quick),
         ChildSpec("c", slow, shutdown_timeout_s=0.5)],
    )
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    ids(root, ["a", "b", "c"])

    started = time.monotonic()
    ray.get(root.stop.remote(), timeout=TIMEOUT_S)
    assert time.monotonic() - started < 15  # c was killed after 0.5 s, not after its 30 s stop

    assert journal.read_text().splitlines() == ["b", "a"]  # c never finished its stop()
    stopped = events(root, kind="stopped")
    assert [e.child for e in stopped] == ["c", "b", "a", ""]
    assert "did not return within 0.5 s; killed" in stopped[0].detail
    assert "stopped gracefully" in stopped[1].detail
    assert [n for n in ray.util.list_named_actors() if n.startswith(prefix + "/")] == [
        f"{prefix}/root"
    ]
    assert ray.get(root.status.remote()) == "stopped"
    assert ray.get(root.ping.remote()) == "done"


def call_fails(handle) -> bool:
    """Whether a call raises RayActorError (ray.kill is asynchronous: it may not yet)."""
    try:
        ray.get(handle.echo.remote(2), timeout=TIMEOUT_S)
    except RayActorError:
        return True
    return False


def test_a_caller_retries_on_the_restarted_child(prefix, namespace):
    spec = fast_spec("root", [ChildSpec("svc", WorkerFactory(namespace))])
    root = start_supervisor(spec, prefix=prefix, namespace=namespace)
    handle = wait_for_child(root, "svc", TIMEOUT_S)
    assert ray.get(handle.echo.remote(1)) == 1

    timings = []
    for round_ in range(4):
        old = actor_id(handle)
        kill_child(handle, "ray.kill" if round_ % 2 else "sigkill")
        killed_at = time.monotonic()
        wait_until(lambda h=handle: call_fails(h), "calls to the killed child to fail")
        handle = wait_for_child(root, "svc", TIMEOUT_S)  # may still be the dead one
        while actor_id(handle) == old:
            time.sleep(0.01)
            handle = wait_for_child(root, "svc", TIMEOUT_S)
        assert ray.get(handle.echo.remote(3), timeout=TIMEOUT_S) == 3
        timings.append(time.monotonic() - killed_at)
    print(f"kill -> restarted child answering: median {statistics.median(timings):.3f} s, "
          f"all {[round(t, 3) for t in timings]}")
    assert ray.get(root.restart_counts.remote()) == {"svc": 4}
    assert len(wait_event(root, child="svc", kind="restarted")) == 4

"""Calls to named actors: a call never waited on still notices that its actor died."""

from __future__ import annotations

import time

import pytest
import ray

from actors.live.calls import ActorDirectory, submit

pytestmark = pytest.mark.usefixtures("ray_session")


@ray.remote(num_cpus=0, max_restarts=0)
class _Echo:
    def __init__(self, label: str) -> None:
        self.label = label

    def echo(self, value: int) -> tuple[str, int]:
        return self.label, value


def _await_death(actor, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.echo.remote(-1), timeout=timeout_s)
        except ray.exceptions.RayActorError:
            return
    raise AssertionError("the killed actor still answers")


def test_a_dead_callee_of_a_fire_and_forget_call_is_looked_up_again():
    namespace = ray.get_runtime_context().namespace
    name = "test-calls/echo"
    first = _Echo.options(name=name, namespace=namespace).remote("first")
    assert ray.get(first.echo.remote(0)) == ("first", 0)
    directory = ActorDirectory(namespace, timeout_s=30.0)
    assert directory.handle(name)._actor_id == first._actor_id
    ray.kill(first, no_restart=True)
    _await_death(first)  # ray.kill is asynchronous: a call sent at once may still be served
    sent = submit(directory, [(name, "echo", (1,), {})])
    while not sent.settle():  # the call to the dead actor fails (an ActorDiedError)
        pass
    assert directory.retries == {name: 1}
    second = _Echo.options(name=name, namespace=namespace).remote("second")
    try:
        later = submit(directory, [(name, "echo", (2,), {})])
        assert later.result() == [("second", 2)]
        assert directory.handle(name)._actor_id == second._actor_id
    finally:
        ray.kill(second, no_restart=True)

"""Fixtures for the supervision tests: a unique actor-name prefix per test, cleaned up after."""

from __future__ import annotations

import contextlib
import time
import uuid

import pytest
import ray


@pytest.fixture
def namespace(ray_session) -> str:
    """The Ray namespace of the session's driver."""
    return ray.get_runtime_context().namespace


@pytest.fixture
def prefix(namespace):
    """A unique actor-name prefix; every actor under it is killed at the end of the test."""
    value = f"t{uuid.uuid4().hex[:8]}"
    yield value
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        names = [n for n in ray.util.list_named_actors() if n.startswith(value + "/")]
        if not names:
            return
        for name in sorted(names, key=lambda n: n.count("/")):  # supervisors first
            with contextlib.suppress(ValueError):  # already gone
                ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
        time.sleep(0.2)
    pytest.fail(f"actors under {value!r} survived the cleanup")

"""Ray actor operations the supervisor needs: find by name, create checked, stop, kill.

All of them are safe to call from the supervisor's event loop: the blocking Ray calls here
(``get_actor``, ``kill``) are quick control-plane requests; waits are ``await``-ed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import ray

from supervisors.errors import SupervisionError

_NAME_POLL_S = 0.01


def actor_id(handle: Any) -> str:
    """The hex id of the actor behind ``handle`` (``""`` if it cannot be read)."""
    ident = getattr(handle, "_actor_id", None)
    return ident.hex() if ident is not None else ""


async def await_ref(ref: Any, timeout_s: float) -> Any:
    """Await a Ray ObjectRef for at most ``timeout_s`` (raises ``TimeoutError``)."""
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_s)


def lookup(name: str, namespace: str) -> Any | None:
    """The live named actor ``name`` in ``namespace``, or None when there is none."""
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None


def kill(handle: Any) -> None:
    """``ray.kill`` without Ray restarts; an actor already gone is fine."""
    with contextlib.suppress(Exception):  # already dead or never created: nothing to kill
        ray.kill(handle, no_restart=True)


async def wait_name_free(name: str, namespace: str, timeout_s: float) -> bool:
    """Wait until no live actor holds ``name``; return False if still taken at the timeout."""
    deadline = time.monotonic() + timeout_s
    while lookup(name, namespace) is not None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_NAME_POLL_S)
    return True


async def stop_gracefully(handle: Any, timeout_s: float) -> str:
    """Call the actor's ``stop()`` if it has one, wait up to ``timeout_s``, then kill it.

    Returns:
        How it ended, for the ``stopped`` event.
    """
    how = "killed (no stop method)"
    if _has_method(handle, "stop"):
        try:
            await await_ref(handle.stop.remote(), timeout_s)
            how = "stopped gracefully"
        except TimeoutError:
            how = f"stop() did not return within {timeout_s:g} s; killed"
        except Exception as exc:  # the actor died or stop raised: kill it regardless
            how = f"stop() raised {type(exc).__name__}; killed"
    kill(handle)
    return how


def create_named(factory: Callable[[str], Any], name: str, namespace: str) -> Any:
    """Create a child with ``factory(name)`` and check that it is the named actor.

    Raises:
        SupervisionError: The factory returned something that is not an actor handle with a
            ``ping`` method, or did not register the actor as ``name`` in ``namespace`` (the
            stray actor is killed).
        Exception: Whatever the factory raised.
    """
    handle = factory(name)
    if not _has_method(handle, "ping"):
        kill(handle)
        raise SupervisionError(
            f"the factory for {name!r} returned {handle!r}, which has no ping() method: every "
            "supervised actor must define ping()"
        )
    registered = lookup(name, namespace)
    if registered is None or actor_id(registered) != actor_id(handle):
        kill(handle)
        raise SupervisionError(
            f"the factory for {name!r} must create the actor with "
            f".options(name={name!r}, namespace={namespace!r}); the actor it returned is not "
            "registered under that name"
        )
    return handle


def _has_method(handle: Any, method: str) -> bool:
    """Whether an actor handle exposes ``method``."""
    try:
        return callable(getattr(getattr(handle, method), "remote", None))
    except AttributeError:
        return False

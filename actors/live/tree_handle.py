"""Finding and removing a session's supervision tree by name (light: no actor imports).

Shared by the command line that starts and follows a session (:mod:`actors.live.run`) and
the control commands (:mod:`actors.live.commands`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import ray

from actors.live.names import PREFIX, ROOT
from supervisors.naming import supervisor_actor_name


def root_supervisor(namespace: str) -> Any | None:
    """The handle of the session's root supervisor in ``namespace``, or None."""
    try:
        return ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=namespace)
    except ValueError:
        return None


def stop_tree(namespace: str) -> bool:
    """Stop every actor of the tree (children first), then the root.

    Returns:
        False when there was no tree.
    """
    root = root_supervisor(namespace)
    if root is None:
        return False
    with contextlib.suppress(Exception):  # a dying tree must not hide the result
        ray.get(root.stop.remote(), timeout=120)
    with contextlib.suppress(Exception):
        ray.kill(root, no_restart=True)
    return True


__all__ = ["root_supervisor", "stop_tree"]

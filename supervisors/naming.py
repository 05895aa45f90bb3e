"""Ray actor names of supervisors and children: ``<prefix>/<path>/<child>``.

A supervisor whose path is ``root/trading`` is the actor ``<prefix>/root/trading``; its child
``executor`` is the actor ``<prefix>/root/trading/executor``. Restarted children get the same
name, so a restarted supervisor or a CLI finds them with ``ray.get_actor(name, namespace=...)``.
"""

from __future__ import annotations

import re

from supervisors.errors import SupervisorSpecError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SEPARATOR = "/"


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is a valid path segment, else raise an actionable error.

    Args:
        name: The proposed child or supervisor name.
        what: What is being named, for the message (e.g. ``"child name"``).

    Returns:
        The name, unchanged.

    Raises:
        SupervisorSpecError: ``name`` is not 1-64 letters, digits, ``_``, ``-`` or ``.``
            starting with a letter or digit.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise SupervisorSpecError(
            f"{what} {name!r} is invalid: use 1-64 letters, digits, '_', '-' or '.', starting "
            f"with a letter or digit (no '{SEPARATOR}': it separates the path in actor names)"
        )
    return name


def check_prefix(prefix: object) -> str:
    """Return ``prefix`` if it is one or more valid segments joined by ``/``.

    Raises:
        SupervisorSpecError: The prefix is empty or has an invalid segment.
    """
    if not isinstance(prefix, str) or not prefix:
        raise SupervisorSpecError(f"actor name prefix {prefix!r} must be a non-empty string")
    for segment in prefix.split(SEPARATOR):
        check_name(segment, f"segment of the actor name prefix {prefix!r}:")
    return prefix


def supervisor_actor_name(prefix: str, path: str) -> str:
    """The Ray actor name of the supervisor at ``path`` (e.g. ``"root/trading"``)."""
    return f"{prefix}{SEPARATOR}{path}"


def child_actor_name(prefix: str, path: str, child: str) -> str:
    """The Ray actor name of ``child`` supervised by the supervisor at ``path``."""
    return f"{prefix}{SEPARATOR}{path}{SEPARATOR}{child}"

"""Errors raised by the supervision layer, each saying what the system does about it."""

from __future__ import annotations

from core.errors import ConfigError, EvotraderError


class SupervisionError(EvotraderError):
    """Base of supervision errors raised at run time (not configuration errors)."""


class SupervisorSpecError(ConfigError):
    """A child or supervisor spec is invalid. Raised when the spec is built; nothing runs.

    The message names the offending field, the value given and what is accepted.
    """


class ChildUnavailableError(SupervisionError, TimeoutError):
    """A supervised child is not available: unknown name, not restarted, or not back in time.

    Callers retry later or give up; the supervisor keeps reconciling regardless.
    """


class SupervisorEscalatedError(SupervisionError):
    """The supervisor exceeded its restart intensity, stopped its children and gave up.

    Raised by a failed supervisor's ``ping`` so that its parent treats it as unhealthy and
    applies its own restart strategy.
    """

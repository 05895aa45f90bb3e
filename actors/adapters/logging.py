"""Structured logging (the only structlog setup): JSON or console lines, secrets redacted.

Every event passes through :class:`RedactSecrets` just before rendering: a key named like a
secret (``api_key``, ``password``, ``token``, ...) has its value replaced by ``'**********'``,
and any occurrence of an actual secret value inside any string is replaced the same way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

from configs.secrets import REDACTED, Secrets, is_secret_key, redact_text

_PRIMITIVES = (int, float, bool, type(None))


class RedactSecrets:
    """structlog processor that removes secrets from an event dict (at any depth).

    Args:
        secrets: Secret values to scrub from strings; ``None`` only redacts by key name.
    """

    def __init__(self, secrets: Secrets | None = None) -> None:
        self._secrets = secrets

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        """Return a redacted copy of ``event_dict``."""
        return self._clean(event_dict)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                key: REDACTED if is_secret_key(str(key)) and item is not None else self._clean(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(item) for item in value]
        if isinstance(value, str):
            return redact_text(value, self._secrets)
        if isinstance(value, _PRIMITIVES):
            return value
        # Anything else would be rendered through repr(); scrub that text instead.
        return redact_text(repr(value), self._secrets)


def configure_logging(
    level: str | int = "INFO",
    fmt: str = "console",
    *,
    secrets: Secrets | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up structlog for the process.

    Args:
        level: Minimum level (``"DEBUG"`` ... ``"CRITICAL"`` or a ``logging`` number).
        fmt: ``"json"`` (one JSON object per line) or ``"console"`` (human-readable).
        secrets: Secret values to redact from every log line.
        stream: Where lines go; default ``sys.stderr`` (stdout stays free for command output).

    Raises:
        ValueError: On an unknown level or format.
    """
    number = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("json", "console"):
        raise ValueError(f"unknown log format {fmt!r}; expected 'json' or 'console'")
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            RedactSecrets(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger whose events carry ``logger=name``."""
    return structlog.get_logger().bind(logger=name)

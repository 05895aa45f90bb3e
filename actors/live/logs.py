"""Structured JSON logs of the live actors: every line carries the actor and the session.

Ray forwards an actor's stderr to its worker log file (and to the driver's console), so each
actor configures structlog for its own process when it starts.
"""

from __future__ import annotations

from typing import Any

from actors.adapters.logging import configure_logging, get_logger
from configs.secrets import Secrets


def actor_log(session_id: str, actor: str) -> Any:
    """Configure JSON logging in this actor's process; a logger bound to actor + session."""
    configure_logging("INFO", "json", secrets=Secrets.from_env())
    return get_logger("evotrader.live").bind(actor=actor, session_id=session_id)

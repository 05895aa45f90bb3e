"""What a slot or a candidate runs: a built-in strategy or an alpha expression (a plain value).

Kept apart from the runners so that the actors that only pass it along (the session) do not
import the strategy engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StrategyChoice:
    """What to run: a built-in (``strategy`` + ``params``) or an ``alpha`` expression."""

    label: str
    strategy: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    alpha: str | None = None
    mapping: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

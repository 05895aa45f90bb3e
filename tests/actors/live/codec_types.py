"""Small classes of every shape the record codec supports (the tests' own package)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Color(enum.Enum):
    """A plain enum with int values."""

    RED = 1
    GREEN = 2


class Level(enum.IntEnum):
    """An int enum."""

    LOW = 0
    HIGH = 9


@dataclass(frozen=True, slots=True)
class Frozen:
    """Frozen, slotted."""

    number: int
    label: str
    values: tuple[float, ...] = ()


@dataclass(slots=True)
class Plain:
    """Mutable, slotted."""

    n: int
    tags: list[Any] = field(default_factory=list)


@dataclass
class Mutable:
    """Mutable, with a __dict__ and a non-init field."""

    table: dict[str, Any]
    count: int = field(default=0, init=False)


class Slotted:
    """Not a dataclass: slots and its own pickle state (as ``core.trading.lots.FifoPosition``)."""

    __slots__ = ("a", "b")

    def __init__(self, a: float, b: Any) -> None:
        self.a, self.b = a, b

    def __getstate__(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Slotted) and (self.a, self.b) == (other.a, other.b)

    __hash__ = None  # type: ignore[assignment]

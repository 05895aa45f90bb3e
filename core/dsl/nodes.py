"""The typed AST of alpha expressions: immutable nodes with a canonical text form.

An expression is a tree of :class:`Call` nodes over leaves: :class:`Terminal` (a market
series such as ``close``), :class:`Const` (a number, broadcast over bars and symbols) and
:class:`Window` (an integer lookback in bars). Nodes are frozen and hashable, so equal trees
compare equal and can key caches (common-subexpression elimination).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TERMINALS = ("open", "high", "low", "close", "volume", "returns", "vwap", "funding")
"""Market series an expression may read. ``returns`` = close / previous close - 1 (NaN on
the first bar); ``vwap`` = (high + low + close) / 3, the bar's typical price (candles carry
no quote volume); ``funding`` = the funding rate settled at the bar (only where the data has
it)."""


@dataclass(frozen=True, slots=True)
class Terminal:
    """A market series by name (one of :data:`TERMINALS`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Const:
    """A numeric constant (finite float)."""

    value: float

    def __post_init__(self) -> None:
        value = float(self.value)
        if not math.isfinite(value):
            raise ValueError(f"constants must be finite, got {self.value!r}")
        object.__setattr__(self, "value", value + 0.0)  # normalise -0.0 to 0.0


@dataclass(frozen=True, slots=True)
class Window:
    """An integer lookback in bars."""

    bars: int


@dataclass(frozen=True, slots=True)
class Call:
    """An operator applied to arguments."""

    op: str
    args: tuple[Node, ...]


Node = Terminal | Const | Window | Call


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node`` (empty for leaves)."""
    return node.args if isinstance(node, Call) else ()


def depth(node: Node) -> int:
    """Height of the tree: 1 for a leaf."""
    if isinstance(node, Call):
        return 1 + max((depth(arg) for arg in node.args), default=0)
    return 1


def size(node: Node) -> int:
    """Number of nodes in the tree."""
    if isinstance(node, Call):
        return 1 + sum(size(arg) for arg in node.args)
    return 1


def walk(node: Node):  # noqa: ANN201 - a generator of nodes
    """Every node of the tree, parents before children (pre-order)."""
    yield node
    for child in children(node):
        yield from walk(child)

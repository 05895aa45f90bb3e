"""Size and depth limits on expressions (applied by the parser after macro expansion)."""

from __future__ import annotations

from dataclasses import dataclass

from core.dsl.errors import DSLLimitError
from core.dsl.nodes import Node, depth, size


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on an expression tree.

    Attributes:
        max_depth: Largest tree height (a leaf has depth 1).
        max_size: Largest number of nodes (operators, terminals, constants and windows).
    """

    max_depth: int = 12
    max_size: int = 64

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()
"""The limits :func:`core.dsl.parser.parse` applies when none are given."""


def check_limits(node: Node, limits: Limits | None = None) -> None:
    """Raise if ``node`` is deeper or larger than allowed.

    Args:
        node: The (macro-expanded) expression.
        limits: The bounds; :data:`DEFAULT_LIMITS` if ``None``.

    Raises:
        DSLLimitError: Naming the limit and the actual value.
    """
    limits = limits or DEFAULT_LIMITS
    actual_depth = depth(node)
    if actual_depth > limits.max_depth:
        raise DSLLimitError(
            f"expression too deep: depth {actual_depth} exceeds max_depth={limits.max_depth}",
            expected=f"depth <= {limits.max_depth}",
            found=f"depth {actual_depth}",
        )
    actual_size = size(node)
    if actual_size > limits.max_size:
        raise DSLLimitError(
            f"expression too large: {actual_size} nodes exceed max_size={limits.max_size}",
            expected=f"size <= {limits.max_size}",
            found=f"size {actual_size}",
        )

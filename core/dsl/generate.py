"""Random well-typed expressions, for property tests, benchmarks and genetic programming.

Every tree respects the typing rules (windows within each operator's bounds, ``clip`` with
``lo < hi``, ``pow`` with a small exponent), has a depth within ``[min_depth, max_depth]``
and at most ``max_size`` nodes (so it passes the parser's default limits), and depends only
on the random generator: the same seed gives the same trees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from core.dsl.limits import DEFAULT_LIMITS
from core.dsl.nodes import TERMINALS, Call, Const, Node, Terminal, Window, size
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind, OpSpec

DEFAULT_TERMINALS = tuple(name for name in TERMINALS if name != "funding")
"""Terminals available on every data set (``funding`` is not)."""

DEFAULT_WINDOWS = (2, 3, 5, 10, 20, 50, 100, 200)
"""Lookbacks drawn for window arguments."""

POW_EXPONENTS = (0.5, 2.0, 3.0, -1.0)
"""Exponents drawn for ``pow``."""

CONST_LEAF_PROBABILITY = 0.1
"""Chance that a series leaf is a constant rather than a terminal."""


class _Generator:
    def __init__(self, rng: np.random.Generator, ops: Sequence[OpSpec],
                 terminals: Sequence[str], windows: Sequence[int],
                 const_range: tuple[float, float]) -> None:
        self.rng = rng
        self.ops = ops
        self.terminals = terminals
        self.windows = windows
        self.const_range = const_range
        self._smallest_arity = min(spec.arity for spec in ops)
        self._min_sizes = [0, 1]

    def min_size(self, depth: int) -> int:
        """Fewest nodes of a tree of exactly ``depth`` (a chain through the smallest op)."""
        while len(self._min_sizes) <= depth:
            self._min_sizes.append(self._min_sizes[-1] + self._smallest_arity)
        return self._min_sizes[depth]

    def pick(self, items: Sequence):  # noqa: ANN202 - an element of items
        return items[int(self.rng.integers(len(items)))]

    def tree(self, depth: int, budget: int) -> Node:
        if depth == 1:
            return self.leaf()
        fits = [s for s in self.ops if 1 + (s.arity - 1) + self.min_size(depth - 1) <= budget]
        spec: OpSpec = self.pick(fits)
        series = [i for i, kind in enumerate(spec.args) if kind is ArgKind.SERIES]
        deep = self.pick(series)
        depths = {i: depth - 1 if i == deep else 1 + int(self.rng.integers(depth - 1))
                  for i in series}
        leaves = spec.arity - len(series)

        def need() -> int:
            return 1 + leaves + sum(self.min_size(d) for d in depths.values())

        while need() > budget:  # shrink the tallest shallow argument until it fits
            others = [i for i in series if i != deep and depths[i] > 1]
            tallest = max(others, key=lambda i: depths[i])
            depths[tallest] -= 1
        slack = budget - need()
        args: dict[int, Node] = {}
        for i in self.rng.permutation(series):
            minimum = self.min_size(depths[int(i)])
            args[int(i)] = self.tree(depths[int(i)], minimum + slack)
            slack -= size(args[int(i)]) - minimum
        args.update(self.literals(spec))
        return Call(spec.name, tuple(args[i] for i in range(spec.arity)))

    def leaf(self) -> Node:
        if self.rng.random() < CONST_LEAF_PROBABILITY:
            return Const(self.number())
        return Terminal(self.pick(self.terminals))

    def number(self) -> float:
        lo, hi = self.const_range
        return round(float(self.rng.uniform(lo, hi)), 2)

    def literals(self, spec: OpSpec) -> dict[int, Node]:
        out: dict[int, Node] = {}
        for i, kind in enumerate(spec.args):
            if kind is ArgKind.WINDOW:
                valid = [w for w in self.windows if spec.min_window <= w <= MAX_WINDOW]
                out[i] = Window(int(self.pick(valid)) if valid else spec.min_window)
            elif kind is ArgKind.SCALAR:
                out[i] = Const(self.pick(POW_EXPONENTS) if spec.name == "pow" else self.number())
        if spec.name == "clip":
            lo, hi = sorted((self.number(), self.number()))
            out[1], out[2] = Const(lo), Const(hi if hi > lo else lo + 1.0)
        return out


def random_tree(
    rng: np.random.Generator,
    *,
    min_depth: int = 2,
    max_depth: int = 5,
    terminals: Sequence[str] = DEFAULT_TERMINALS,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    const_range: tuple[float, float] = (-2.0, 2.0),
    operators: Iterable[str] | None = None,
    max_size: int = DEFAULT_LIMITS.max_size,
) -> Node:
    """A random well-typed expression.

    Args:
        rng: The source of randomness (the only one: same state, same tree).
        min_depth: Smallest tree depth (a leaf has depth 1).
        max_depth: Largest tree depth; the depth is drawn uniformly in between.
        terminals: Terminals used for leaves.
        windows: Lookbacks drawn for window arguments (filtered by each operator's bounds).
        const_range: Range of constant leaves (rounded to 2 decimals) and ``clip`` bounds.
        operators: Names of the operators to use (default: all of them).
        max_size: Largest number of nodes.

    Raises:
        ValueError: On an empty or unknown operator set, bad bounds, or a depth that cannot
            fit in ``max_size``.
    """
    names = list(OPERATORS) if operators is None else list(operators)
    unknown = [name for name in names if name not in OPERATORS]
    if unknown or not names:
        raise ValueError(f"need known operator names, got {names!r}")
    if not 1 <= min_depth <= max_depth:
        raise ValueError(f"need 1 <= min_depth <= max_depth, got {min_depth}, {max_depth}")
    if not terminals or not const_range[0] < const_range[1]:
        raise ValueError("need at least one terminal and const_range lo < hi")
    generator = _Generator(rng, [OPERATORS[n] for n in OPERATORS if n in names],
                           tuple(terminals), tuple(windows), const_range)
    feasible = [d for d in range(min_depth, max_depth + 1) if generator.min_size(d) <= max_size]
    if not feasible:
        raise ValueError(f"no tree of depth >= {min_depth} fits in {max_size} nodes")
    target = feasible[int(rng.integers(len(feasible)))]
    return generator.tree(target, max_size)


def random_trees(seed: int, count: int, **kwargs: object) -> list[Node]:
    """``count`` random trees from ``numpy.random.default_rng(seed)`` (see :func:`random_tree`)."""
    rng = np.random.default_rng(seed)
    return [random_tree(rng, **kwargs) for _ in range(count)]  # type: ignore[arg-type]

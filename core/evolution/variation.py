"""Variation of DSL genomes with DEAP's typed GP operators: the engine's entry points.

:func:`random_genome` and :func:`vary` are pure functions of their arguments: the same seed,
parents and configuration give the same child in any process, whatever ran before (DEAP
draws from the global :mod:`random`, which :func:`~core.evolution.seeding.seeded` seeds and
restores around each call).

Operators (``vary`` draws one by the configuration's probabilities):

* ``crossover`` — DEAP ``cxOnePoint`` between parents 0 and 1 (in random order); the child
  is the first one's tree with a same-typed subtree of the second;
* ``subtree`` — DEAP ``mutUniform``: a random node's subtree becomes a new random subtree of
  its type (series: :func:`core.dsl.random_tree` of depth 1 to :data:`SUBTREE_MAX_DEPTH`;
  other types: one of the type's terminals);
* ``point`` — DEAP ``mutNodeReplacement``: a non-root node becomes another of the same
  signature (operator of the same argument types, terminal of the same type);
* ``hoist`` — the tree is replaced by one of its own series sub-expressions (an operator
  call if it has one);
* ``shrink`` — DEAP ``mutShrink``: a non-root call is replaced by one of its series arguments;
* ``constant`` — one constant moves by a Gaussian step (sigma :data:`CONST_SIGMA` of the
  constant range), clipped to the range and rounded; a ``clip`` bound must stay on its side
  of the other; a ``pow`` exponent takes another of the allowed exponents instead;
* ``window`` — one window becomes a neighbouring allowed window (the next smaller or larger
  one in the window type's set, so ``min_window`` holds).

Mutations use parent 0. Every child is converted to a DSL tree, type-checked and held to
``max_depth``/``max_size``; a child equal to a parent is refused. A refused try is repeated
with fresh randomness (:data:`TRIES_PER_DRAW` times), then another operator is drawn. An
operator that cannot apply to these parents (crossover with one parent or a one-node parent,
no constant, no window, nothing to hoist or shrink) is dropped from the draw at once, without
using up a draw. After :data:`MAX_DRAWS` used-up draws (or when no operator applies) a copy
of parent 0 comes back with operator :data:`CLONE`, so the engine can count clones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from deap import gp

from configs.evolution import GPConfig
from core.dsl.errors import DSLLimitError, DSLTypeError
from core.dsl.limits import Limits
from core.dsl.nodes import Node
from core.evolution.convert import from_deap, to_deap
from core.evolution.pset import (
    CONST_DECIMALS,
    ClipHigh,
    ClipLow,
    DSLPrimitiveSet,
    PowExponent,
    ScalarArg,
    Series,
    WindowArg,
    build_pset,
)
from core.evolution.seeding import check_seed, seeded

OPERATOR_NAMES = ("crossover", "subtree", "point", "hoist", "shrink", "constant", "window")
"""The variation operators; operator ``x`` is drawn with probability ``GPConfig.p_x``."""

CLONE = "clone"
"""Operator name of a child that is a copy of parent 0 (no valid new child was found)."""

MAX_DRAWS = 4
"""Operators drawn per child before giving up."""

TRIES_PER_DRAW = 4
"""Tries of one drawn operator before drawing another."""

SUBTREE_MAX_DEPTH = 3
"""Largest depth of a new series subtree in subtree mutation."""

CONST_SIGMA = 0.1
"""Standard deviation of a constant step, as a fraction of the width of ``const_range``."""


@dataclass(frozen=True, slots=True)
class Variation:
    """A child and how it was made.

    Attributes:
        child: The new expression (well-typed, within the configured limits).
        operator: One of :data:`OPERATOR_NAMES`, or :data:`CLONE`.
        parent_indices: Positions in ``parents`` of the parents used (crossover: the
            parent whose tree was kept first, then the donor).
    """

    child: Node
    operator: str
    parent_indices: tuple[int, ...]


def random_genome(seed: int, gp_config: GPConfig, terminals: Sequence[str]) -> Node:
    """A new random expression: :func:`core.dsl.random_tree` over the primitive set.

    The depth is uniform in ``[init_min_depth, init_max_depth]``; the tree holds at most
    ``max_size`` nodes and uses the set's operators, terminals, windows and constant range.

    Args:
        seed: A non-negative integer (the only source of randomness).
        gp_config: The GP configuration.
        terminals: Market series the tree may read.
    """
    return build_pset(gp_config, terminals).random_tree(
        np.random.default_rng(check_seed(seed)), gp_config.init_min_depth,
        gp_config.init_max_depth, gp_config.max_size)


def vary(parents: Sequence[Node], seed: int, gp_config: GPConfig,
         terminals: Sequence[str]) -> Variation:
    """One child of ``parents`` by a variation operator drawn from the configuration.

    Args:
        parents: One or more well-typed expressions over ``terminals`` (crossover needs two).
        seed: A non-negative integer (the only source of randomness).
        gp_config: Operator probabilities, limits, windows and constant range.
        terminals: Market series the trees may read.

    Raises:
        ValueError: Without parents, or if a parent does not fit the primitive set.
    """
    check_seed(seed)
    if not parents:
        raise ValueError("vary needs at least one parent")
    job = _Job(build_pset(gp_config, terminals), gp_config, tuple(parents))
    weights = [float(getattr(gp_config, f"p_{name}")) for name in OPERATOR_NAMES]
    draws = 0
    with seeded(seed):
        while draws < MAX_DRAWS and any(w > 0 for w in weights):
            k = random.choices(range(len(OPERATOR_NAMES)), weights)[0]
            try:
                for _ in range(TRIES_PER_DRAW):
                    made = _OPERATIONS[OPERATOR_NAMES[k]](job)
                    child = job.accept(made)
                    if child is not None:
                        return Variation(child, OPERATOR_NAMES[k], made[1])  # type: ignore[index]
                draws += 1
            except _NotApplicableError:
                weights[k] = 0.0  # never applies to these parents: draw among the others
    return Variation(parents[0], CLONE, (0,))


class _NotApplicableError(Exception):
    """The drawn operator cannot apply to these parents: draw another."""


_Made = tuple[list, tuple[int, ...]] | None


class _Job:
    """The parents of one ``vary`` call, converted once, and the checks a child must pass."""

    def __init__(self, pset: DSLPrimitiveSet, gp_config: GPConfig,
                 parents: tuple[Node, ...]) -> None:
        self.pset = pset
        self.config = gp_config
        self.parents = parents
        self.limits = Limits(max_depth=gp_config.max_depth, max_size=gp_config.max_size)
        self._trees = [list(to_deap(node, pset)) for node in parents]

    def tree(self, index: int) -> gp.PrimitiveTree:
        """A fresh (mutable) DEAP copy of parent ``index``."""
        return gp.PrimitiveTree(self._trees[index])

    def accept(self, made: _Made) -> Node | None:
        """The child as a DSL tree if it is valid, within limits and new, else ``None``."""
        if made is None:
            return None
        try:
            child = from_deap(made[0], self.pset, self.limits)
        except (DSLTypeError, DSLLimitError):
            return None
        return None if child in self.parents else child

    def new_subtree(self, pset: DSLPrimitiveSet, type_: type) -> list:
        """A random subtree of type ``type_`` as a DEAP node list (``mutUniform``'s expr)."""
        if type_ is Series:
            node = pset.random_tree(np.random.default_rng(random.getrandbits(63)), 1,
                                    min(SUBTREE_MAX_DEPTH, self.config.max_depth),
                                    self.config.max_size)
            return list(to_deap(node, pset))
        term = random.choice(pset.terminals[type_])
        return [term() if isinstance(term, gp.MetaEphemeral) else term]


def _crossover(job: _Job) -> _Made:
    if len(job.parents) < 2:
        raise _NotApplicableError
    first, second = (0, 1) if random.random() < 0.5 else (1, 0)
    kept, donor = job.tree(first), job.tree(second)
    if len(kept) < 2 or len(donor) < 2:
        raise _NotApplicableError
    gp.cxOnePoint(kept, donor)
    return kept, (first, second)


def _subtree(job: _Job) -> _Made:
    tree = job.tree(0)
    gp.mutUniform(tree, expr=job.new_subtree, pset=job.pset)
    return tree, (0,)


def _point(job: _Job) -> _Made:
    tree = job.tree(0)
    if len(tree) < 2:
        raise _NotApplicableError
    gp.mutNodeReplacement(tree, job.pset)
    return tree, (0,)


def _hoist(job: _Job) -> _Made:
    tree = job.tree(0)
    series = [i for i in range(1, len(tree)) if tree[i].ret is Series]
    calls = [i for i in series if tree[i].arity > 0]
    if not series:
        raise _NotApplicableError
    index = random.choice(calls or series)
    return gp.PrimitiveTree(tree[tree.searchSubtree(index)]), (0,)


def _shrink(job: _Job) -> _Made:
    tree = job.tree(0)
    if not any(node.arity > 0 for node in tree[1:]):
        raise _NotApplicableError
    gp.mutShrink(tree)
    return tree, (0,)


def _is_constant(node: gp.Terminal) -> bool:
    if node.arity:
        return False
    if node.ret is Series:
        return not isinstance(node.value, str)
    return issubclass(node.ret, ScalarArg)


def _constant(job: _Job) -> _Made:
    tree = job.tree(0)
    spots = [i for i, node in enumerate(tree) if _is_constant(node)]
    if not spots:
        raise _NotApplicableError
    index = random.choice(spots)
    node = tree[index]
    if node.ret is PowExponent:
        others = [t for t in job.pset.terminals[PowExponent] if t.value != node.value]
        tree[index] = random.choice(others)
        return tree, (0,)
    lo, hi = job.pset.const_range
    step = random.gauss(0.0, CONST_SIGMA * (hi - lo))
    value = round(min(max(node.value + step, lo), hi), CONST_DECIMALS)
    if node.ret is ClipLow and not value < tree[index + 1].value:
        return None
    if node.ret is ClipHigh and not tree[index - 1].value < value:
        return None
    tree[index] = gp.Terminal(value, False, node.ret)
    return tree, (0,)


def _window(job: _Job) -> _Made:
    tree = job.tree(0)
    spots = [i for i, node in enumerate(tree) if not node.arity and
             issubclass(node.ret, WindowArg) and len(job.pset.windows[node.ret]) > 1]
    if not spots:
        raise _NotApplicableError
    index = random.choice(spots)
    node = tree[index]
    allowed = job.pset.windows[node.ret]
    below = [w for w in allowed if w < node.value]
    above = [w for w in allowed if w > node.value]
    value = random.choice(below[-1:] + above[:1])
    tree[index] = job.pset.shared_terminals[(node.ret, value)]
    return tree, (0,)


_OPERATIONS: dict[str, Callable[[_Job], _Made]] = {
    "crossover": _crossover, "subtree": _subtree, "point": _point, "hoist": _hoist,
    "shrink": _shrink, "constant": _constant, "window": _window,
}

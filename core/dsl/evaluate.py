"""Run a plan over data: one kernel call per step, buffers recycled after their last use."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.dsl.data import AlphaData
from core.dsl.kernels.dispatch import KERNELS
from core.dsl.nodes import Node
from core.dsl.plan import Plan, compile_plan

RootHandler = Callable[[int, np.ndarray], None]


def evaluate_plan(plan: Plan, data: AlphaData, *, on_root: RootHandler | None = None
                  ) -> list[np.ndarray] | None:
    """Evaluate every expression of ``plan`` on ``data``.

    Args:
        plan: The compiled batch.
        data: Terminal series.
        on_root: If given, called as ``on_root(index, values)`` as soon as expression
            ``index`` is computed; ``values`` is only valid during the call (its buffer is
            recycled afterwards), which keeps memory flat for large batches. If None, all
            results are returned.

    Returns:
        The value matrix of each expression in order, or None when ``on_root`` is given.

    Raises:
        DSLError: If an expression reads a terminal the data lacks.
    """
    shape = (data.n_bars, data.n_symbols)
    slots: list[np.ndarray | None] = [None] * plan.n_slots
    for index, name in enumerate(plan.terminals):
        slots[index] = data.get(name)
    base = len(plan.terminals)
    for index, value in enumerate(plan.constants):
        constant = np.full(shape, value, order="F")
        constant.setflags(write=False)
        slots[base + index] = constant
    leaf_count = base + len(plan.constants)

    expressions_of: dict[int, list[int]] = {}
    for expression, slot in enumerate(plan.roots):
        expressions_of.setdefault(slot, []).append(expression)
    results: list[np.ndarray | None] = [None] * plan.n_expressions
    keep = on_root is None

    def deliver(slot: int) -> None:
        for expression in expressions_of.get(slot, ()):
            if keep:
                results[expression] = slots[slot]
            else:
                on_root(expression, slots[slot])  # type: ignore[misc,arg-type]

    for slot in range(leaf_count):
        deliver(slot)
    pool: list[np.ndarray] = []
    for index, step in enumerate(plan.steps):
        out = pool.pop() if pool else np.empty(shape, order="F")
        inputs = tuple(slots[slot] for slot in step.inputs)
        KERNELS[step.op](inputs, step.window, step.scalars, out)  # type: ignore[arg-type]
        slots[step.out] = out
        deliver(step.out)
        for slot in (*step.inputs, step.out):
            if slot < leaf_count or slots[slot] is None or plan.last_use[slot] > index:
                continue
            if keep and slot in expressions_of:
                continue
            pool.append(slots[slot])  # type: ignore[arg-type]
            slots[slot] = None
    return results if keep else None  # type: ignore[return-value]


def evaluate(expressions: Sequence[Node], data: AlphaData) -> list[np.ndarray]:
    """Evaluate type-checked expressions on ``data`` (sharing common subexpressions)."""
    return evaluate_plan(compile_plan(expressions), data)  # type: ignore[return-value]

"""Run a plan over data: one kernel call per step, buffers recycled after their last use."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.dsl.data import AlphaData
from core.dsl.kernels.dispatch import TRUSTED_KERNELS
from core.dsl.nodes import Node
from core.dsl.plan import Plan, compile_plan

RootHandler = Callable[[int, np.ndarray], None]

BATCH_SIZE = 64
"""Expressions per plan in :func:`evaluate_stream`: sharing within a batch, bounded memory."""


def evaluate_plan(plan: Plan, data: AlphaData, *, on_root: RootHandler | None = None
                  ) -> list[np.ndarray] | None:
    """Evaluate every expression of ``plan`` on ``data``.

    Buffers are column-major float64 matrices owned by the evaluator, which is what lets it
    call the unchecked kernels; a buffer returns to a pool after the last step reading it, and
    constant series are filled only while a step still needs them.

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
    leaf_count = base + len(plan.constants)
    pool: list[np.ndarray] = []

    def buffer() -> np.ndarray:
        return pool.pop() if pool else np.empty(shape, order="F")

    def value(slot: int) -> np.ndarray:
        array = slots[slot]
        if array is None:  # a constant, filled on first use
            array = buffer()
            array.fill(plan.constants[slot - base])
            slots[slot] = array
        return array

    expressions_of: dict[int, list[int]] = {}
    for expression, slot in enumerate(plan.roots):
        expressions_of.setdefault(slot, []).append(expression)
    results: list[np.ndarray | None] = [None] * plan.n_expressions
    keep = on_root is None

    def deliver(slot: int) -> None:
        for expression in expressions_of.get(slot, ()):
            if keep:
                results[expression] = value(slot).copy() if base <= slot < leaf_count \
                    else value(slot)
            else:
                on_root(expression, value(slot))  # type: ignore[misc]

    for slot in range(leaf_count):
        if slot in expressions_of:
            deliver(slot)
    for index, step in enumerate(plan.steps):
        out = buffer()
        inputs = tuple(value(slot).T for slot in step.inputs)
        TRUSTED_KERNELS[step.op](inputs, step.window, step.scalars, out.T)
        slots[step.out] = out
        deliver(step.out)
        for slot in (*step.inputs, step.out):
            if slot < base or slots[slot] is None or plan.last_use[slot] > index:
                continue
            if keep and slot in expressions_of:
                continue
            pool.append(slots[slot])  # type: ignore[arg-type]
            slots[slot] = None
    return results if keep else None  # type: ignore[return-value]


def evaluate(expressions: Sequence[Node], data: AlphaData) -> list[np.ndarray]:
    """Evaluate type-checked expressions on ``data`` (sharing common subexpressions)."""
    return evaluate_plan(compile_plan(expressions), data)  # type: ignore[return-value]


def evaluate_stream(expressions: Sequence[Node], data: AlphaData, on_root: RootHandler, *,
                    batch_size: int = BATCH_SIZE) -> None:
    """Evaluate many expressions in plans of ``batch_size``, streaming each value to ``on_root``.

    Sharing happens within a batch; bounding the batch bounds the buffers alive at once,
    which keeps the working set in cache and memory flat however many expressions there are.
    """
    for start in range(0, len(expressions), batch_size):
        chunk = expressions[start : start + batch_size]
        evaluate_plan(compile_plan(chunk), data,
                      on_root=lambda index, values, start=start: on_root(start + index, values))

"""Compile a batch of expressions into one plan of kernel steps.

Every distinct sub-expression of the batch becomes one step, computed once (common
subexpressions are shared across all alphas of the batch). Steps are ordered expression by
expression (post-order), so each alpha's value is ready as early as possible, and every step
records the last step that reads it, so the evaluator can recycle its buffer right after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.dsl.nodes import Call, Const, Node, Terminal, Window
from core.dsl.operators import ArgKind, get_operator


@dataclass(frozen=True, slots=True)
class Step:
    """One kernel call: ``out = op(inputs..., window, scalars...)``.

    Attributes:
        op: Operator name (a key of the kernel dispatch table).
        inputs: Slots of the series arguments, in order.
        window: The window argument, 0 if the operator has none.
        scalars: The scalar arguments, in order.
        out: Slot receiving the result.
    """

    op: str
    inputs: tuple[int, ...]
    window: int
    scalars: tuple[float, ...]
    out: int


@dataclass(frozen=True, slots=True)
class Plan:
    """A batch of expressions as leaf slots plus an ordered list of steps.

    Slots ``0 .. len(terminals)-1`` hold market series, the next ``len(constants)`` hold
    constant series, the rest hold step results.

    Attributes:
        terminals: Terminal names, one slot each.
        constants: Constant values, one slot each.
        steps: Kernel calls in execution order.
        roots: Slot of each expression of the batch, in input order.
        last_use: For every slot, the index of the last step reading it (-1 if none).
        n_slots: Total number of slots.
    """

    terminals: tuple[str, ...]
    constants: tuple[float, ...]
    steps: tuple[Step, ...]
    roots: tuple[int, ...]
    last_use: tuple[int, ...]
    n_slots: int

    @property
    def n_expressions(self) -> int:
        """Number of expressions in the batch."""
        return len(self.roots)

    def shared_fraction(self, tree_steps: int) -> float:
        """Share of kernel calls saved by sharing, given the steps of all trees unshared."""
        return 0.0 if tree_steps == 0 else 1.0 - len(self.steps) / tree_steps


def compile_plan(expressions: Sequence[Node]) -> Plan:
    """Compile ``expressions`` (already type-checked) into a shared plan.

    Raises:
        KeyError: If a node names an unknown operator.
    """
    terminal_slots: dict[str, int] = {}
    constant_slots: dict[float, int] = {}
    for expression in expressions:
        _collect_leaves(expression, terminal_slots, constant_slots)
    terminals = tuple(terminal_slots)
    constants = tuple(constant_slots)
    leaf_count = len(terminals) + len(constants)
    slot_of: dict[Node, int] = {}
    for name, index in terminal_slots.items():
        slot_of[Terminal(name)] = index
    for value, index in constant_slots.items():
        slot_of[Const(value)] = len(terminals) + index
    steps: list[Step] = []
    roots = []
    for expression in expressions:
        roots.append(_emit(expression, slot_of, steps, leaf_count))
    n_slots = leaf_count + len(steps)
    last_use = [-1] * n_slots
    for index, step in enumerate(steps):
        for slot in step.inputs:
            last_use[slot] = index
    return Plan(terminals, constants, tuple(steps), tuple(roots), tuple(last_use), n_slots)


def _collect_leaves(node: Node, terminals: dict[str, int], constants: dict[float, int]) -> None:
    if isinstance(node, Terminal):
        terminals.setdefault(node.name, len(terminals))
    elif isinstance(node, Const):
        constants.setdefault(node.value, len(constants))
    elif isinstance(node, Call):
        spec = get_operator(node.op)
        for kind, arg in zip(spec.args, node.args, strict=True):
            if kind is ArgKind.SERIES:
                _collect_leaves(arg, terminals, constants)


def _emit(node: Node, slot_of: dict[Node, int], steps: list[Step], leaf_count: int) -> int:
    known = slot_of.get(node)
    if known is not None:
        return known
    if not isinstance(node, Call):
        raise TypeError(f"a {type(node).__name__} cannot be evaluated on its own")
    spec = get_operator(node.op)
    inputs: list[int] = []
    window = 0
    scalars: list[float] = []
    for kind, arg in zip(spec.args, node.args, strict=True):
        if kind is ArgKind.SERIES:
            inputs.append(_emit(arg, slot_of, steps, leaf_count))
        elif kind is ArgKind.WINDOW:
            if not isinstance(arg, Window):
                raise TypeError(f"{node.op}: window argument must be a Window, got {arg!r}")
            window = arg.bars
        else:
            if not isinstance(arg, Const):
                raise TypeError(f"{node.op}: scalar argument must be a Const, got {arg!r}")
            scalars.append(arg.value)
    slot = leaf_count + len(steps)
    steps.append(Step(node.op, tuple(inputs), window, tuple(scalars), slot))
    slot_of[node] = slot
    return slot


def count_tree_steps(expressions: Sequence[Node]) -> int:
    """Kernel calls the batch would need without any sharing (within or across trees)."""
    def calls(node: Node) -> int:
        if not isinstance(node, Call):
            return 0
        return 1 + sum(calls(arg) for arg in node.args)

    return sum(calls(expression) for expression in expressions)

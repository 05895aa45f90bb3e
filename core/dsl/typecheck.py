"""Typing rules of the alpha language, shared by the parser and :func:`typecheck`.

Every operator argument is a *slot* of one kind (see :mod:`core.dsl.operators`):

* ``series`` accepts any expression or a constant;
* ``window`` accepts an integer in ``[spec.min_window, MAX_WINDOW]``
  (a :class:`~core.dsl.nodes.Window`; in text, an integer literal such as ``20``);
* ``scalar`` accepts a numeric literal only (a :class:`~core.dsl.nodes.Const`); ``pow``'s
  exponent must lie in ``[-4, 4]``; ``clip`` needs ``lo < hi``.

The parser checks while it reads (so errors carry positions); :func:`typecheck` applies the
same rules to a tree built by hand and names the offending sub-expression instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.dsl.errors import DSLTypeError
from core.dsl.nodes import TERMINALS, Call, Const, Node, Terminal, Window
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind, OpSpec
from core.dsl.printer import to_text

POW_EXPONENT_BOUNDS = (-4.0, 4.0)
"""Inclusive bounds of ``pow``'s exponent."""

_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True, slots=True)
class Slot:
    """What one argument position accepts.

    Attributes:
        kind: Series, window or scalar.
        label: How error messages name the position, e.g. ``argument 2 of 'ts_std'``.
        min_window: Smallest window accepted (window slots).
        uses: ``(operator, argument index)`` pairs whose value constraints apply (scalar
            slots: e.g. ``pow``'s exponent bounds).
    """

    kind: ArgKind
    label: str
    min_window: int = 1
    uses: tuple[tuple[OpSpec, int], ...] = ()

    @property
    def expectation(self) -> str:
        """What the slot expects, as the ``expected ...`` part of a message."""
        if self.kind is ArgKind.WINDOW:
            return f"integer window >= {self.min_window}"
        if self.kind is ArgKind.SCALAR:
            return "a numeric literal (scalar)"
        return "a series expression"

    def window_problem(self, bars: int) -> str | None:
        """The violated expectation for window ``bars``, or ``None`` if it is accepted."""
        if bars < self.min_window:
            return f"integer window >= {self.min_window}"
        if bars > MAX_WINDOW:
            return f"integer window <= {MAX_WINDOW} (MAX_WINDOW)"
        return None

    def literal(self, text: str) -> Window | Const | str:
        """The node a numeric literal ``text`` stands for in this slot, or what was expected.

        In a window slot only an integer literal (``20``) is accepted and becomes a
        :class:`~core.dsl.nodes.Window`; anywhere else a number becomes a
        :class:`~core.dsl.nodes.Const`.
        """
        if self.kind is ArgKind.WINDOW:
            if not _INTEGER.fullmatch(text):
                return self.expectation
            return self.window_problem(int(text)) or Window(int(text))
        value = float(text)
        if not math.isfinite(value):
            return "a finite number"
        problem = self.scalar_problem(value) if self.kind is ArgKind.SCALAR else None
        return problem or Const(value)

    def scalar_problem(self, value: float) -> str | None:
        """The violated expectation for scalar ``value``, or ``None`` if it is accepted."""
        for spec, index in self.uses:
            if spec.name == "pow" and index == 1:
                lo, hi = POW_EXPONENT_BOUNDS
                if not lo <= value <= hi:
                    return f"exponent in [{lo:g}, {hi:g}]"
        return None


def operator_slot(spec: OpSpec, index: int) -> Slot:
    """The slot of argument ``index`` (zero-based) of operator ``spec``."""
    kind = spec.args[index]
    return Slot(
        kind=kind,
        label=f"argument {index + 1} of '{spec.name}'",
        min_window=spec.min_window,
        uses=((spec, index),) if kind is ArgKind.SCALAR else (),
    )


TOP_SLOT = Slot(ArgKind.SERIES, "the expression")
"""The slot of a whole expression: any series."""


def signature(name: str, kinds: tuple[str, ...]) -> str:
    """``(name kind kind ...)`` for messages and docs."""
    return "(" + " ".join([name, *kinds]) + ")"


def call_problem(op: str, args: tuple[Node, ...]) -> tuple[int, str, str] | None:
    """A constraint between the (individually valid) arguments of a call that fails.

    Returns:
        ``(argument index, expected, found)``, or ``None``: only ``clip`` has one, lo < hi.
    """
    if op == "clip" and isinstance(args[1], Const) and isinstance(args[2], Const):
        lo, hi = args[1].value, args[2].value
        if not lo < hi:
            return 2, "lo < hi", f"lo {lo!r} >= hi {hi!r}"
    return None


def typecheck(node: Node) -> Node:
    """Check a tree against the typing rules (e.g. one built by hand or by a GP operator).

    Args:
        node: The expression; macros must already be expanded.

    Returns:
        ``node`` itself, so calls can be chained.

    Raises:
        DSLTypeError: Naming the sub-expression, what was expected and what was found.
    """
    _check(node, TOP_SLOT, None)
    return node


def _fail(parent: Node | None, expected: str, found: str, label: str) -> DSLTypeError:
    context = f"in {_safe_text(parent)}: " if parent is not None else ""
    return DSLTypeError(
        f"{context}expected {expected} for {label}, found {found}",
        expected=expected,
        found=found,
    )


def _safe_text(node: Node) -> str:
    try:
        return to_text(node)
    except TypeError:
        return repr(node)


def _check(node: Node, slot: Slot, parent: Node | None) -> None:
    if isinstance(node, Window):
        if slot.kind is not ArgKind.WINDOW:
            raise _fail(parent, slot.expectation, f"window {node.bars!r}", slot.label)
        if isinstance(node.bars, bool) or not isinstance(node.bars, int):
            raise _fail(parent, slot.expectation, f"window {node.bars!r}", slot.label)
        problem = slot.window_problem(node.bars)
        if problem:
            raise _fail(parent, problem, str(node.bars), slot.label)
    elif isinstance(node, Const):
        if slot.kind is ArgKind.WINDOW:
            raise _fail(parent, slot.expectation, f"constant {node.value!r}", slot.label)
        problem = slot.scalar_problem(node.value) if slot.kind is ArgKind.SCALAR else None
        if problem:
            raise _fail(parent, problem, repr(node.value), slot.label)
    elif isinstance(node, Terminal):
        if slot.kind is not ArgKind.SERIES:
            raise _fail(parent, slot.expectation, f"terminal '{node.name}'", slot.label)
        if node.name not in TERMINALS:
            raise _fail(parent, f"a terminal ({', '.join(TERMINALS)})",
                        f"unknown terminal '{node.name}'", slot.label)
    elif isinstance(node, Call):
        if slot.kind is not ArgKind.SERIES:
            raise _fail(parent, slot.expectation, f"expression {_safe_text(node)}", slot.label)
        _check_call(node, parent)
    else:
        raise _fail(parent, "an AST node", repr(node), slot.label)


def _check_call(node: Call, parent: Node | None) -> None:
    spec = OPERATORS.get(node.op)
    if spec is None:
        hint = _macro_hint(node.op)
        raise _fail(parent, f"an operator{hint}", f"unknown operator '{node.op}'",
                    f"'{_safe_text(node)}'")
    if len(node.args) != spec.arity:
        kinds = tuple(kind.value for kind in spec.args)
        raise _fail(parent, f"{spec.arity} argument(s) {signature(spec.name, kinds)}",
                    f"{len(node.args)} in {_safe_text(node)}", f"'{spec.name}'")
    for index, arg in enumerate(node.args):
        _check(arg, operator_slot(spec, index), node)
    problem = call_problem(spec.name, node.args)
    if problem:
        raise _fail(node, problem[1], problem[2], f"'{spec.name}'")


def _macro_hint(name: str) -> str:
    from core.dsl.macros import MACROS  # lazy: macros builds on this module

    return f" ('{name}' is a macro: expand() it first)" if name in MACROS else ""

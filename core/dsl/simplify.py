"""Simplification: constant folding, value-preserving rewrites and canonical argument order.

:func:`simplify` is pure and idempotent, and never changes the value of an expression at any
bar — including the leading NaN bars of warm-up, because NaN is how an alpha says "not yet
defined" and later stages (positions, backtest, warm-up accounting) rely on it. Hence:

* **Constant folding**: an *elementwise* call whose arguments are all constants becomes the
  constant :data:`~core.dsl.scalar.SCALAR_OPS` computes (the same semantics the evaluator
  uses), if finite; otherwise the call is kept. Time-series and cross-sectional calls are
  never folded: even on a constant they have warm-up NaNs or depend on the symbol set.
* **Identities** (each exact in IEEE arithmetic and NaN-preserving): ``add(x, 0)``,
  ``add(0, x)``, ``sub(x, 0)``, ``mul(x, 1)``, ``mul(1, x)``, ``div(x, 1)``, ``pow(x, 1)``,
  ``neg(neg(x))``, ``max(x, x)``, ``min(x, x)`` -> ``x``; ``abs(abs(x))``, ``abs(neg(x))``
  -> ``abs(x)``; ``sign(sign(x))`` -> ``sign(x)``; ``sub(0, x)``, ``mul(x, -1)``,
  ``div(x, -1)`` -> ``neg(x)``; ``if_gt(a, b, x, y)`` with constant ``a``, ``b`` -> the
  branch taken.
* **Not** ``mul(x, 0) -> 0`` nor ``sub(x, x) -> 0`` nor ``div(x, x) -> 1``: where ``x`` is
  NaN (warm-up, missing data) the original is NaN but the rewrite would be a number, so an
  alpha would trade on bars where its inputs do not exist yet.
* **Canonical order**: the two series arguments of a ``commutative`` operator are sorted by
  their canonical text, so ``(add close open)`` and ``(add open close)`` become one tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from core.dsl.nodes import Call, Const, Node
from core.dsl.operators import OPERATORS, ArgKind, OpFamily, OpSpec
from core.dsl.printer import to_text
from core.dsl.scalar import SCALAR_OPS


def simplify(node: Node) -> Node:
    """The simplest equivalent of ``node`` (same value at every bar, NaNs included).

    Args:
        node: A typed expression (macros expanded).

    Returns:
        The simplified tree; ``simplify(simplify(x)) == simplify(x)``.
    """
    if not isinstance(node, Call):
        return node
    return _settle(Call(node.op, tuple(simplify(arg) for arg in node.args)))


def _settle(node: Node) -> Node:
    """Apply local rules at the root until none applies (the children are simplified)."""
    while isinstance(node, Call):
        rewritten = _rewrite(node)
        if rewritten == node:
            return node
        node = rewritten
    return node


def _rewrite(node: Call) -> Node:
    spec = OPERATORS.get(node.op)
    if spec is None:
        return node
    if spec.family is OpFamily.ELEMENTWISE and all(isinstance(a, Const) for a in node.args):
        folded = _fold(node)
        if folded is not None:
            return folded
    rule = _RULES.get(node.op)
    rewritten = rule(*node.args) if rule is not None else None
    if rewritten is not None:
        return rewritten
    return _ordered(node, spec) if spec.commutative else node


def _fold(node: Call) -> Const | None:
    values = [arg.value for arg in node.args if isinstance(arg, Const)]
    try:
        value = float(SCALAR_OPS[node.op](*values))
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    return Const(value) if math.isfinite(value) else None


def _ordered(node: Call, spec: OpSpec) -> Call:
    series = [i for i, kind in enumerate(spec.args) if kind is ArgKind.SERIES]
    args = list(node.args)
    ordered = sorted((args[i] for i in series), key=to_text)
    for index, arg in zip(series, ordered, strict=True):
        args[index] = arg
    return Call(node.op, tuple(args))


def _is(node: Node, value: float) -> bool:
    return isinstance(node, Const) and node.value == value


def _op(node: Node, name: str) -> bool:
    return isinstance(node, Call) and node.op == name


def _neg(x: Node) -> Node:
    return Call("neg", (x,))


def _add(a: Node, b: Node) -> Node | None:
    return a if _is(b, 0.0) else b if _is(a, 0.0) else None


def _sub(a: Node, b: Node) -> Node | None:
    return a if _is(b, 0.0) else _neg(b) if _is(a, 0.0) else None


def _mul(a: Node, b: Node) -> Node | None:
    for x, y in ((a, b), (b, a)):
        if _is(y, 1.0):
            return x
        if _is(y, -1.0):
            return _neg(x)
    return None


def _div(a: Node, b: Node) -> Node | None:
    return a if _is(b, 1.0) else _neg(a) if _is(b, -1.0) else None


def _neg_rule(a: Node) -> Node | None:
    return a.args[0] if isinstance(a, Call) and a.op == "neg" else None


def _abs(a: Node) -> Node | None:
    if _op(a, "abs"):
        return a
    return Call("abs", a.args) if isinstance(a, Call) and a.op == "neg" else None


def _sign(a: Node) -> Node | None:
    return a if _op(a, "sign") else None


def _pow(a: Node, p: Node) -> Node | None:
    return a if _is(p, 1.0) else None


def _same(a: Node, b: Node) -> Node | None:
    return a if a == b else None


def _if_gt(a: Node, b: Node, x: Node, y: Node) -> Node | None:
    if isinstance(a, Const) and isinstance(b, Const):
        return x if a.value > b.value else y
    return None


_RULES: dict[str, Callable[..., Node | None]] = {
    "add": _add, "sub": _sub, "mul": _mul, "div": _div, "neg": _neg_rule, "abs": _abs,
    "sign": _sign, "pow": _pow, "max": _same, "min": _same, "if_gt": _if_gt,
}

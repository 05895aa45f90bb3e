"""Warm-up: how many leading bars of an expression are NaN on gap-free data."""

from __future__ import annotations

from core.dsl.errors import DSLTypeError
from core.dsl.nodes import Call, Node, Terminal, Window
from core.dsl.operators import OPERATORS, ArgKind, OpFamily

TERMINAL_WARMUP = {"returns": 1}
"""Leading NaN bars of each terminal (0 if absent): ``returns`` needs a previous close."""


def warmup_bars(node: Node) -> int:
    """Leading NaN bars ``node`` produces on gap-free data.

    Terminals: 0 (``returns``: 1). Constants and windows: 0. Elementwise and cross-sectional
    operators: the largest warm-up of their series arguments. Time-series operators: that
    plus ``spec.warmup(window)`` (e.g. ``w - 1`` for ``ts_mean``, ``w`` for ``delay``).

    Raises:
        DSLTypeError: On an unknown operator (e.g. an unexpanded macro).
    """
    if isinstance(node, Terminal):
        return TERMINAL_WARMUP.get(node.name, 0)
    if not isinstance(node, Call):
        return 0
    spec = OPERATORS.get(node.op)
    if spec is None:
        raise DSLTypeError(f"unknown operator '{node.op}' (expand macros first)",
                           expected="an operator", found=f"'{node.op}'")
    inner = max(
        (warmup_bars(arg) for arg, kind in zip(node.args, spec.args, strict=True)
         if kind is ArgKind.SERIES),
        default=0,
    )
    if spec.family is not OpFamily.TIME_SERIES:
        return inner
    window = next((arg.bars for arg in node.args if isinstance(arg, Window)), None)
    return inner + spec.warmup(window)

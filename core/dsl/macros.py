"""Macros: named templates for common alpha shapes, expanded when an expression is parsed.

A macro has named parameters and a template written in the DSL, e.g.
``(zmom x n m)`` -> ``(ts_zscore (delta x n) m)``. A parameter's kind (series, window or
scalar) is where it is used in the template: ``n`` above is a window (``>= 1``, the
largest ``min_window`` of its uses), ``x`` a series. The parser checks each argument of a
macro call against its parameter — so ``(zmom close 2.5 10)`` points at ``2.5`` — then
substitutes the parsed arguments into the template and type-checks the expansion.

Templates may not call other macros; every parameter must appear inside a call of the
template, so an expansion is never shallower than the macro call it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core.dsl.errors import DSLTypeError
from core.dsl.nodes import TERMINALS, Call, Const, Node, Window
from core.dsl.operators import OPERATORS, ArgKind
from core.dsl.typecheck import Slot


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter placeholder inside a compiled macro template."""

    name: str


@dataclass(frozen=True, slots=True)
class Macro:
    """One macro.

    Attributes:
        name: Name used in expressions, ``(name arg ...)``.
        params: Parameter names, in call order.
        template: The expansion, in DSL text, using the parameter names.
        description: One line for the docs.
    """

    name: str
    params: tuple[str, ...]
    template: str
    description: str


@dataclass(frozen=True, slots=True)
class CompiledMacro:
    """A macro with its template parsed and each parameter's slot derived from its uses."""

    macro: Macro
    body: Node
    slots: tuple[Slot, ...]

    def substitute(self, args: tuple[Node, ...]) -> Node:
        """The template with each parameter replaced by the matching argument node."""
        return _substitute(self.body, dict(zip(self.macro.params, args, strict=True)))


_DEFINITIONS = (
    Macro("zmom", ("x", "n", "m"), "(ts_zscore (delta x n) m)",
          "z-score over m bars of the n-bar change of x (momentum surprise)"),
    Macro("mr", ("x", "n"), "(neg (ts_zscore x n))",
          "mean reversion: minus the n-bar z-score of x"),
    Macro("vol_mom", ("x", "n", "m"), "(div (delta x n) (ts_std x m))",
          "n-bar change of x in units of its m-bar standard deviation"),
    Macro("range_pos", ("n",),
          "(div (sub close (ts_min low n)) (sub (ts_max high n) (ts_min low n)))",
          "position of the close in the n-bar high-low range, 0 (low) .. 1 (high)"),
    Macro("vol_surprise", ("n",), "(ts_zscore volume n)",
          "volume z-score over n bars"),
    Macro("ma_cross", ("x", "fast", "slow"), "(sub (ts_mean x fast) (ts_mean x slow))",
          "fast minus slow simple moving average of x"),
    Macro("ppo", ("x", "fast", "slow"),
          "(div (sub (ema x fast) (ema x slow)) (ema x slow))",
          "percentage price oscillator: (fast EMA - slow EMA) / slow EMA"),
    Macro("realized_vol", ("n",), "(ts_std returns n)",
          "realised volatility: standard deviation of n returns"),
    Macro("sharpe_mom", ("n",), "(div (ts_mean returns n) (ts_std returns n))",
          "risk-adjusted momentum: mean over standard deviation of n returns"),
    Macro("rsi", ("n",), "(div (ts_sum (max returns 0.0) n) (ts_sum (abs returns) n))",
          "RSI-like up-move share of the last n returns, 0 .. 1"),
    Macro("breakout", ("n",), "(div (sub close (delay (ts_max high n) 1)) close)",
          "close over the previous n-bar high, relative (Donchian breakout)"),
    Macro("pv_corr", ("n",), "(ts_corr returns (log volume) n)",
          "n-bar correlation of returns with log volume"),
    Macro("vwap_dev", ("n",), "(ts_zscore (sub close vwap) n)",
          "n-bar z-score of the close's distance to the bar's typical price"),
    Macro("cs_mom", ("n",), "(cs_rank (delta (log close) n))",
          "cross-sectional rank of the n-bar log-price change"),
    Macro("funding_carry", ("n",), "(neg (ts_mean funding n))",
          "minus the n-bar mean funding rate (perpetuals: lean against crowded longs)"),
)


def _registry(definitions: tuple[Macro, ...]) -> dict[str, Macro]:
    registry: dict[str, Macro] = {}
    for macro in definitions:
        clash = macro.name in OPERATORS or macro.name in TERMINALS or macro.name in registry
        if clash:
            raise ValueError(f"macro name {macro.name!r} collides with an existing name")
        bad = [p for p in macro.params if p in OPERATORS or p in TERMINALS]
        if bad or len(set(macro.params)) != len(macro.params):
            raise ValueError(f"macro {macro.name!r} has invalid parameter names {macro.params}")
        registry[macro.name] = macro
    return registry


MACROS: dict[str, Macro] = _registry(_DEFINITIONS)
"""Every macro by name (names never collide with operators or terminals)."""


@cache
def compile_macro(name: str) -> CompiledMacro:
    """Parse the template of macro ``name`` and derive its parameters' slots (cached).

    Raises:
        KeyError: If no such macro exists.
        DSLError: If the template is not a well-typed expression.
        ValueError: If the template is not a call, or leaves a parameter unused or uses it
            as two different kinds.
    """
    from core.dsl.parser import parse_template  # lazy: the parser expands macros

    macro = MACROS[name]
    body, uses = parse_template(macro.template, macro.params)
    if not isinstance(body, Call):
        raise ValueError(f"macro {name!r}: the template must be a call")
    slots = []
    for param in macro.params:
        slots.append(_param_slot(macro, param, uses.get(param, [])))
    return CompiledMacro(macro, body, tuple(slots))


def _param_slot(macro: Macro, param: str, uses: list[Slot]) -> Slot:
    kinds = {use.kind for use in uses}
    if len(kinds) != 1:
        problem = "is unused" if not kinds else "is used as more than one kind"
        raise ValueError(f"macro {macro.name!r}: parameter {param!r} {problem}")
    index = macro.params.index(param)
    return Slot(
        kind=kinds.pop(),
        label=f"argument {index + 1} ('{param}') of macro '{macro.name}'",
        min_window=max(use.min_window for use in uses),
        uses=tuple(pair for use in uses for pair in use.uses),
    )


def _substitute(node: Node | Param, values: dict[str, Node]) -> Node:
    if isinstance(node, Param):
        return values[node.name]
    if isinstance(node, Call):
        return Call(node.op, tuple(_substitute(arg, values) for arg in node.args))
    return node


def expand(node: Node) -> Node:
    """Expand every macro call in a hand-built tree (innermost first).

    Numeric arguments are coerced to their parameter's kind: an integral
    :class:`~core.dsl.nodes.Const` given for a window parameter becomes a
    :class:`~core.dsl.nodes.Window` and a window given for a series or scalar parameter
    becomes a constant. The result is not type-checked: call
    :func:`core.dsl.typecheck.typecheck` on it.

    Raises:
        DSLTypeError: If a macro call has the wrong number of arguments.
    """
    if not isinstance(node, Call):
        return node
    args = tuple(expand(arg) for arg in node.args)
    macro = MACROS.get(node.op)
    if macro is None or node.op in OPERATORS:
        return Call(node.op, args)
    if len(args) != len(macro.params):
        expected = f"{len(macro.params)} argument(s) ({' '.join(macro.params)})"
        raise DSLTypeError(
            f"expected {expected} for macro '{macro.name}', found {len(args)}",
            expected=expected,
            found=str(len(args)),
        )
    compiled = compile_macro(macro.name)
    coerced = tuple(_coerce(arg, slot) for arg, slot in zip(args, compiled.slots, strict=True))
    return compiled.substitute(coerced)


def _coerce(arg: Node, slot: Slot) -> Node:
    if slot.kind is ArgKind.WINDOW and isinstance(arg, Const) and arg.value.is_integer():
        return Window(int(arg.value))
    if slot.kind is not ArgKind.WINDOW and isinstance(arg, Window):
        return Const(float(arg.bars))
    return arg


def list_macros() -> list[dict[str, object]]:
    """Every macro for the docs: name, params, param kinds, template, description."""
    rows: list[dict[str, object]] = []
    for name in sorted(MACROS):
        compiled = compile_macro(name)
        macro = compiled.macro
        rows.append({
            "name": name,
            "params": macro.params,
            "kinds": {p: s.expectation for p, s in zip(macro.params, compiled.slots,
                                                       strict=True)},
            "signature": "(" + " ".join((name, *macro.params)) + ")",
            "template": macro.template,
            "description": macro.description,
        })
    return rows

"""The language reference (operators, terminals, macros) as Markdown, built from the registry."""

from __future__ import annotations

from core.dsl.macros import list_macros
from core.dsl.nodes import TERMINALS
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind, OpFamily

_SPECIAL_ARGS = {"if_gt": ("a", "b", "x", "y"), "clip": ("a", "lo", "hi"), "pow": ("a", "p")}
_FAMILY_TITLES = {
    OpFamily.ELEMENTWISE: "Elementwise (per bar and symbol)",
    OpFamily.TIME_SERIES: "Time series (per symbol, looking back only)",
    OpFamily.CROSS_SECTIONAL: "Cross-sectional (per bar, across symbols)",
}


def _signature(name: str) -> str:
    """``(op a b w)``: series are a, b, ..., the window w, as in the summaries."""
    spec = OPERATORS[name]
    if name in _SPECIAL_ARGS:
        return f"({name} {' '.join(_SPECIAL_ARGS[name])})"
    series = iter("abcd")
    args = [next(series) if kind is ArgKind.SERIES else "w" for kind in spec.args]
    return f"({name} {' '.join(args)})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """The whole reference, as written to ``docs/DSL.md``."""
    lines = [
        "# Alpha DSL reference",
        "",
        "Generated from `core/dsl` by `python scripts/dsl_reference.py`; a test keeps this "
        "file in sync with the code.",
        "",
        "An alpha is an S-expression `(op arg ...)`. Arguments: `a`, `b`, `x`, `y` are series "
        "(any expression, or a number promoted to a constant series), `w` an integer window "
        f"in bars (at most {MAX_WINDOW}), `p`, `lo`, `hi` numeric literals. Every operator is "
        "causal; windowed operators are NaN until their window is full (explicit warm-up).",
        "",
        "## Terminals",
        "",
        ", ".join(f"`{name}`" for name in TERMINALS)
        + " — `returns` is close over the previous close minus 1, `vwap` the typical price "
        "(high + low + close) / 3, `funding` the funding rate settled at the bar (perpetuals).",
    ]
    for family, title in _FAMILY_TITLES.items():
        lines += ["", f"## {title}", "", "| operator | meaning | min window |", "|---|---|---|"]
        for name, spec in OPERATORS.items():
            if spec.family is family:
                window = str(spec.min_window) if ArgKind.WINDOW in spec.args else ""
                lines.append(f"| `{_signature(name)}` | {_cell(spec.summary)} | {window} |")
    lines += ["", "## Macros", "", "Expanded when parsed; their parameters are typed by use.",
              "", "| macro | expands to | meaning |", "|---|---|---|"]
    for macro in list_macros():
        lines.append(f"| `{macro['signature']}` | `{macro['template']}` | "
                     f"{_cell(macro['description'])} |")
    return "\n".join(lines) + "\n"

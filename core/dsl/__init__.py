"""The alpha language: typed S-expressions, their parser and printer, and their evaluation.

The names below are imported on first use (PEP 562): an actor that runs a built-in strategy
never loads what it does not need (the DSL's numba kernels, for one).
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "DSLLimitError": "core.dsl.errors",
    "DSLSyntaxError": "core.dsl.errors",
    "DSLTypeError": "core.dsl.errors",
    "random_tree": "core.dsl.generate",
    "random_trees": "core.dsl.generate",
    "canonical_text": "core.dsl.hashing",
    "structural_hash": "core.dsl.hashing",
    "Limits": "core.dsl.limits",
    "check_limits": "core.dsl.limits",
    "MACROS": "core.dsl.macros",
    "Macro": "core.dsl.macros",
    "expand": "core.dsl.macros",
    "list_macros": "core.dsl.macros",
    "TERMINALS": "core.dsl.nodes",
    "Call": "core.dsl.nodes",
    "Const": "core.dsl.nodes",
    "Node": "core.dsl.nodes",
    "Terminal": "core.dsl.nodes",
    "Window": "core.dsl.nodes",
    "depth": "core.dsl.nodes",
    "size": "core.dsl.nodes",
    "walk": "core.dsl.nodes",
    "MAX_WINDOW": "core.dsl.operators",
    "OPERATORS": "core.dsl.operators",
    "ArgKind": "core.dsl.operators",
    "OpFamily": "core.dsl.operators",
    "OpSpec": "core.dsl.operators",
    "parse": "core.dsl.parser",
    "to_text": "core.dsl.printer",
    "simplify": "core.dsl.simplify",
    "StreamEvaluator": "core.dsl.stream",
    "StreamState": "core.dsl.stream",
    "AlphaStream": "core.dsl.stream_alpha",
    "AlphaStreamState": "core.dsl.stream_alpha",
    "typecheck": "core.dsl.typecheck",
    "warmup_bars": "core.dsl.warmup",
}

__all__ = list(_EXPORTS)


# A function named like its submodule is bound at once: importing the submodule elsewhere
# first would otherwise leave the package attribute pointing at the module.
from core.dsl.simplify import simplify  # noqa: E402, F401
from core.dsl.typecheck import typecheck  # noqa: E402, F401

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

"""The alpha language: typed S-expressions, their parser and printer, and their evaluation."""

from core.dsl.errors import DSLLimitError, DSLSyntaxError, DSLTypeError
from core.dsl.generate import random_tree, random_trees
from core.dsl.hashing import canonical_text, structural_hash
from core.dsl.limits import Limits, check_limits
from core.dsl.macros import MACROS, Macro, expand, list_macros
from core.dsl.nodes import TERMINALS, Call, Const, Node, Terminal, Window, depth, size, walk
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind, OpFamily, OpSpec
from core.dsl.parser import parse
from core.dsl.printer import to_text
from core.dsl.simplify import simplify
from core.dsl.stream import StreamEvaluator, StreamState
from core.dsl.stream_alpha import AlphaStream, AlphaStreamState
from core.dsl.typecheck import typecheck
from core.dsl.warmup import warmup_bars

__all__ = [
    "DSLLimitError",
    "DSLSyntaxError",
    "DSLTypeError",
    "random_tree",
    "random_trees",
    "canonical_text",
    "structural_hash",
    "Limits",
    "check_limits",
    "MACROS",
    "Macro",
    "expand",
    "list_macros",
    "TERMINALS",
    "Call",
    "Const",
    "Node",
    "Terminal",
    "Window",
    "depth",
    "size",
    "walk",
    "MAX_WINDOW",
    "OPERATORS",
    "ArgKind",
    "OpFamily",
    "OpSpec",
    "parse",
    "to_text",
    "simplify",
    "StreamEvaluator",
    "StreamState",
    "AlphaStream",
    "AlphaStreamState",
    "typecheck",
    "warmup_bars",
]

"""Parse alpha expressions: text -> typed AST, with errors that point into the text.

Grammar (whitespace and ``;`` comments to the end of a line separate tokens)::

    expr   := number | name | "(" name expr* ")"
    number := [+-]? (digits ["." digits?] | "." digits) ([eE] [+-]? digits)?
    name   := [A-Za-z_][A-Za-z0-9_]*

Reading has two steps: the text is read into positioned S-expressions (syntax), which are then
elaborated top-down against the expected argument kinds (typing). A numeric literal becomes a
:class:`~core.dsl.nodes.Window` in a window slot — where only an integer literal is accepted,
``24.0`` is an error — and a :class:`~core.dsl.nodes.Const` anywhere else; macros are expanded
as they are met; the limits are checked on the expanded tree.
"""

from __future__ import annotations

from difflib import get_close_matches

from core.dsl.errors import (
    DSLSyntaxError,
    DSLTypeError,
    located,
    where,
)
from core.dsl.limits import DEFAULT_LIMITS, Limits, check_limits
from core.dsl.macros import MACROS, Param, compile_macro
from core.dsl.nodes import TERMINALS, Call, Node, Terminal
from core.dsl.operators import OPERATORS, ArgKind
from core.dsl.reader import SList, Token, describe, excerpt_at, expected_error, read, tokenize
from core.dsl.typecheck import TOP_SLOT, Slot, call_problem, operator_slot, signature, typecheck


class _Elaborator:
    """Turns positioned syntax into typed nodes, checking each argument against its slot."""

    def __init__(self, text: str, *, macros: bool, params: tuple[str, ...] = ()) -> None:
        self.text = text
        self.macros = macros
        self.uses: dict[str, list[Slot]] | None = {p: [] for p in params} if params else None

    def fail(self, offset: int, expected: str, found: str, label: str,
             cls: type = DSLTypeError) -> Exception:
        return expected_error(cls, self.text, offset, expected, found, f" for {label}")

    def unknown(self, token: Token, what: str, choices: list[str], expected: str) -> Exception:
        close = get_close_matches(token.text, choices, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        message = (f"unknown {what} '{token.text}' at {where(self.text, token.start)}{hint}; "
                   f"expected {expected}")
        return located(DSLTypeError, self.text, token.start, message,
                       expected=expected, found=f"'{token.text}'")

    def node(self, item: Token | SList, slot: Slot) -> Node:
        if isinstance(item, SList):
            if slot.kind is not ArgKind.SERIES:
                raise self.fail(item.start, slot.expectation, describe(item, self.text),
                                slot.label)
            return self.call(item)
        if item.kind == "name" and self.uses is not None and item.text in self.uses:
            self.uses[item.text].append(slot)
            return Param(item.text)  # type: ignore[return-value]  # template placeholder
        if item.kind == "number":
            node = slot.literal(item.text)
            if isinstance(node, str):
                raise self.fail(item.start, node, item.text, slot.label)
            return node
        if slot.kind is not ArgKind.SERIES or item.text in OPERATORS or item.text in MACROS:
            kind = "operator" if item.text in OPERATORS or item.text in MACROS else "name"
            raise self.fail(item.start, slot.expectation, f"{kind} '{item.text}'", slot.label)
        if item.text not in TERMINALS:
            raise self.unknown(item, "terminal", list(TERMINALS),
                               f"one of {', '.join(TERMINALS)}")
        return Terminal(item.text)

    def call(self, item: SList) -> Node:
        head = item.items[0] if item.items else None
        if not isinstance(head, Token) or head.kind != "name":
            offset = item.end if head is None else head.start
            found = "')'" if head is None else describe(head, self.text)
            raise self.fail(offset, "an operator name", found,
                            f"'(' opened at {excerpt_at(self.text, item.start)}",
                            cls=DSLSyntaxError)
        args = item.items[1:]
        if self.macros and head.text in MACROS:
            return self.macro(item, head.text, args)
        spec = OPERATORS.get(head.text)
        if spec is None:
            choices = [*OPERATORS, *MACROS] if self.macros else list(OPERATORS)
            extra = " (it is a terminal: write it without parentheses)" \
                if head.text in TERMINALS else " (it is a macro: macros are disabled)" \
                if head.text in MACROS else ""
            raise self.unknown(head, "operator", choices, "an operator or macro name" + extra)
        slots = [operator_slot(spec, index) for index in range(spec.arity)]
        self.arity(item, spec.name, tuple(kind.value for kind in spec.args), args)
        nodes = tuple(self.node(arg, slot) for arg, slot in zip(args, slots, strict=True))
        problem = call_problem(spec.name, nodes)
        if problem:
            index, expected, found = problem
            raise self.fail(args[index].start, expected, found, f"'{spec.name}'")
        return Call(spec.name, nodes)

    def arity(self, item: SList, name: str, kinds: tuple[str, ...],
              args: tuple[Token | SList, ...]) -> None:
        if len(args) == len(kinds):
            return
        offset = item.end if len(args) < len(kinds) else args[len(kinds)].start
        expected = f"{len(kinds)} argument(s) {signature(name, kinds)}"
        raise self.fail(offset, expected, f"{len(args)}",
                        f"'{name}' opened at {excerpt_at(self.text, item.start)}")

    def macro(self, item: SList, name: str, args: tuple[Token | SList, ...]) -> Node:
        compiled = compile_macro(name)
        self.arity(item, name, compiled.macro.params, args)
        nodes = tuple(self.node(a, s) for a, s in zip(args, compiled.slots, strict=True))
        expansion = compiled.substitute(nodes)
        try:
            typecheck(expansion)
        except DSLTypeError as error:
            detail = str(error)
            message = (f"in the expansion of macro '{name}' at {where(self.text, item.start)}:"
                       f" {detail}")
            raise located(DSLTypeError, self.text, item.start, message,
                          expected=error.expected, found=error.found) from error
        return expansion


def parse(text: str, *, limits: Limits | None = None, macros: bool = True) -> Node:
    """Parse and type-check one alpha expression.

    Args:
        text: The expression, e.g. ``"(ts_mean (delta close 5) 10)"``; a bare terminal
            (``close``) or number is an expression too.
        limits: Depth and size bounds, checked after macro expansion
            (default :data:`~core.dsl.limits.DEFAULT_LIMITS`).
        macros: Whether macro calls are expanded (if not, they are unknown operators).

    Returns:
        The typed AST.

    Raises:
        DSLSyntaxError: Malformed text.
        DSLTypeError: Wrongly typed expression (unknown name, arity, window, scalar).
        DSLLimitError: Too deep or too large.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected expression text, got {type(text).__name__}")
    limits = limits or DEFAULT_LIMITS
    syntax = read(text, tokenize(text), limits.max_depth)
    node = _Elaborator(text, macros=macros).node(syntax, TOP_SLOT)
    check_limits(node, limits)
    return node


def parse_template(text: str, params: tuple[str, ...]) -> tuple[Node, dict[str, list[Slot]]]:
    """Parse a macro template in which the names ``params`` are placeholders.

    Returns:
        The tree (placeholders as :class:`~core.dsl.macros.Param`) and, per parameter, the
        slots where it is used.
    """
    elaborator = _Elaborator(text, macros=False, params=params)
    node = elaborator.node(read(text, tokenize(text), 10_000), TOP_SLOT)
    return node, elaborator.uses or {}

"""DSL ASTs to DEAP trees and back, by walking node lists (never through strings).

A DEAP tree is the prefix (pre-order) list of its nodes. :func:`to_deap` writes each DSL node
as the primitive or terminal of its slot's type (see :mod:`core.evolution.pset`);
:func:`from_deap` reads the list back to front, so every primitive finds its arguments
already built. Leaves map by type: a ``Series`` terminal is a market series (symbolic, named)
or a constant (numeric); a window-typed terminal is a :class:`~core.dsl.nodes.Window`; a
scalar-typed terminal is a :class:`~core.dsl.nodes.Const`.

``from_deap(to_deap(x, pset), pset) == x`` for every well-typed tree built from the set's
operators and terminals — with any windows and constants, also values the set would not
draw (e.g. window ``7``, exponent ``1.5``): those become terminals of their slot's type.
"""

from __future__ import annotations

from deap import gp

from core.dsl.errors import DSLTypeError
from core.dsl.limits import Limits, check_limits
from core.dsl.nodes import Call, Const, Node, Terminal, Window
from core.dsl.typecheck import typecheck
from core.evolution.pset import DSLPrimitiveSet, Series, WindowArg


def to_deap(node: Node, pset: DSLPrimitiveSet) -> gp.PrimitiveTree:
    """The DEAP tree of a DSL expression.

    Args:
        node: A well-typed expression (macros expanded).
        pset: The primitive set (from :func:`~core.evolution.pset.build_pset`).

    Raises:
        ValueError: If ``node`` uses an operator or terminal the set does not hold, or a leaf
            of the wrong kind for its slot.
    """
    out: list = []
    stack: list[tuple[Node, type]] = [(node, Series)]
    while stack:
        item, type_ = stack.pop()
        if isinstance(item, Call):
            kinds = pset.slot_types.get(item.op)
            if kinds is None or len(kinds) != len(item.args) or type_ is not Series:
                raise ValueError(f"operator {item.op!r} with {len(item.args)} arguments does "
                                 f"not fit this primitive set (in a {type_.__name__} slot)")
            out.append(pset.mapping[item.op])
            stack.extend(zip(reversed(item.args), reversed(kinds), strict=True))
        else:
            out.append(_leaf(item, type_, pset))
    return gp.PrimitiveTree(out)


def _leaf(item: Node, type_: type, pset: DSLPrimitiveSet) -> gp.Terminal:
    if isinstance(item, Terminal):
        if type_ is not Series or item.name not in pset.dsl_terminals:
            raise ValueError(f"terminal {item.name!r} does not fit this primitive set "
                             f"(in a {type_.__name__} slot)")
        return pset.mapping[item.name]
    if isinstance(item, Window):
        if not issubclass(type_, WindowArg):
            raise ValueError(f"window {item.bars} in a {type_.__name__} slot")
        value: float = int(item.bars)
    elif isinstance(item, Const):
        if issubclass(type_, WindowArg):
            raise ValueError(f"constant {item.value!r} in a window slot")
        value = item.value
    else:
        raise ValueError(f"not a DSL node: {item!r}")
    shared = pset.shared_terminals.get((type_, value))
    if shared is not None and type(shared.value) is type(value):
        return shared
    return gp.Terminal(value, False, type_)


def from_deap(tree: list, pset: DSLPrimitiveSet, limits: Limits | None = None) -> Node:
    """The DSL expression of a DEAP tree: well-typed and within limits, or an error.

    Identity primitives (``_id_<Type>``, only ever made by DEAP's own generators) are
    dropped. The two bounds of ``clip`` are put in order (DEAP's typing cannot say
    ``lo < hi``: crossover or a fresh draw may give ``lo > hi``); equal bounds stay an error.

    Args:
        tree: A DEAP tree (or its node list) over ``pset``.
        pset: The primitive set.
        limits: Depth and size bounds; the parser's defaults if ``None``.

    Raises:
        DSLTypeError: If the tree is not a well-typed expression (e.g. ``clip`` with equal
            bounds, or a window below its operator's ``min_window``).
        DSLLimitError: If it is deeper or larger than ``limits`` allow.
        ValueError: On a malformed node list.
    """
    built: list[Node] = []
    for item in reversed(tree):
        arity = item.arity
        if arity == 0:
            built.append(_node_of_leaf(item))
        elif item.name in pset.identity_names:
            continue  # its one argument is already on the stack: strip the wrapper
        else:
            if len(built) < arity:
                raise ValueError(f"primitive {item.name!r} lacks arguments")
            args = tuple(built[-1:-arity - 1:-1])
            del built[-arity:]
            if item.name == "clip" and _unordered(args):
                args = (args[0], args[2], args[1])
            built.append(Call(item.name, args))
    if len(built) != 1:
        raise ValueError(f"not one tree: {len(built)} roots")
    node = built[0]
    check_limits(node, limits)
    return typecheck(node)


def _node_of_leaf(item: gp.Terminal) -> Node:
    value = item.value
    if item.ret is Series:
        if isinstance(value, str):
            return Terminal(value)
        return Const(value)
    if issubclass(item.ret, WindowArg):
        return Window(int(value))
    if isinstance(value, str):
        raise DSLTypeError(f"symbolic terminal {value!r} in a scalar slot",
                           expected="a numeric literal", found=value)
    return Const(value)


def _unordered(args: tuple[Node, ...]) -> bool:
    lo, hi = args[1], args[2]
    return isinstance(lo, Const) and isinstance(hi, Const) and lo.value > hi.value

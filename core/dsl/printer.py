"""The canonical text form of an expression: ``(op arg arg)`` with single spaces.

* terminals print by name (``close``);
* a :class:`~core.dsl.nodes.Window` prints as a bare integer (``20``);
* a :class:`~core.dsl.nodes.Const` prints as ``repr(float)`` — the shortest text that reads
  back to the same float, always with a ``.`` or an exponent (``2.0``, ``0.5``, ``1e-05``,
  ``-3.25``, ``1e+16``).

So in canonical text a window never looks like a constant and vice versa, and
``parse(to_text(x)) == x`` for every well-typed tree.
"""

from __future__ import annotations

from core.dsl.nodes import Call, Const, Node, Terminal, Window


def to_text(node: Node) -> str:
    """The canonical text of ``node``.

    Raises:
        TypeError: If ``node`` (or a sub-node) is not an AST node.
    """
    if isinstance(node, Call):
        return "(" + " ".join([node.op, *(to_text(arg) for arg in node.args)]) + ")"
    if isinstance(node, Terminal):
        return node.name
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Window):
        return str(int(node.bars))
    raise TypeError(f"not a DSL node: {node!r}")

"""Structural identity of alphas: one canonical text, one hash, whatever the spelling."""

from __future__ import annotations

import hashlib

from core.dsl.macros import expand
from core.dsl.nodes import Node
from core.dsl.parser import parse
from core.dsl.printer import to_text
from core.dsl.simplify import simplify

HASH_LENGTH = 16
"""Hex characters kept from the sha256 digest."""


def canonical_text(expr: Node | str) -> str:
    """The canonical text of the simplified, macro-expanded expression.

    Args:
        expr: An AST or expression text (parsed with the default limits).
    """
    node = parse(expr) if isinstance(expr, str) else expand(expr)
    return to_text(simplify(node))


def structural_hash(expr: Node | str) -> str:
    """First 16 hex characters of the sha256 of :func:`canonical_text`.

    Equal for the same alpha whatever its spacing, comments, macro use, order of the
    arguments of commutative operators or foldable constant arithmetic; different for
    different alphas (e.g. another window).
    """
    digest = hashlib.sha256(canonical_text(expr).encode("utf-8")).hexdigest()
    return digest[:HASH_LENGTH]

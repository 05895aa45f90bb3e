"""Canonical printer: exact text form and the parse/print round trip over random trees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsl import Call, Const, Terminal, Window, parse, random_tree, to_text, typecheck
from core.dsl.nodes import Node

SEEDS = st.integers(min_value=0, max_value=2**63 - 1)


@pytest.mark.parametrize(("value", "text"), [
    (2.0, "2.0"), (0.5, "0.5"), (1e-05, "1e-05"), (-3.25, "-3.25"), (1e16, "1e+16"),
    (0.1, "0.1"), (-0.0, "0.0"), (1 / 3, "0.3333333333333333"),
])
def test_const_prints_shortest_round_trip_float(value, text):
    assert to_text(Const(value)) == text
    assert parse(f"(add close {text})").args[1] == Const(value)


def test_canonical_form():
    node = Call("ts_mean", (Call("add", (Terminal("close"), Const(2.0))), Window(20)))
    assert to_text(node) == "(ts_mean (add close 2.0) 20)"


def test_window_and_const_never_look_alike():
    text = to_text(parse("(ts_mean (mul close 20) 20)"))
    assert text == "(ts_mean (mul close 20.0) 20)"


def test_printer_rejects_non_nodes():
    with pytest.raises(TypeError):
        to_text("close")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(SEEDS)
def test_parse_print_round_trip(seed):
    tree = random_tree(np.random.default_rng(seed))
    typecheck(tree)
    text = to_text(tree)
    assert parse(text) == tree
    assert to_text(parse(text)) == text


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_round_trip_for_deep_trees_within_limits(seed):
    tree = random_tree(np.random.default_rng(seed), min_depth=8, max_depth=12)
    assert parse(to_text(tree)) == tree


SEPARATORS = st.sampled_from([" ", "  ", "\n", "\t", " \n  ", " ; a comment (with parens)\n",
                              "\r\n", "\n\n    "])
PADDING = st.sampled_from(["", " ", "\n  ", "; comment\n"])


def render(node: Node, draw) -> str:
    """``node`` as text with random whitespace, comments and number spellings."""
    if isinstance(node, Call):
        parts = [node.op, *(render(arg, draw) for arg in node.args)]
        body = parts[0]
        for part in parts[1:]:
            body += draw(SEPARATORS) + part
        return "(" + draw(PADDING) + body + draw(PADDING) + ")"
    if isinstance(node, Const):
        spelling = draw(st.sampled_from(["repr", "g17", "e"]))
        return {"repr": repr(node.value), "g17": f"{node.value:.17g}",
                "e": f"{node.value:.16e}"}[spelling]
    if isinstance(node, Window):
        return draw(st.sampled_from([str(node.bars), f"+{node.bars}", f"00{node.bars}"]))
    return to_text(node)


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.data())
def test_spacing_comments_and_number_spelling_do_not_matter(seed, data):
    tree = random_tree(np.random.default_rng(seed))
    text = data.draw(PADDING) + render(tree, data.draw) + data.draw(PADDING)
    assert parse(text) == tree

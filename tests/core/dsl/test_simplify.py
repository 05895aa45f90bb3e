"""Simplification: folding, value-preserving identities (NaN included), canonical order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsl import Call, Const, Terminal, parse, random_tree, simplify, to_text, typecheck
from core.dsl.nodes import Node
from core.dsl.scalar import SCALAR_OPS


def s(text: str) -> str:
    return to_text(simplify(parse(text)))


@pytest.mark.parametrize(("before", "after"), [
    ("(add close 0)", "close"),
    ("(add 0 close)", "close"),
    ("(sub close 0)", "close"),
    ("(sub 0 close)", "(neg close)"),
    ("(mul close 1)", "close"),
    ("(mul 1 close)", "close"),
    ("(mul close -1)", "(neg close)"),
    ("(div close 1)", "close"),
    ("(div close -1)", "(neg close)"),
    ("(neg (neg close))", "close"),
    ("(abs (abs close))", "(abs close)"),
    ("(abs (neg close))", "(abs close)"),
    ("(sign (sign close))", "(sign close)"),
    ("(pow close 1)", "close"),
    ("(max close close)", "close"),
    ("(min (ts_mean close 5) (ts_mean close 5))", "(ts_mean close 5)"),
    ("(if_gt 1 0 close open)", "close"),
    ("(if_gt 0 1 close open)", "open"),
])
def test_identity_rules(before, after):
    assert s(before) == after


@pytest.mark.parametrize(("before", "after"), [
    ("(add 1 2)", "3.0"),
    ("(mul (add 1 2) (sub 5 1))", "12.0"),
    ("(div 1 0)", "0.0"),                      # protected division, as evaluated
    ("(log 0)", "0.0"),
    ("(pow -2 2)", "-4.0"),                    # sign-preserving power
    ("(clip 5 -1 1)", "1.0"),
    ("(if_gt 1 2 3 4)", "4.0"),
    ("(ts_mean (add 1 2) 5)", "(ts_mean 3.0 5)"),  # folds inside, never the windowed call
    ("(cs_rank 1)", "(cs_rank 1.0)"),
])
def test_constant_folding(before, after):
    assert s(before) == after


def test_non_finite_results_are_not_folded():
    assert s("(mul 1e300 1e300)") == "(mul 1e+300 1e+300)"
    assert s("(pow 1e300 4)") == "(pow 1e+300 4.0)"


@pytest.mark.parametrize("text", ["(mul close 0)", "(sub close close)", "(div close close)",
                                  "(mul (ts_mean close 20) 0)"])
def test_rewrites_that_would_drop_warmup_nans_are_not_made(text):
    before, after = parse(text), simplify(parse(text))
    assert isinstance(after, Call) and after.op == before.op  # only the order may change
    assert sorted(map(to_text, after.args)) == sorted(map(to_text, before.args))


def test_rules_cascade():
    assert s("(neg (neg (neg (neg (add close 0)))))") == "close"
    assert s("(abs (neg (neg (abs close))))") == "(abs close)"
    assert s("(sub 0 (neg close))") == "close"
    assert s("(mul (add 0.5 0.5) (div close (sub 3 2)))") == "close"


def test_commutative_operators_get_a_canonical_order():
    assert s("(add close open)") == s("(add open close)")
    assert s("(ts_corr volume close 10)") == s("(ts_corr close volume 10)")
    assert s("(ts_corr volume close 10)").endswith(" 10)")  # the window stays last
    assert s("(max (abs open) close)") == s("(max close (abs open))")
    assert s("(sub close open)") != s("(sub open close)")  # not commutative
    assert s("(add (mul low high) (mul open close))") == s("(add (mul close open) (mul high low))")


def test_simplify_leaves_leaves_alone():
    for leaf in (Terminal("close"), Const(2.0)):
        assert simplify(leaf) is leaf


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**63 - 1))
def test_idempotent_and_well_typed_on_random_trees(seed):
    tree = random_tree(np.random.default_rng(seed), const_range=(-1.0, 1.0))
    once = simplify(tree)
    assert simplify(once) == once
    typecheck(once)


# --- value preservation over elementwise trees, evaluated with SCALAR_OPS -------------------

NAMED = {"close": 0, "open": 1}
SPECIAL = [0.0, 1.0, -1.0, 2.0, 0.5, -3.0, 1e-13, 4.0]
numbers = st.sampled_from(SPECIAL) | st.floats(-10, 10, allow_nan=False, width=32)
leaves = numbers.map(Const) | st.sampled_from([Terminal(n) for n in NAMED])


def _extend(kids: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    binary = st.tuples(st.sampled_from(["add", "sub", "mul", "div", "max", "min"]), kids, kids)
    unary = st.tuples(st.sampled_from(["neg", "abs", "sign", "log", "sqrt"]), kids)
    power = st.tuples(kids, st.sampled_from([0.5, 1.0, 2.0, -1.0, 3.0]))
    clip = st.tuples(kids, st.floats(-3, 3), st.floats(0.01, 3))
    if_gt = st.tuples(kids, kids, kids, kids)
    return st.one_of(
        binary.map(lambda t: Call(t[0], (t[1], t[2]))),
        unary.map(lambda t: Call(t[0], (t[1],))),
        power.map(lambda t: Call("pow", (t[0], Const(t[1])))),
        clip.map(lambda t: Call("clip", (t[0], Const(t[1]), Const(t[1] + t[2])))),
        if_gt.map(lambda t: Call("if_gt", t)),
    )


trees = st.recursive(leaves, _extend, max_leaves=16)


def evaluate(node: Node, env: tuple[float, float]) -> float:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Terminal):
        return env[NAMED[node.name]]
    args = [evaluate(arg, env) for arg in node.args]
    try:
        return float(SCALAR_OPS[node.op](*args))
    except OverflowError:
        return math.inf  # what the vectorised evaluator produces


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=500, deadline=None)
@given(trees.filter(lambda t: not any(isinstance(n, Terminal) for n in _nodes(t))))
def test_constant_only_trees_keep_their_value(tree):
    simplified = simplify(tree)
    assert same(evaluate(simplified, (0.0, 0.0)), evaluate(tree, (0.0, 0.0)))
    assert simplify(simplified) == simplified


values = st.sampled_from([math.nan, 0.0, -1.0, 1.0, 2.5, -1e-13]) | st.floats(-5, 5)


@settings(max_examples=500, deadline=None)
@given(trees, values, values)
def test_simplification_preserves_values_including_nan(tree, close, open_):
    simplified = simplify(tree)
    assert same(evaluate(simplified, (close, open_)), evaluate(tree, (close, open_))), (
        to_text(tree), to_text(simplified))


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for arg in getattr(node, "args", ()):
        out.extend(_nodes(arg))
    return out

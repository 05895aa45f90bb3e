"""DSL <-> DEAP conversion: exact round trip, typed output, identity wrappers stripped."""

from __future__ import annotations

import random

import numpy as np
import pytest
from deap import gp
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.evolution import GPConfig
from core.dsl import (
    OPERATORS,
    Call,
    Const,
    DSLLimitError,
    DSLTypeError,
    Limits,
    Terminal,
    Window,
    check_limits,
    parse,
    random_tree,
    typecheck,
    walk,
)
from core.dsl.generate import DEFAULT_TERMINALS
from core.evolution import from_deap, to_deap
from core.evolution.pset import ClipHigh, ClipLow, build_pset

PSET = build_pset(GPConfig(), DEFAULT_TERMINALS)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**63 - 1), st.integers(1, 8))
def test_round_trip_of_random_trees(seed, max_depth):
    tree = random_tree(np.random.default_rng(seed), min_depth=1, max_depth=max_depth,
                       terminals=PSET.dsl_terminals, windows=PSET.all_windows,
                       const_range=PSET.const_range, operators=PSET.operators, max_size=64)
    deap_tree = to_deap(tree, PSET)
    assert len(deap_tree) == sum(1 for _ in walk(tree))
    assert from_deap(deap_tree, PSET) == tree


@pytest.mark.parametrize("text", [
    "(ts_mean close 7)",                      # a window outside the configured set
    "(ts_mean close 1)",
    "(pow (abs returns) 1.5)",                # an exponent the set does not draw
    "(clip (neg vwap) -3.75 12.5)",           # bounds outside const_range
    "(if_gt close open 0.0 -0.0)",
    "(add 1e-05 (ts_corr volume returns 2000))",
    "close",
    "-2.5",
])
def test_round_trip_of_values_the_set_would_not_draw(text):
    node = parse(text)
    assert from_deap(to_deap(node, PSET), PSET) == node


def test_deap_generated_trees_convert_to_typed_dsl_trees_without_identity_wrappers():
    random.seed(5)
    converted = wrappers = 0
    for _ in range(1500):
        tree = gp.PrimitiveTree(gp.genHalfAndHalf(PSET, 1, 4))
        wrappers += sum(1 for n in tree if n.arity and n.name in PSET.identity_names)
        try:
            node = from_deap(tree, PSET)
        except DSLTypeError:  # clip with two equal independently drawn bounds
            continue
        converted += 1
        typecheck(node)
        check_limits(node)
        assert all(n.op in OPERATORS for n in walk(node) if isinstance(n, Call))
    assert converted > 1450
    assert wrappers > 100  # DEAP's generators do use them; conversion drops them all


def test_identity_wrappers_are_stripped():
    window_type = PSET.mapping["ts_mean"].args[1]
    wrap = PSET.mapping[f"_id_{window_type.__qualname__}"]
    tree = [PSET.mapping["ts_mean"], PSET.mapping["close"], wrap, wrap,
            PSET.shared_terminals[(window_type, 20)]]
    assert from_deap(tree, PSET) == Call("ts_mean", (Terminal("close"), Window(20)))


def test_clip_bounds_are_put_in_order_and_equal_bounds_refused():
    clip, close = PSET.mapping["clip"], PSET.mapping["close"]
    swapped = [clip, close, gp.Terminal(1.5, False, ClipLow), gp.Terminal(-0.5, False, ClipHigh)]
    assert from_deap(swapped, PSET) == parse("(clip close -0.5 1.5)")
    equal = [clip, close, gp.Terminal(0.5, False, ClipLow), gp.Terminal(0.5, False, ClipHigh)]
    with pytest.raises(DSLTypeError):
        from_deap(equal, PSET)


def test_a_window_below_min_window_is_refused():
    # Window 1 is legal for ts_mean and may travel to ts_std through a shared window type.
    window_type = PSET.mapping["ts_std"].args[1]
    tree = [PSET.mapping["ts_std"], PSET.mapping["close"], gp.Terminal(1, False, window_type)]
    with pytest.raises(DSLTypeError):
        from_deap(tree, PSET)


def test_limits_are_applied():
    node = parse("(neg (neg (neg (neg close))))")
    assert from_deap(to_deap(node, PSET), PSET, Limits(max_depth=5, max_size=5)) == node
    with pytest.raises(DSLLimitError):
        from_deap(to_deap(node, PSET), PSET, Limits(max_depth=4))
    with pytest.raises(DSLLimitError):
        from_deap(to_deap(node, PSET), PSET, Limits(max_size=4))


@pytest.mark.parametrize("node", [
    Terminal("funding"),                                       # not a terminal of this set
    Call("ts_mean", (Terminal("close"), Const(5.0))),          # a constant as a window
    Call("clip", (Terminal("close"), Window(1), Const(2.0))),  # a window as a scalar
    Call("ts_mean", (Window(5), Window(5))),
    Call("nope", (Terminal("close"),)),
    Call("neg", (Terminal("close"), Terminal("open"))),        # wrong arity
])
def test_to_deap_refuses_what_the_set_cannot_express(node):
    with pytest.raises(ValueError):
        to_deap(node, PSET)


def test_malformed_node_lists_are_refused():
    with pytest.raises(ValueError):
        from_deap([PSET.mapping["add"], PSET.mapping["close"]], PSET)
    with pytest.raises(ValueError):
        from_deap([PSET.mapping["close"], PSET.mapping["open"]], PSET)


def test_conversion_never_goes_through_strings(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("string round trip used")

    monkeypatch.setattr(gp, "compile", refuse)
    monkeypatch.setattr(gp.PrimitiveTree, "from_string", classmethod(refuse))
    monkeypatch.setattr(gp.PrimitiveTree, "__str__", refuse)
    node = parse("(ts_zscore (clip (delta close 5) -1.0 1.0) 20)")
    assert from_deap(to_deap(node, PSET), PSET) == node

"""Random trees: well-typed, depth in bounds, within default limits, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsl import (
    OPERATORS,
    Call,
    Const,
    Limits,
    Terminal,
    Window,
    check_limits,
    depth,
    random_tree,
    random_trees,
    size,
    to_text,
    typecheck,
    walk,
)
from core.dsl.generate import DEFAULT_WINDOWS, POW_EXPONENTS


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**63 - 1), st.integers(1, 6), st.integers(0, 4))
def test_depth_bounds_typing_and_limits(seed, min_depth, extra):
    max_depth = min_depth + extra
    tree = random_tree(np.random.default_rng(seed), min_depth=min_depth, max_depth=max_depth)
    assert min_depth <= depth(tree) <= max_depth
    typecheck(tree)
    check_limits(tree, Limits())


def test_exact_depth_when_min_equals_max():
    rng = np.random.default_rng(3)
    for d in range(1, 10):
        assert {depth(random_tree(rng, min_depth=d, max_depth=d)) for _ in range(30)} == {d}


def test_deterministic_for_a_seed():
    assert random_trees(11, 50) == random_trees(11, 50)
    assert random_trees(11, 50) != random_trees(12, 50)
    a = random_tree(np.random.default_rng(5))
    assert a == random_tree(np.random.default_rng(5))


def test_benchmark_population_covers_the_language():
    trees = random_trees(2024, 2000)
    assert {depth(t) for t in trees} == {2, 3, 4, 5}
    nodes = [n for t in trees for n in walk(t)]
    used_ops = {n.op for n in nodes if isinstance(n, Call)}
    assert used_ops == set(OPERATORS)
    terminals = {n.name for n in nodes if isinstance(n, Terminal)}
    assert terminals == {"open", "high", "low", "close", "volume", "returns", "vwap"}
    assert {n.bars for n in nodes if isinstance(n, Window)} <= set(DEFAULT_WINDOWS)
    assert len({to_text(t) for t in trees}) > 1800


def test_pow_clip_and_windows_respect_the_rules():
    for tree in random_trees(1, 1000, operators=["pow", "clip", "ts_std", "ts_corr", "neg"]):
        for n in walk(tree):
            if isinstance(n, Call) and n.op == "pow":
                assert n.args[1].value in POW_EXPONENTS
            if isinstance(n, Call) and n.op == "clip":
                assert n.args[1].value < n.args[2].value
            if isinstance(n, Call) and n.op in ("ts_std", "ts_corr"):
                assert n.args[-1].bars >= 2


def test_options_are_honoured():
    trees = random_trees(9, 200, terminals=("close",), windows=(7,), const_range=(0.0, 1.0),
                         operators=["ts_mean", "add", "mul"], max_size=20)
    for tree in trees:
        assert size(tree) <= 20
        for n in walk(tree):
            if isinstance(n, Terminal):
                assert n.name == "close"
            if isinstance(n, Window):
                assert n.bars == 7
            if isinstance(n, Call):
                assert n.op in {"ts_mean", "add", "mul"}
            if isinstance(n, Const):
                assert 0.0 <= n.value <= 1.0
    # windows below an operator's minimum fall back to that minimum
    tree = random_tree(np.random.default_rng(0), windows=(1,), operators=["ts_std"],
                       min_depth=2, max_depth=2)
    assert tree.args[1] == Window(2)


def test_max_size_is_respected_with_wide_operators():
    for tree in random_trees(4, 300, operators=["if_gt"], min_depth=3, max_depth=4,
                             max_size=30):
        assert size(tree) <= 30 and 3 <= depth(tree) <= 4


@pytest.mark.parametrize("kwargs", [
    {"operators": []}, {"operators": ["nope"]}, {"min_depth": 0}, {"min_depth": 4, "max_depth": 3},
    {"terminals": ()}, {"const_range": (1.0, 1.0)},
    {"operators": ["if_gt"], "min_depth": 5, "max_depth": 5, "max_size": 10},
])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        random_tree(np.random.default_rng(0), **kwargs)

"""vary() and random_genome(): typed children within limits, every operator, deterministic."""

from __future__ import annotations

import collections
import random
import time

import numpy as np
import pytest
from deap import gp
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.evolution import GPConfig
from core.dsl import (
    Call,
    Const,
    Limits,
    Terminal,
    Window,
    check_limits,
    depth,
    parse,
    size,
    to_text,
    typecheck,
    walk,
)
from core.dsl.generate import DEFAULT_TERMINALS, POW_EXPONENTS
from core.evolution import CLONE, OPERATOR_NAMES, Variation, build_pset, random_genome, vary
from tests.core.evolution import run_python

TERMS = DEFAULT_TERMINALS
DEFAULT = GPConfig()


def only(operator: str, **fields: object) -> GPConfig:
    """A configuration that always draws ``operator``."""
    probabilities = {f"p_{name}": float(name == operator) for name in OPERATOR_NAMES}
    return GPConfig(**probabilities, **fields)  # type: ignore[arg-type]


def parent(seed: int, config: GPConfig = DEFAULT, max_depth: int | None = None):
    """A random parent over the set, of any depth up to the configured limit."""
    pset = build_pset(config, TERMS)
    return pset.random_tree(np.random.default_rng(seed), 1, max_depth or config.max_depth,
                            config.max_size)


def check_child(made: Variation, parents, config: GPConfig, operator: str) -> None:
    typecheck(made.child)
    check_limits(made.child, Limits(max_depth=config.max_depth, max_size=config.max_size))
    assert made.operator in (operator, CLONE)
    if made.operator == CLONE:
        assert made.child == parents[0] and made.parent_indices == (0,)
    elif operator == "crossover":
        assert made.child not in parents
        assert made.parent_indices in ((0, 1), (1, 0))
    else:
        assert made.child not in parents
        assert made.parent_indices == (0,)
    terminals = {n.name for n in walk(made.child) if isinstance(n, Terminal)}
    assert terminals <= set(TERMS)


@pytest.mark.parametrize("operator", OPERATOR_NAMES)
@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), a=st.integers(0, 10**6), b=st.integers(0, 10**6))
def test_each_operator_gives_typed_children_within_limits(operator, seed, a, b):
    config = only(operator, max_depth=6, max_size=30)
    parents = [parent(a, config), parent(b, config)]
    made = vary(parents, seed, config, TERMS)
    check_child(made, parents, config, operator)


def test_all_operators_occur_with_the_default_probabilities():
    counts: collections.Counter[str] = collections.Counter()
    for seed in range(1500):
        parents = [random_genome(2 * seed, DEFAULT, TERMS),
                   random_genome(2 * seed + 1, DEFAULT, TERMS)]
        made = vary(parents, seed, DEFAULT, TERMS)
        check_child(made, parents, DEFAULT, made.operator)
        counts[made.operator] += 1
    assert set(OPERATOR_NAMES) <= set(counts)
    assert counts[CLONE] <= 15  # 1%
    # Roughly the configured shares (operators that cannot apply are redrawn).
    assert 0.4 < counts["crossover"] / 1500 < 0.6
    assert 0.1 < counts["subtree"] / 1500 < 0.25


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), a=st.integers(0, 10**6))
def test_random_genome_depth_size_and_typing(seed, a):
    config = GPConfig(init_min_depth=1 + a % 3, init_max_depth=3 + a % 3)
    tree = random_genome(seed, config, ("close", "volume"))
    typecheck(tree)
    assert config.init_min_depth <= depth(tree) <= config.init_max_depth
    assert size(tree) <= config.max_size
    assert {n.name for n in walk(tree) if isinstance(n, Terminal)} <= {"close", "volume"}
    assert {n.bars for n in walk(tree) if isinstance(n, Window)} <= set(config.windows)
    assert tree == random_genome(seed, config, ("close", "volume"))


def test_random_genome_covers_the_depth_range():
    depths = {depth(random_genome(s, DEFAULT, TERMS)) for s in range(300)}
    assert depths == set(range(DEFAULT.init_min_depth, DEFAULT.init_max_depth + 1))


def test_same_seed_same_child_whatever_ran_before():
    parents = [parent(1), parent(2)]
    random.seed(0)
    first = [vary(parents, s, DEFAULT, TERMS) for s in range(50)]
    random.seed(12345)
    [random.random() for _ in range(17)]
    assert [vary(parents, s, DEFAULT, TERMS) for s in range(50)] == first
    assert len({to_text(v.child) for v in first}) > 25


def test_global_random_and_numpy_state_unchanged():
    random.seed(77)
    np.random.seed(78)
    state, np_state = random.getstate(), np.random.get_state()[1].copy()
    parents = [parent(3), parent(4)]
    for s in range(100):
        vary(parents, s, DEFAULT, TERMS)
        random_genome(s, DEFAULT, TERMS)
    assert random.getstate() == state
    assert np.array_equal(np.random.get_state()[1], np_state)


CROSS_PROCESS = (
    "import json\n"
    "from configs.evolution import GPConfig\n"
    "from core.dsl import to_text\n"
    "from core.evolution import random_genome, vary\n"
    "from core.dsl.generate import DEFAULT_TERMINALS as T\n"
    "g = GPConfig()\n"
    "out = []\n"
    "for s in range(150):\n"
    "    ps = [random_genome(3 * s, g, T), random_genome(3 * s + 1, g, T)]\n"
    "    v = vary(ps, 3 * s + 2, g, T)\n"
    "    out.append([to_text(v.child), v.operator, list(v.parent_indices)])\n"
    "print(json.dumps(out))\n"
)


def test_same_children_in_another_process():
    local = []
    for s in range(150):
        ps = [random_genome(3 * s, DEFAULT, TERMS), random_genome(3 * s + 1, DEFAULT, TERMS)]
        v = vary(ps, 3 * s + 2, DEFAULT, TERMS)
        local.append([to_text(v.child), v.operator, list(v.parent_indices)])
    assert {row[1] for row in local} >= {"crossover", "subtree", "point"}
    assert run_python(CROSS_PROCESS, hash_seed="1") == local
    assert run_python(CROSS_PROCESS, hash_seed="2") == local


CLIPPY = parse("(add (clip (pow close 2.0) -1.0 1.5) (mul -0.5 (clip open 0.25 0.3)))")


def test_constant_mutation_keeps_scalars_valid():
    config = only("constant")
    lo, hi = config.const_range
    before = [n for n in walk(CLIPPY) if isinstance(n, Const)]
    changed = collections.Counter()
    for seed in range(400):
        made = vary([CLIPPY], seed, config, TERMS)
        assert made.operator == "constant"
        typecheck(made.child)
        after = [n for n in walk(made.child) if isinstance(n, Const)]
        diffs = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
        assert len(diffs) == 1  # exactly one constant moved, the shape is unchanged
        changed[diffs[0]] += 1
        for node in walk(made.child):
            if isinstance(node, Call) and node.op == "clip":
                assert node.args[1].value < node.args[2].value
            if isinstance(node, Call) and node.op == "pow":
                assert node.args[1].value in POW_EXPONENTS
        assert lo <= after[diffs[0]].value <= hi or after[diffs[0]].value in POW_EXPONENTS
    assert set(changed) == set(range(len(before)))  # every constant gets its turn


def test_window_mutation_moves_to_a_neighbouring_allowed_window():
    config = only("window", windows=(2, 5, 10, 20))
    tree = parse("(sub (ts_std close 2) (ts_mean open 10))")
    seen = set()
    for seed in range(200):
        made = vary([tree], seed, config, TERMS)
        assert made.operator == "window"
        typecheck(made.child)
        std, mean = made.child.args
        seen.add((std.args[1].bars, mean.args[1].bars))
    assert seen == {(5, 10), (2, 5), (2, 20)}  # ts_std cannot go below 2


def test_window_from_outside_the_set_and_min_window_under_crossover():
    config = only("crossover")
    low = parse("(ts_mean close 1)")  # legal, but 1 is not a configured window
    for seed in range(300):
        made = vary([parse("(ts_std (ts_rank open 20) 5)"), low], seed, config, TERMS)
        typecheck(made.child)  # window 1 never lands in a min_window-2 slot
        for node in walk(made.child):
            if isinstance(node, Call) and node.op in ("ts_std", "ts_rank"):
                assert node.args[1].bars >= 2


def test_structural_properties_of_the_operators():
    for seed in range(200):
        p0, p1 = parent(seed), parent(seed + 1000)
        made = vary([p0, p1], seed, only("point"), TERMS)
        if made.operator == "point":
            assert size(made.child) == size(p0) and depth(made.child) == depth(p0)
        made = vary([p0, p1], seed, only("hoist"), TERMS)
        if made.operator == "hoist":
            assert made.child in set(walk(p0)) and made.child != p0
        made = vary([p0, p1], seed, only("shrink"), TERMS)
        if made.operator == "shrink":
            assert size(made.child) < size(p0)
        made = vary([p0, p1], seed, only("crossover"), TERMS)
        if made.operator == "crossover" and isinstance(made.child, Call):
            kept = (p0, p1)[made.parent_indices[0]]
            assert made.child.op == kept.op  # one-point crossover never swaps the root


def test_clone_when_nothing_applies():
    config = only("crossover")
    leaf = parse("close")
    made = vary([leaf], 1, config, TERMS)  # one parent, one node: no crossover possible
    assert made == Variation(leaf, CLONE, (0,))
    made = vary([leaf, parse("(neg open)")], 1, config, TERMS)
    assert made.operator == CLONE
    made = vary([parse("(neg close)")], 1, only("window"), TERMS)
    assert made.operator == CLONE


def test_bad_arguments():
    with pytest.raises(ValueError):
        vary([], 1, DEFAULT, TERMS)
    with pytest.raises(ValueError):
        vary([parse("close")], -1, DEFAULT, TERMS)
    with pytest.raises(ValueError):
        random_genome(-5, DEFAULT, TERMS)
    with pytest.raises(ValueError):
        vary([parse("funding")], 1, DEFAULT, TERMS)


def test_no_string_compilation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("string round trip used")

    monkeypatch.setattr(gp, "compile", refuse)
    monkeypatch.setattr(gp.PrimitiveTree, "from_string", classmethod(refuse))
    monkeypatch.setattr(gp.PrimitiveTree, "__str__", refuse)
    for seed in range(100):
        vary([parent(seed), parent(seed + 1)], seed, DEFAULT, TERMS)


def test_fast_enough():
    parents = [[parent(2 * s, max_depth=7), parent(2 * s + 1, max_depth=7)] for s in range(300)]
    start = time.perf_counter()
    for s, pair in enumerate(parents):
        vary(pair, s, DEFAULT, TERMS)
    per_child = (time.perf_counter() - start) / len(parents)
    assert per_child < 0.005  # ~0.2-0.4 ms measured; a loose bound for busy machines

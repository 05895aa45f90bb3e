"""The typed primitive set: built from the registry, no creator, picklable, the same anywhere."""

from __future__ import annotations

import json
import pickle
import random
from functools import partial

import pytest
from deap import creator, gp

from configs.evolution import GPConfig
from core.dsl import OPERATORS, ArgKind, Call, Const, Terminal, Window
from core.dsl.generate import DEFAULT_TERMINALS, POW_EXPONENTS
from core.evolution import convert
from core.evolution.pset import (
    WINDOW_TYPES,
    ClipHigh,
    ClipLow,
    DSLPrimitiveSet,
    PowExponent,
    ScalarArg,
    Series,
    WindowArg,
    build_pset,
)
from tests.core.evolution import run_python

TERMS = DEFAULT_TERMINALS


def fingerprint(pset: DSLPrimitiveSet) -> list:
    """Everything DEAP's random choices depend on, in order, as plain data."""
    prims = [[t.__qualname__, hash(t), [(p.name, [a.__qualname__ for a in p.args])
                                        for p in ps]] for t, ps in pset.primitives.items()]
    terms = [[t.__qualname__, [str(getattr(x, "name", x)) for x in ts]]
             for t, ts in pset.terminals.items()]
    return [prims, terms, list(pset.operators), list(pset.all_windows)]


def test_every_registry_operator_is_a_primitive_with_its_argument_types():
    pset = build_pset(GPConfig(), TERMS)
    assert pset.operators == tuple(OPERATORS)
    for name, spec in OPERATORS.items():
        prim = pset.mapping[name]
        assert isinstance(prim, gp.Primitive) and prim.ret is Series
        assert len(prim.args) == spec.arity
        for kind, type_ in zip(spec.args, prim.args, strict=True):
            expected = {ArgKind.SERIES: Series, ArgKind.WINDOW: WindowArg,
                        ArgKind.SCALAR: ScalarArg}[kind]
            assert issubclass(type_, expected)
    assert pset.mapping["clip"].args[1:] == [ClipLow, ClipHigh]
    assert pset.mapping["pow"].args[1:] == [PowExponent]


def test_terminals_windows_exponents_and_constants():
    config = GPConfig(windows=(3, 10, 5000), const_range=(-0.5, 0.25))
    pset = build_pset(config, ("close", "volume"))
    series_terms = pset.terminals[Series]
    assert [t.value for t in series_terms if isinstance(t, gp.Terminal)] == ["close", "volume"]
    ephemerals = [t for t in series_terms if isinstance(t, gp.MetaEphemeral)]
    assert len(ephemerals) == 1 and isinstance(ephemerals[0].func, partial)
    assert pset.all_windows == (3, 10)  # 5000 > MAX_WINDOW is dropped
    (window_type,) = pset.windows
    assert [t.value for t in pset.terminals[window_type]] == [3, 10]
    assert [t.value for t in pset.terminals[PowExponent]] == list(POW_EXPONENTS)
    random.seed(0)
    values = [ephemerals[0]().value for _ in range(500)]
    assert min(values) >= -0.5 and max(values) <= 0.25 and len(set(values)) > 50
    assert all(round(v, 2) == v for v in values)


def test_every_argument_type_has_a_primitive_so_deap_generators_work():
    pset = build_pset(GPConfig(), TERMS)
    arg_types = {t for p in pset.primitives[Series] for t in p.args}
    for type_ in arg_types:
        assert pset.primitives[type_], type_
        assert pset.terminals[type_], type_
    assert {n for n in pset.identity_names} == {
        f"_id_{t.__qualname__}" for t in arg_types if t is not Series}
    random.seed(1)
    for _ in range(200):
        gp.genFull(pset, 2, 4)  # raises IndexError if a type lacked a primitive
        gp.genGrow(pset, 1, 4)


def test_min_window_is_carried_by_the_window_types():
    default = build_pset(GPConfig(), TERMS)
    assert len({default.mapping[n].args[-1] for n, s in OPERATORS.items()
                if ArgKind.WINDOW in s.args}) == 1  # all windows >= 2: one shared type
    # With a window of 1 allowed, min_window 2 operators get their own type without it.
    pset = DSLPrimitiveSet((1, 2, 5), (-1.0, 1.0), TERMS)
    for name, spec in OPERATORS.items():
        if ArgKind.WINDOW not in spec.args:
            continue
        type_ = pset.mapping[name].args[spec.args.index(ArgKind.WINDOW)]
        allowed = pset.windows[type_]
        assert allowed == tuple(w for w in (1, 2, 5) if w >= spec.min_window)
        assert [t.value for t in pset.terminals[type_]] == list(allowed)
    assert pset.mapping["ts_std"].args[1] is WINDOW_TYPES[2]
    assert pset.mapping["ts_mean"].args[1] is WINDOW_TYPES[1]


def test_operators_without_an_allowed_window_are_left_out():
    pset = DSLPrimitiveSet((3000,), (-1.0, 1.0), TERMS)
    windowed = {n for n, s in OPERATORS.items() if ArgKind.WINDOW in s.args}
    assert set(pset.operators) == set(OPERATORS) - windowed
    with pytest.raises(ValueError, match="does not fit"):
        convert.to_deap(Call("ts_mean", (Terminal("close"), Window(5))), pset)


def test_built_without_creator():
    before = set(vars(creator))
    build_pset(GPConfig(windows=(2, 7)), ("open", "close"))  # a new (uncached) set
    assert set(vars(creator)) == before


def test_primitives_refuse_to_run():
    pset = build_pset(GPConfig(), TERMS)
    with pytest.raises(NotImplementedError):
        pset.context["add"](1, 2)


def test_memoised_and_validated():
    assert build_pset(GPConfig(), TERMS) is build_pset(GPConfig(), list(TERMS))
    assert build_pset(GPConfig(), TERMS) is not build_pset(GPConfig(), ("close",))
    for bad in [(), ("close", "close"), ("close", "bitcoin")]:
        with pytest.raises(ValueError):
            build_pset(GPConfig(), bad)


def test_pickles_and_the_copy_works():
    pset = build_pset(GPConfig(), TERMS)
    copy = pickle.loads(pickle.dumps(pset))
    assert fingerprint(copy) == fingerprint(pset)
    node = Call("clip", (Call("ts_std", (Terminal("close"), Window(20))),
                         Const(-1.0), Const(0.5)))
    assert convert.from_deap(convert.to_deap(node, copy), copy) == node


def test_identical_in_another_process_and_unpickled_there():
    pset = build_pset(GPConfig(), TERMS)
    code = (
        "import json, pickle, sys\n"
        "from configs.evolution import GPConfig\n"
        "from core.evolution.pset import build_pset\n"
        "from core.dsl.generate import DEFAULT_TERMINALS\n"
        "from tests.core.evolution.test_pset import fingerprint\n"
        f"copy = pickle.loads(bytes.fromhex('{pickle.dumps(pset).hex()}'))\n"
        "built = build_pset(GPConfig(), DEFAULT_TERMINALS)\n"
        "print(json.dumps([fingerprint(built), fingerprint(copy)]))\n"
    )
    built, unpickled = run_python(code, hash_seed="987")
    local = json.loads(json.dumps(fingerprint(pset)))
    assert built == local  # including the types' hashes: DEAP's set orders agree
    assert unpickled == local

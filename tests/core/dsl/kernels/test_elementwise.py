"""Elementwise kernels agree bit for bit with the scalar reference used by constant folding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsl.operators import OPERATORS, OpFamily
from core.dsl.scalar import SCALAR_OPS

from .helpers import n_series, run

ELEMENTWISE = sorted(name for name, spec in OPERATORS.items()
                     if spec.family is OpFamily.ELEMENTWISE)
SPECIAL = [0.0, -0.0, 1e-12, -1e-12, 9.99e-13, 1e-300, 5e-324, -5e-324, 1e300, -1e300,
           1.7976931348623157e308, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, 2.0]
values = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(-1e3, 1e3), st.floats(-1e-10, 1e-10))
exponents = st.one_of(st.sampled_from([-4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0]),
                      st.floats(-4.0, 4.0))


def bits(v: float) -> int:
    return int(np.float64(v).view(np.uint64))


def same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or bits(got) == bits(want)


def check(name: str, columns: list[list[float]], scalars: tuple[float, ...] = ()) -> None:
    inputs = [np.asfortranarray(np.array(c, dtype=float)[:, None]) for c in columns]
    got = run(name, inputs, 0, scalars)[:, 0]
    for i, result in enumerate(got):
        args = [c[i] for c in columns]
        want = SCALAR_OPS[name](*args, *scalars)
        assert same(float(result), want), (name, args, scalars, result, want)


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if n not in {"pow", "clip"}])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bit_for_bit_with_the_scalar_reference(name: str, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 40))
    columns = [data.draw(st.lists(values, min_size=size, max_size=size))
               for _ in range(n_series(name))]
    check(name, columns)


@settings(max_examples=150, deadline=None)
@given(xs=st.lists(values, min_size=1, max_size=40), p=exponents)
def test_pow_bit_for_bit(xs: list[float], p: float) -> None:
    check("pow", [xs], (p,))


@pytest.mark.parametrize("p", [2.0, 0.5, -1.0])
@settings(max_examples=60, deadline=None)
@given(xs=st.lists(values, min_size=1, max_size=40))
def test_pow_fast_exponents_bit_for_bit(xs: list[float], p: float) -> None:
    check("pow", [xs], (p,))


@settings(max_examples=100, deadline=None)
@given(xs=st.lists(values, min_size=1, max_size=40),
       bounds=st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).filter(
           lambda b: b[0] < b[1]))
def test_clip_bit_for_bit(xs: list[float], bounds: tuple[float, float]) -> None:
    check("clip", [xs], bounds)
    check("clip", [xs], (0.0, 1.0))
    check("clip", [xs], (-1.0, -0.0))


def test_every_special_pair() -> None:
    for name in ELEMENTWISE:
        k = n_series(name)
        grid = np.array(np.meshgrid(*[SPECIAL] * min(k, 2))).reshape(min(k, 2), -1)
        columns = [[float(v) for v in grid[i % len(grid)]] for i in range(k)]
        scalars = {"pow": (-0.5,), "clip": (-1.0, 1.0)}.get(name, ())
        check(name, columns, scalars)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_out_may_be_an_input_and_inputs_are_untouched(name: str) -> None:
    rng = np.random.default_rng(1)
    inputs = [np.asfortranarray(rng.normal(size=(50, 3))) for _ in range(n_series(name))]
    scalars = {"pow": (1.5,), "clip": (-0.5, 0.5)}.get(name, ())
    copies = [x.copy(order="F") for x in inputs]
    want = run(name, inputs, 0, scalars)
    for x, c in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(x, c)
    from core.dsl.kernels import KERNELS

    KERNELS[name](tuple(inputs), 0, scalars, inputs[0])
    np.testing.assert_array_equal(inputs[0], want)


def test_a_size_one_input_is_broadcast() -> None:
    x = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    got = run("sub", [x, np.array(2.0)])
    np.testing.assert_array_equal(got, x - 2.0)
    got = run("if_gt", [x, np.full((1, 1), 5.0), x, np.zeros(1)])
    np.testing.assert_array_equal(got, np.where(x > 5.0, x, 0.0))

"""The dispatch table: complete, uniformly callable, and defensive at its boundary."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from core.dsl.kernels import ALIAS_SAFE, KERNELS
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind, OpFamily

from .helpers import n_series, run, series


def test_every_operator_has_a_kernel_and_nothing_else() -> None:
    assert set(KERNELS) == set(OPERATORS)
    for kernel in KERNELS.values():
        assert list(inspect.signature(kernel).parameters) == ["inputs", "window", "scalars",
                                                              "out"]


def test_alias_safe_operators() -> None:
    expected = {name for name, spec in OPERATORS.items()
                if spec.family is not OpFamily.TIME_SERIES}
    assert expected == ALIAS_SAFE


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_out_is_filled_inputs_untouched_and_columns_independent(name: str) -> None:
    spec = OPERATORS[name]
    rng = np.random.default_rng(0)
    inputs = [series(rng, 120, 3, warmup=10) for _ in range(n_series(name))]
    copies = [x.copy(order="F") for x in inputs]
    window = max(spec.min_window, 7) if ArgKind.WINDOW in spec.args else 0
    scalars = {"pow": (0.5,), "clip": (-1.0, 1.0)}.get(name, ())
    out = run(name, inputs, window, scalars)
    assert not (out == -12345.0).any()  # every cell written
    for x, c in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(x, c)
    if spec.family is not OpFamily.CROSS_SECTIONAL:  # symbols are independent
        single = run(name, [np.asfortranarray(x[:, 1:2]) for x in inputs], window, scalars)
        np.testing.assert_array_equal(single[:, 0], out[:, 1])
    c_order = run(name, [np.ascontiguousarray(x) for x in inputs], window, scalars)
    np.testing.assert_array_equal(c_order, out)  # any memory layout gives the same values


@pytest.mark.parametrize("name", sorted(n for n, s in OPERATORS.items()
                                        if s.family is OpFamily.TIME_SERIES))
def test_time_series_kernels_reject_bad_windows_and_aliasing(name: str) -> None:
    spec = OPERATORS[name]
    x = series(np.random.default_rng(1), 50, 2)
    inputs = (x,) * n_series(name)
    with pytest.raises(ValueError, match="window"):
        KERNELS[name](inputs, spec.min_window - 1, (), np.empty_like(x))
    with pytest.raises(ValueError, match="overlap"):
        KERNELS[name](inputs, spec.min_window, (), x)


def test_shape_mismatch_is_rejected() -> None:
    x = series(np.random.default_rng(2), 50, 2)
    with pytest.raises(ValueError, match="shape"):
        KERNELS["add"]((x, x[:40]), 0, (), np.empty_like(x))


@pytest.mark.parametrize("name", sorted(n for n, s in OPERATORS.items()
                                        if s.family is OpFamily.TIME_SERIES))
def test_leading_nans_match_the_declared_warmup(name: str) -> None:
    spec = OPERATORS[name]
    rng = np.random.default_rng(4)
    for w in (spec.min_window, 9, 40):
        for lead in (0, 13):
            inputs = [series(rng, 200, 2) for _ in range(n_series(name))]
            for x in inputs:
                x[:lead] = np.nan
            out = run(name, inputs, w)
            nan_rows = np.isnan(out).all(axis=1)
            expected = lead + spec.warmup(w)
            assert nan_rows[:expected].all() and not np.isnan(out[expected:]).any(), (w, lead)


@pytest.mark.parametrize("bars", [0, 1, 2])
def test_tiny_series(bars: int) -> None:
    for name, spec in OPERATORS.items():
        x = np.asfortranarray(np.arange(bars * 3, dtype=float).reshape(bars, 3))
        window = MAX_WINDOW if ArgKind.WINDOW in spec.args else 0
        scalars = {"pow": (2.0,), "clip": (0.0, 1.0)}.get(name, ())
        out = run(name, [x] * n_series(name), window, scalars)
        assert out.shape == (bars, 3)
        if window:
            assert np.isnan(out).all()

"""Causality: every operator on the first t bars equals, bit for bit, its full-series value."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dsl.kernels.rank import DIRECT_MAX_WINDOW
from core.dsl.operators import OPERATORS, ArgKind

from .helpers import assert_bits_equal, n_series, run, series

SCALARS = {"pow": (1.5,), "clip": (-0.7, 0.4)}


@pytest.mark.parametrize("name", sorted(OPERATORS))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 420), s=st.integers(1, 3),
       kind=st.sampled_from(["normal", "walk", "ties", "flat"]), data=st.data())
def test_prefix_evaluation_is_bit_identical(name: str, seed: int, n: int, s: int, kind: str,
                                            data: st.DataObject) -> None:
    spec = OPERATORS[name]
    rng = np.random.default_rng(seed)
    inputs = [series(rng, n, s, kind=kind, warmup=n // 4, holes=1) for _ in range(n_series(name))]
    window = 0
    if ArgKind.WINDOW in spec.args:
        window = data.draw(st.one_of(st.integers(spec.min_window, 12),
                                     st.integers(spec.min_window, max(spec.min_window, n))))
    t = data.draw(st.integers(1, n))
    full = run(name, inputs, window, SCALARS.get(name, ()))
    prefix = run(name, [np.asfortranarray(x[:t]) for x in inputs], window,
                 SCALARS.get(name, ()))
    assert_bits_equal(prefix, full[:t])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["normal", "ties", "walk"]),
       data=st.data())
def test_long_windows_are_causal_too(seed: int, kind: str, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    x = series(rng, 1400, 2, kind=kind, warmup=100, holes=1)
    name = data.draw(st.sampled_from(["ts_rank", "ts_std", "ts_max", "ts_argmin", "decay_linear"]))
    w = data.draw(st.sampled_from([DIRECT_MAX_WINDOW + 1, 1000, 1300]))
    t = data.draw(st.integers(1, 1400))
    assert_bits_equal(run(name, [np.asfortranarray(x[:t])], w), run(name, [x], w)[:t])


def test_a_future_shock_does_not_move_the_past() -> None:
    rng = np.random.default_rng(0)
    x = series(rng, 600, 2, kind="walk")
    shocked = x.copy(order="F")
    shocked[400:] += 1e9 * rng.normal(size=(200, 2))
    for name, spec in OPERATORS.items():
        if spec.family.value != "time_series":
            continue
        inputs = [x] * n_series(name)
        others = [shocked] * n_series(name)
        w = max(spec.min_window, 20)
        assert_bits_equal(run(name, inputs, w)[:400], run(name, others, w)[:400])

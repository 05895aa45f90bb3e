"""Cross-sectional kernels: NaN symbols skipped, m = 0, 1, 2, ties, wide cross-sections."""

from __future__ import annotations

import numpy as np
import pytest

from core.dsl.kernels import KERNELS

from . import reference as ref
from .helpers import assert_close, run, series

nan = np.nan


def matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asfortranarray(np.array(rows, dtype=float))


ROWS = matrix([
    [nan, nan, nan, nan],      # m = 0
    [nan, 2.0, nan, nan],      # m = 1
    [1.0, nan, 3.0, nan],      # m = 2
    [5.0, 5.0, 5.0, nan],      # all equal
    [1.0, 2.0, 2.0, 3.0],      # ties
    [0.1, 0.1, 0.1, 0.1],      # equal values whose mean is not exactly 0.1
    [-0.0, 0.0, 1.0, nan],     # signed zeros tie
    [1e5 + 1e-6, 1e5, 1e5 - 1e-6, 1e5 + 2e-6],  # large offset
])


def test_rank_by_hand() -> None:
    got = run("cs_rank", [ROWS])
    np.testing.assert_array_equal(got, [
        [nan, nan, nan, nan], [nan, 0.5, nan, nan], [0.0, nan, 1.0, nan],
        [0.5, 0.5, 0.5, nan], [0.0, 0.5, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5],
        [0.25, 0.25, 1.0, nan], [2 / 3, 1 / 3, 0.0, 1.0]])


def test_zscore_and_demean_by_hand() -> None:
    z = run("cs_zscore", [ROWS])
    np.testing.assert_array_equal(z[:4], [[nan] * 4, [nan, 0, nan, nan], [-1, nan, 1, nan],
                                          [0, 0, 0, nan]])
    np.testing.assert_allclose(z[4], np.array([-2, 0, 0, 2]) / np.sqrt(2), rtol=1e-15)
    np.testing.assert_array_equal(z[5], 0.0)
    d = run("cs_demean", [ROWS])
    np.testing.assert_array_equal(d[:4], [[nan] * 4, [nan, 0, nan, nan], [-1, nan, 1, nan],
                                          [0, 0, 0, nan]])
    np.testing.assert_array_equal(d[5], 0.0)


@pytest.mark.parametrize("name", sorted(ref.CROSS_SECTION))
@pytest.mark.parametrize(("s", "kind"), [(1, "normal"), (2, "ties"), (5, "normal"),
                                         (7, "ties"), (40, "normal"), (60, "ties")])
def test_matches_the_reference(name: str, s: int, kind: str) -> None:
    rng = np.random.default_rng(s)
    x = series(rng, 150, s, kind=kind, warmup=40, holes=20)
    x = np.asfortranarray(np.vstack([ROWS[:, np.arange(s) % ROWS.shape[1]], x]))
    got = run(name, [x])
    want = ref.CROSS_SECTION[name](x)
    if name == "cs_rank":
        np.testing.assert_array_equal(got, want)
    else:
        assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ref.CROSS_SECTION))
def test_out_may_be_the_input(name: str) -> None:
    x = series(np.random.default_rng(5), 80, 6, kind="ties", holes=10)
    want = run(name, [x])
    KERNELS[name]((x,), 0, (), x)
    np.testing.assert_array_equal(x, want)

"""Long series with a large offset: running sums must not drift from the naive values."""

from __future__ import annotations

import numpy as np
import pytest

from . import reference as ref
from .helpers import run

N = 200_000


@pytest.fixture(scope="module")
def walks() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    # prices near 1e5 moving by ~1e-3 per bar: the variance is ~1e-16 of the squared level
    x = 1e5 + np.cumsum(rng.normal(0.0, 1e-3, N))
    y = 3e4 + np.cumsum(rng.normal(0.0, 1e-3, N)) + 0.5 * (x - 1e5)
    return np.asfortranarray(x[:, None]), np.asfortranarray(y[:, None])


def sample_bars(w: int) -> np.ndarray:
    rng = np.random.default_rng(w)
    return np.unique(np.concatenate([rng.integers(w - 1, N, 150), np.arange(N - 20, N)]))


@pytest.mark.parametrize("w", [2, 20, 500])
@pytest.mark.parametrize("name", ["ts_std", "ts_zscore", "ts_corr", "ts_cov", "ts_mean",
                                  "ts_sum", "decay_linear"])
def test_no_drift_on_a_long_offset_random_walk(walks, name: str, w: int) -> None:
    x, y = walks
    pair = name in ref.PAIRS
    got = run(name, [x, y] if pair else [x], w)[:, 0]
    for t in sample_bars(w):
        a = x[t - w + 1: t + 1]
        b = y[t - w + 1: t + 1]
        want = (ref.PAIRS[name](a, b, w) if pair else ref.TIME_SERIES[name](a, w))[-1, 0]
        # tolerance relative to the natural scale of each quantity
        scale = {"ts_std": want, "ts_cov": np.std(a, ddof=1) * np.std(b, ddof=1),
                 "ts_zscore": 1.0, "ts_corr": 1.0}.get(name, abs(want))
        assert abs(got[t] - want) <= 1e-9 * abs(scale), (name, w, t, got[t], want)

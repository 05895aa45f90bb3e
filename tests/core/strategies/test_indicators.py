"""Indicators: agreement with pandas / brute force, explicit warm-up, NaN handling, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import BacktestError
from core.strategies import (
    ema,
    rolling_mean,
    rolling_ols,
    rolling_residual_zscore,
    rolling_std,
    rolling_zscore,
)
from tests.core.strategies.helpers import random_walk


@pytest.mark.parametrize("window", [1, 2, 5, 32, 33, 200])
def test_rolling_mean_std_match_pandas(window: int) -> None:
    x = random_walk(3000, seed=1)
    x[1500] *= 5  # an outlier entering and leaving the window
    np.testing.assert_allclose(rolling_mean(x, window), pd.Series(x).rolling(window).mean())
    if window > 1:
        np.testing.assert_allclose(
            rolling_std(x, window), pd.Series(x).rolling(window).std(), rtol=1e-8
        )
        assert np.isnan(rolling_std(x, window)[: window - 1]).all()
    assert np.isnan(rolling_mean(x, window)[: window - 1]).all()
    assert not np.isnan(rolling_mean(x, window)[window - 1 :]).any()


def test_ema_hand_values() -> None:
    # span 2 -> alpha 2/3; seed at bar 1 = mean(1, 2) = 1.5; then 1.5 + 2/3 * (3 - 1.5) = 2.5,
    # 2.5 + 2/3 * (4 - 2.5) = 3.5, 4.5
    np.testing.assert_allclose(ema([1.0, 2.0, 3.0, 4.0, 5.0], 2), [np.nan, 1.5, 2.5, 3.5, 4.5])


def test_ema_matches_pandas_after_seed() -> None:
    x = random_walk(500, seed=2)
    span = 20
    seeded = x.copy()
    seeded[span - 1] = x[:span].mean()
    expected = pd.Series(seeded[span - 1 :]).ewm(span=span, adjust=False).mean().to_numpy()
    out = ema(x, span)
    assert np.isnan(out[: span - 1]).all()
    np.testing.assert_allclose(out[span - 1 :], expected, rtol=1e-12)


def test_non_finite_input_blanks_its_windows_then_resumes() -> None:
    x = np.arange(1.0, 11.0)
    x[4] = np.nan
    mean = rolling_mean(x, 3)
    # windows containing bar 4 are bars 4, 5, 6; bars 2-3 and 7-9 are full finite windows
    assert np.isnan(mean[[0, 1, 4, 5, 6]]).all()
    np.testing.assert_allclose(mean[[2, 3, 7, 8, 9]], [2.0, 3.0, 7.0, 8.0, 9.0])
    out = ema(x, 2)
    assert np.isnan(out[[0, 4, 5]]).all() and out[6] == pytest.approx(6.5)  # re-seeded


def test_zscore_hand_values_and_flat_window() -> None:
    # window [10, 10, 10, 7]: mean 9.25, ss = 3 * 0.75^2 + 2.25^2 = 6.75, std sqrt(6.75/3) = 1.5
    # z = (7 - 9.25) / 1.5 = -1.5; a constant window has no z (NaN), not a division by zero
    z = rolling_zscore([10.0, 10.0, 10.0, 10.0, 7.0], 4)
    assert np.isnan(z[:4]).all()
    assert z[4] == pytest.approx(-1.5)
    assert np.isnan(rolling_zscore([0.1] * 10, 3)).all()


def test_rolling_ols_matches_polyfit() -> None:
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=400))
    y = 0.7 + 1.3 * x + rng.normal(scale=0.5, size=400)
    window = 50
    beta, alpha = rolling_ols(y, x, window)
    _, z = rolling_residual_zscore(y, x, window)
    assert np.isnan(beta[: window - 1]).all() and np.isnan(z[: window - 1]).all()
    for t in (window - 1, 123, 399):
        xs, ys = x[t - window + 1 : t + 1], y[t - window + 1 : t + 1]
        slope, intercept = np.polyfit(xs, ys, 1)
        spread = ys - slope * xs
        assert beta[t] == pytest.approx(slope, rel=1e-9)
        assert alpha[t] == pytest.approx(intercept, rel=1e-9)
        assert z[t] == pytest.approx((spread[-1] - spread.mean()) / spread.std(ddof=1), rel=1e-7)


def test_rolling_ols_degenerate_regressor_is_nan() -> None:
    beta, alpha = rolling_ols(np.arange(10.0), np.full(10, 3.0), 4)
    assert np.isnan(beta).all() and np.isnan(alpha).all()


def test_indicators_are_prefix_invariant() -> None:
    x = random_walk(700, seed=9)
    y = random_walk(700, seed=10)
    for t in (1, 40, 64, 65, 333, 699):
        for fn, full in (
            (lambda v: rolling_std(v, 100), rolling_std(x, 100)),
            (lambda v: rolling_zscore(v, 40), rolling_zscore(x, 40)),
            (lambda v: ema(v, 30), ema(x, 30)),
        ):
            np.testing.assert_array_equal(fn(x[:t]), full[:t])
        np.testing.assert_array_equal(
            rolling_ols(y[:t], x[:t], 60)[0], rolling_ols(y, x, 60)[0][:t]
        )


def test_bad_arguments() -> None:
    with pytest.raises(BacktestError):
        rolling_mean([1.0, 2.0], 0)
    with pytest.raises(BacktestError):
        rolling_std([1.0, 2.0], 1)
    with pytest.raises(BacktestError):
        rolling_mean(np.ones((3, 3)), 2)
    with pytest.raises(BacktestError):
        rolling_ols([1.0, 2.0, 3.0], [1.0, 2.0], 2)

"""Pairs: hedge ratio recovery, leg weights, entries/exits, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import BacktestError
from core.strategies import (
    PairsParams,
    compute_pairs,
    hysteresis_positions,
    pairs_targets,
    rolling_ols,
    rolling_residual_zscore,
)
from tests.core.strategies.helpers import make_candles


def _cointegrated(n: int, seed: int, log: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if log:
        log_b = np.log(50.0) + np.cumsum(rng.normal(0.0, 0.01, n))
        log_a = 0.3 + 2.0 * log_b + rng.normal(0.0, 0.002, n)
        return np.exp(log_a), np.exp(log_b)
    b = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    return 2.0 * b + rng.normal(0.0, 0.2, n), b


@pytest.mark.parametrize("log", [True, False])
def test_hedge_ratio_recovers_beta(log: bool) -> None:
    a, b = _cointegrated(2000, seed=1, log=log)
    ya, xb = (np.log(a), np.log(b)) if log else (a, b)
    beta, _ = rolling_ols(ya, xb, 200)
    assert np.isnan(beta[:199]).all()
    assert np.nanmedian(beta) == pytest.approx(2.0, abs=0.05)


def test_pairs_weights_follow_the_entry_hedge() -> None:
    a, b = _cointegrated(3000, seed=2, log=True)
    lookback = 100
    target_a, target_b = pairs_targets(a, b, lookback, entry_z=2.0, exit_z=0.5)
    beta, z = rolling_residual_zscore(np.log(a), np.log(b), lookback)
    state = hysteresis_positions(z, 2.0, 0.5, allow_short=True)

    assert np.isnan(target_a[: lookback - 1]).all() and np.isnan(target_b[: lookback - 1]).all()
    live = ~np.isnan(target_a)
    np.testing.assert_array_equal(np.sign(target_a[live]), state[live])
    in_pos = live & (target_a != 0)
    assert in_pos.sum() > 50 and (target_a[in_pos] < 0).any() and (target_a[in_pos] > 0).any()
    np.testing.assert_allclose(np.abs(target_a[in_pos]) + np.abs(target_b[in_pos]), 1.0)
    assert (target_b[live & (target_a == 0)] == 0).all()

    entries = np.flatnonzero(in_pos & (np.r_[np.nan, state[:-1]] != state))
    for t in entries:
        h = beta[t]  # log prices: hedge notional ratio = beta (~2 -> |w| ~ 1/3, 2/3)
        assert target_a[t] == pytest.approx(state[t] / (1 + abs(h)))
        assert target_b[t] == pytest.approx(-state[t] * h / (1 + abs(h)))
        assert abs(target_a[t]) == pytest.approx(1 / 3, abs=0.03)
        # weights stay frozen while the position is held
        end = t
        while end + 1 < len(state) and state[end + 1] == state[t]:
            end += 1
        assert (target_a[t : end + 1] == target_a[t]).all()
        assert (target_b[t : end + 1] == target_b[t]).all()


def test_pairs_entry_direction() -> None:
    a, b = _cointegrated(1500, seed=3, log=True)
    target_a, target_b = pairs_targets(a, b, 80, entry_z=2.0, exit_z=0.0)
    _, z = rolling_residual_zscore(np.log(a), np.log(b), 80)
    # wherever z < -entry the spread is cheap: long A, short B (beta > 0)
    cheap = z < -2.0
    assert cheap.any()
    assert (target_a[cheap] > 0).all() and (target_b[cheap] < 0).all()
    rich = z > 2.0
    assert (target_a[rich] < 0).all() and (target_b[rich] > 0).all()


def test_pairs_raw_prices_hedge_in_notional() -> None:
    a, b = _cointegrated(1500, seed=4, log=False)
    target_a, target_b = pairs_targets(a, b, 100, 2.0, 0.5, use_log=False)
    beta, _ = rolling_ols(a, b, 100)
    in_pos = ~np.isnan(target_a) & (target_a != 0)
    entries = np.flatnonzero(in_pos & ~np.r_[False, in_pos[:-1]])
    assert len(entries) > 0
    for t in entries:
        h = beta[t] * b[t] / a[t]  # quantity ratio beta -> notional ratio ~ 2 * B / A ~ 1
        assert target_b[t] / target_a[t] == pytest.approx(-h)


def test_compute_pairs_checks_inputs() -> None:
    a, b = _cointegrated(300, seed=5, log=True)
    params = PairsParams(lookback=50)
    out = compute_pairs([make_candles(a, "A/USDT"), make_candles(b, "B/USDT")], params)
    np.testing.assert_array_equal(out[0], pairs_targets(a, b, 50, 2.0, 0.5)[0])
    with pytest.raises(BacktestError, match="aligned"):
        compute_pairs([make_candles(a), make_candles(b, start_ms=3_600_000)], params)
    with pytest.raises(BacktestError, match="two symbols"):
        compute_pairs([make_candles(a)], params)
    with pytest.raises(BacktestError, match="positive"):
        pairs_targets(a - a[0], b, 50, 2.0, 0.5)

"""PBO by CSCV: a hand-computed example, a brute-force re-implementation and properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import rankdata

from core.metrics import sharpe_ratio
from core.validation import ValidationError, pbo_cscv, probability_of_backtest_overfitting


def column_means(matrix: np.ndarray) -> np.ndarray:
    return matrix.mean(axis=0)


def test_hand_computed_tiny_example() -> None:
    # T=4 rows, N=3 trials (A, B, C), S=4 submatrices of one row, metric = mean.
    m = np.array(
        [
            [4.0, 1.0, 2.0],  # t0
            [0.0, 3.5, 1.5],  # t1
            [1.0, 2.5, 5.0],  # t2
            [3.0, 0.0, 2.0],  # t3
        ]
    )
    # IS rows | IS sums (A, B, C) | winner | OOS sums     | OOS rank of winner | w     | lambda
    # (0, 1)  | 4, 4.5, 3.5      | B      | 4, 2.5, 7    | 1                  | 1/4   | ln(1/3)
    # (0, 2)  | 5, 3.5, 7        | C      | 3, 3.5, 3.5  | tie B,C -> 2.5     | 5/8   | ln(5/3)
    # (0, 3)  | 7, 1, 4          | A      | 1, 6, 6.5    | 1                  | 1/4   | ln(1/3)
    # (1, 2)  | 1, 6, 6.5        | C      | 7, 1, 4      | 2                  | 1/2   | 0
    # (1, 3)  | 3, 3.5, 3.5      | B (first of the tie) | 5, 3.5, 7 | 1       | 1/4   | ln(1/3)
    # (2, 3)  | 4, 2.5, 7        | C      | 4, 4.5, 3.5  | 1                  | 1/4   | ln(1/3)
    result = probability_of_backtest_overfitting(m, 4, metric=column_means)
    third = math.log(1 / 3)
    assert result.n_combinations == 6
    np.testing.assert_allclose(
        result.logits, [third, math.log(5 / 3), third, 0.0, third, third], atol=1e-12
    )
    np.testing.assert_allclose(result.is_best_oos_rank, [1 / 4, 5 / 8, 1 / 4, 1 / 2, 1 / 4, 1 / 4])
    assert result.pbo == pytest.approx(5 / 6)  # lambda <= 0 in all but (0, 2)
    alias = pbo_cscv(m, n_blocks=4, metric=column_means)
    np.testing.assert_array_equal(alias.logits, result.logits)
    is_perf = np.array([4.5, 7, 7, 6.5, 3.5, 7]) / 2
    oos_perf = np.array([2.5, 3.5, 1, 4, 3.5, 3.5]) / 2
    np.testing.assert_allclose(result.is_performance, is_perf)
    np.testing.assert_allclose(result.oos_performance, oos_perf)
    slope = np.cov(is_perf, oos_perf, ddof=0)[0, 1] / np.var(is_perf)
    assert result.degradation_slope == pytest.approx(slope)
    assert result.degradation_intercept == pytest.approx(oos_perf.mean() - slope * is_perf.mean())
    assert result.prob_oos_loss == 0.0


def brute_force(m: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSCV written directly from the paper with core.metrics.sharpe_ratio and scipy ranks."""
    blocks = np.array_split(np.arange(len(m)), s)
    logits, is_perf, oos_perf = [], [], []
    for combo in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[g] for g in combo])
        oos_rows = np.concatenate([blocks[g] for g in range(s) if g not in combo])
        r_is = np.array([sharpe_ratio(m[is_rows, j], 1.0) for j in range(m.shape[1])])
        r_oos = np.array([sharpe_ratio(m[oos_rows, j], 1.0) for j in range(m.shape[1])])
        best = int(np.argmax(r_is))
        omega = rankdata(r_oos)[best] / (m.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
        is_perf.append(r_is[best])
        oos_perf.append(r_oos[best])
    return np.array(logits), np.array(is_perf), np.array(oos_perf)


@pytest.mark.parametrize(("t_rows", "n_trials", "s", "seed"), [(60, 5, 6, 0), (103, 8, 4, 1)])
def test_default_sharpe_matches_brute_force(t_rows: int, n_trials: int, s: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(0.001, 0.01, size=(t_rows, n_trials)) + rng.normal(0, 0.01, (t_rows, 1))
    logits, is_perf, oos_perf = brute_force(m, s)
    result = probability_of_backtest_overfitting(m, s)
    np.testing.assert_allclose(result.logits, logits, atol=1e-12)
    np.testing.assert_allclose(result.is_performance, is_perf, rtol=1e-9)
    np.testing.assert_allclose(result.oos_performance, oos_perf, rtol=1e-9)
    assert result.pbo == pytest.approx(np.mean(logits <= 0))
    assert result.prob_oos_loss == pytest.approx(np.mean(oos_perf < 0))
    slope, intercept = np.polyfit(is_perf, oos_perf, 1)
    assert result.degradation_slope == pytest.approx(slope, rel=1e-9)
    assert result.degradation_intercept == pytest.approx(intercept, rel=1e-9, abs=1e-15)
    # The generic metric path gives the same answer as the pooled-moment fast path.
    sharpe = probability_of_backtest_overfitting(
        m, s, metric=lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1)
    )
    np.testing.assert_allclose(sharpe.logits, result.logits, atol=1e-12)


def test_a_dominant_strategy_is_never_overfit() -> None:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, size=(800, 10))
    m[:, 3] += 0.01  # Sharpe ~1 per period in every sub-period, the others ~0
    result = probability_of_backtest_overfitting(m, 16)
    assert result.n_combinations == 12_870
    assert result.pbo == 0.0
    np.testing.assert_allclose(result.logits, math.log(10))  # always ranked first OOS
    assert result.prob_oos_loss == 0.0


def test_pure_noise_gives_pbo_near_one_half() -> None:
    # With no skill the IS winner's OOS rank is uniform, so E[PBO] = 1/2 for an even N. A single
    # data set's PBO varies a lot (combinations share rows): average 200 seeded data sets,
    # whose standard error is ~0.015, and allow 0.05.
    values = [
        probability_of_backtest_overfitting(
            np.random.default_rng(1000 + seed).normal(size=(240, 20)), 8
        ).pbo
        for seed in range(200)
    ]
    assert abs(np.mean(values) - 0.5) < 0.05


def test_flat_trials_score_zero_and_constant_non_zero_trials_raise() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(0.0, 0.01, size=(100, 4))
    m[:, 2] = 0.0  # never trades
    m[:50, 1] = 0.0  # trades only in the second half
    result = probability_of_backtest_overfitting(m, 4)
    assert 0.0 <= result.pbo <= 1.0 and np.all(np.isfinite(result.logits))
    m[:, 0] = 0.001
    with pytest.raises(ValidationError, match="trial 0 has constant non-zero returns"):
        probability_of_backtest_overfitting(m, 4)


@settings(max_examples=60, deadline=None)
@given(
    m=arrays(
        np.float64,
        st.tuples(st.integers(8, 40), st.integers(2, 6)),
        elements=st.floats(-0.125, 0.125, allow_nan=False, width=32),
    ),
    half=st.integers(1, 2),
)
def test_pbo_properties(m: np.ndarray, half: int) -> None:
    s = 2 * half
    try:
        result = probability_of_backtest_overfitting(m, s)
    except ValidationError as exc:
        assert "constant non-zero" in str(exc)
        return
    assert 0.0 <= result.pbo <= 1.0
    assert result.n_combinations == math.comb(s, half) == len(result.logits)
    assert np.all((result.is_best_oos_rank > 0) & (result.is_best_oos_rank < 1))
    assert np.all(np.isfinite(result.logits))
    assert 0.0 <= result.prob_oos_loss <= 1.0


@pytest.mark.parametrize(
    ("m", "s", "match"),
    [
        (np.zeros((10, 3)), 3, "must be even"),
        (np.zeros(10), 2, "T x N matrix"),
        (np.zeros((10, 1)), 2, "at least 2 trials"),
        (np.zeros((3, 3)), 4, "too few"),
        (np.array([[0.1, np.nan], [0.2, 0.1], [0.0, 0.3], [0.1, 0.1]]), 2, "row 0, trial 1"),
    ],
)
def test_bad_inputs_raise(m: np.ndarray, s: int, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        probability_of_backtest_overfitting(m, s)


def test_bad_metric_output_raises() -> None:
    m = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValidationError, match="3 finite values"):
        probability_of_backtest_overfitting(m, 2, metric=lambda x: x.mean())

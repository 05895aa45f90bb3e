"""PSR, DSR, expected maximum Sharpe and MinTRL: the paper's example and independent checks.

The independent computations use ``statistics.NormalDist`` (standard library), not scipy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core.metrics import sharpe_ratio
from core.validation import (
    ValidationError,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    psr_from_returns,
)

PHI = NormalDist()
EULER = 0.5772156649015329


def test_dsr_paper_numerical_example() -> None:
    # Bailey & López de Prado (2014), numerical example: N = 100 trials with annualised SR
    # variance 1/2, best annualised SR 2.5 over 5 years of daily data (T = 1250, 250 days a
    # year), skewness -3 and (non-excess) kurtosis 10. The paper reports SR0 ~ 0.1132 and
    # DSR ~ 0.9004 (per-day units).
    sr = 2.5 / math.sqrt(250)  # 0.158114
    var = 0.5 / 250  # per-day variance of the trials' SRs; sqrt = 0.044721
    # Hand-checked intermediates: Phi^-1(0.99) = 2.326348, Phi^-1(1 - 1/(100 e)) = 2.680210.
    assert PHI.inv_cdf(0.99) == pytest.approx(2.326348, abs=1e-6)
    assert PHI.inv_cdf(1 - 1 / (100 * math.e)) == pytest.approx(2.680210, abs=1e-6)
    assert math.sqrt(var) * ((1 - EULER) * 2.326348 + EULER * 2.680210) == pytest.approx(
        0.113172, abs=1e-6
    )
    sr0 = math.sqrt(var) * (
        (1 - EULER) * PHI.inv_cdf(0.99) + EULER * PHI.inv_cdf(1 - 1 / (100 * math.e))
    )
    assert expected_max_sharpe(100, var) == pytest.approx(sr0, abs=1e-12)
    assert expected_max_sharpe(100, var) == pytest.approx(0.1132, abs=5e-5)
    # z = (0.158114 - 0.113172) * sqrt(1249) / sqrt(1 + 3 * 0.158114 + 9/4 * 0.158114**2)
    #   = 0.044942 * 35.341194 / 1.237178 = 1.283808
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert z == pytest.approx(1.2838, abs=1e-4)
    dsr = deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, 100, var)
    assert dsr == pytest.approx(PHI.cdf(z), abs=1e-9)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_matches_independent_formula() -> None:
    for sr, bench, n, skew, kurt in [
        (0.1, 0.0, 250, 0.0, 3.0),
        (0.05, 0.02, 1000, -1.2, 8.0),
        (-0.03, 0.0, 60, 0.5, 4.0),
        (0.3, 0.1, 24, -0.4, 5.5),
    ]:
        z = (sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        assert probabilistic_sharpe_ratio(sr, bench, n, skew, kurt) == pytest.approx(
            PHI.cdf(z), abs=1e-12
        )


def test_psr_at_the_benchmark_is_one_half_and_normal_case() -> None:
    assert probabilistic_sharpe_ratio(0.2, 0.2, 100, -1.0, 6.0) == pytest.approx(0.5)
    # Normal returns: sigma(SR) = sqrt((1 + SR^2 / 2) / (n - 1)) (Lo 2002).
    sr, n = 0.1, 500
    expected = PHI.cdf(sr / math.sqrt((1 + sr**2 / 2) / (n - 1)))
    assert probabilistic_sharpe_ratio(sr, 0.0, n, 0.0, 3.0) == pytest.approx(expected, abs=1e-12)


def test_psr_from_returns_uses_the_sample_moments() -> None:
    rng = np.random.default_rng(11)
    returns = rng.standard_t(5, size=800) * 0.01 + 0.001
    returns[[5, 50]] = np.nan  # no observation: skipped
    x = returns[~np.isnan(returns)]
    sr = float(x.mean() / x.std(ddof=1))
    assert sr == pytest.approx(sharpe_ratio(returns, 1.0))
    m2 = np.mean((x - x.mean()) ** 2)
    skew = float(np.mean((x - x.mean()) ** 3) / m2**1.5)
    kurt = float(np.mean((x - x.mean()) ** 4) / m2**2)
    expected = probabilistic_sharpe_ratio(sr, 0.01, len(x), skew, kurt)
    assert psr_from_returns(returns, 0.01) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValidationError, match="non-zero variance"):
        psr_from_returns([0.01, 0.01, 0.01])


def test_min_track_record_length_is_where_psr_reaches_the_confidence() -> None:
    sr, bench, skew, kurt = 0.08, 0.02, -0.8, 6.0
    mintrl = min_track_record_length(sr, bench, skew, kurt, confidence=0.95)
    term = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    assert mintrl == pytest.approx(1 + term * (PHI.inv_cdf(0.95) / (sr - bench)) ** 2)
    z_at = (sr - bench) * math.sqrt(mintrl - 1) / math.sqrt(term)
    assert PHI.cdf(z_at) == pytest.approx(0.95, abs=1e-12)
    assert probabilistic_sharpe_ratio(sr, bench, math.ceil(mintrl), skew, kurt) >= 0.95
    assert probabilistic_sharpe_ratio(sr, bench, math.floor(mintrl), skew, kurt) < 0.95
    assert min_track_record_length(0.02, 0.05, 0.0, 3.0) == math.inf


def test_expected_max_sharpe_against_monte_carlo() -> None:
    # E[max of N standard normals]: the approximation is within ~1% for N >= 10.
    rng = np.random.default_rng(5)
    for n_trials in (10, 100, 1000):
        simulated = rng.standard_normal((4000, n_trials)).max(axis=1).mean()
        assert expected_max_sharpe(n_trials, 1.0) == pytest.approx(simulated, rel=0.02)
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert expected_max_sharpe(50, 4.0) == pytest.approx(2 * expected_max_sharpe(50, 1.0))


sr_values = st.floats(-0.5, 0.5, allow_nan=False)
skews = st.floats(-2.0, 2.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    sr=sr_values,
    n=st.integers(2, 5000),
    skew=skews,
    extra_kurt=st.floats(0.0, 20.0),
    n_trials=st.integers(1, 500),
    more=st.integers(1, 500),
    var=st.floats(1e-6, 0.1),
)
def test_dsr_properties(
    sr: float, n: int, skew: float, extra_kurt: float, n_trials: int, more: int, var: float
) -> None:
    kurt = 1 + skew**2 + extra_kurt + 0.1
    dsr = deflated_sharpe_ratio(sr, n, skew, kurt, n_trials, var)
    assert 0.0 <= dsr <= 1.0
    assert dsr <= probabilistic_sharpe_ratio(sr, 0.0, n, skew, kurt) + 1e-15, "DSR <= PSR(0)"
    assert deflated_sharpe_ratio(sr, n, skew, kurt, n_trials + more, var) <= dsr + 1e-15
    assert expected_max_sharpe(n_trials + more, var) > expected_max_sharpe(n_trials, var)


def test_dsr_strictly_falls_as_trials_grow() -> None:
    values = [deflated_sharpe_ratio(0.1, 500, -0.5, 5.0, n, 0.002) for n in (1, 2, 10, 100, 1000)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 0.0), "did you pass excess"),
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0), "n must be >= 2"),
        (lambda: probabilistic_sharpe_ratio(math.nan, 0.0, 10, 0.0, 3.0), "sr must be a finite"),
        (lambda: expected_max_sharpe(0, 1.0), "n_trials must be >= 1"),
        (lambda: expected_max_sharpe(10, -1.0), "var_trials_sr must be >= 0"),
        (lambda: min_track_record_length(0.1, 0.0, 0.0, 3.0, confidence=0.3), "confidence"),
    ],
)
def test_bad_inputs_raise(call, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        call()


def test_psr_is_consistent_with_scipy_kurtosis_conventions() -> None:
    x = np.random.default_rng(2).normal(size=2000)
    assert stats.kurtosis(x, fisher=False, bias=True) == pytest.approx(3.0, abs=0.3)

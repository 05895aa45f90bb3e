"""Golden values for returns, CAGR, volatility and drawdowns (arithmetic in the comments)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from core.data.timeframes import DAY_MS, YEAR_MS
from core.errors import BacktestError
from core.metrics import (
    annual_volatility,
    cagr,
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
    simple_returns,
    total_return,
)

EQUITY = [100.0, 110.0, 99.0, 120.0]
HALF_YEAR_MS = YEAR_MS // 2  # 182.5 days, exactly representable in ms


def test_simple_returns_golden() -> None:
    # 110/100 - 1 = 0.1; 99/110 - 1 = -0.1; 120/99 - 1 = 21/99 = 7/33
    np.testing.assert_allclose(simple_returns(EQUITY), [0.1, -0.1, 7 / 33], rtol=1e-12)


def test_simple_returns_short_and_nonpositive() -> None:
    assert simple_returns([]).shape == (0,)
    assert simple_returns([5.0]).shape == (0,)
    # 100 -> 0 is -100%; a return that starts from 0 is undefined (NaN)
    r = simple_returns([100.0, 0.0, 0.0])
    assert r[0] == -1.0 and math.isnan(r[1])


def test_total_return_golden() -> None:
    assert total_return(EQUITY) == pytest.approx(0.2)  # 120/100 - 1
    assert math.isnan(total_return([]))
    assert math.isnan(total_return([100.0]))


def test_cagr_golden() -> None:
    # 3 points = 2 bars of half a year = 1 year: 121/100 - 1 = 0.21
    assert cagr([100.0, 150.0, 121.0], HALF_YEAR_MS) == pytest.approx(0.21)
    # 731 daily points = 730 days = 2 years: sqrt(121/100) - 1 = 0.1
    assert cagr(np.linspace(100.0, 121.0, 731), DAY_MS) == pytest.approx(0.1)
    # final equity <= 0: the account is gone
    assert cagr([100.0, 50.0, 0.0], DAY_MS) == -1.0
    assert cagr([100.0, -5.0], DAY_MS) == -1.0
    assert math.isnan(cagr([100.0], DAY_MS))
    assert math.isnan(cagr([], DAY_MS))


def test_cagr_overflow_is_inf_not_error() -> None:
    # one minute of +10%: 1.1 ** 525600 overflows
    assert cagr([100.0, 110.0], 60_000) == math.inf


def test_cagr_rejects_bad_timeframe() -> None:
    with pytest.raises(BacktestError):
        cagr(EQUITY, 0)


def test_annual_volatility_golden() -> None:
    r = [0.01, -0.02, 0.03, 0.0]
    # mean 0.005; squared deviations 2.5e-5 + 6.25e-4 + 6.25e-4 + 2.5e-5 = 1.3e-3; /3
    expected = math.sqrt(1.3e-3 / 3) * math.sqrt(365)
    assert annual_volatility(r, 365) == pytest.approx(expected, rel=1e-12)
    assert annual_volatility(r, 365) == pytest.approx(statistics.stdev(r) * math.sqrt(365))


def test_annual_volatility_edge_cases() -> None:
    assert math.isnan(annual_volatility([], 365))
    assert math.isnan(annual_volatility([0.01], 365))
    assert annual_volatility([0.1, 0.1, 0.1], 365) == 0.0  # no rounding-noise volatility
    # NaN observations are skipped
    assert annual_volatility([0.01, np.nan, -0.02, 0.03, 0.0], 365) == pytest.approx(
        annual_volatility([0.01, -0.02, 0.03, 0.0], 365)
    )
    with pytest.raises(BacktestError):
        annual_volatility([0.01, np.inf], 365)
    with pytest.raises(BacktestError):
        annual_volatility([0.01, 0.02], 0)


def test_drawdown_golden() -> None:
    # running peak [100, 110, 110, 120] -> drawdowns [0, 0, 99/110 - 1 = -0.1, 0]
    np.testing.assert_allclose(drawdown_series(EQUITY), [0, 0, -0.1, 0], atol=1e-15)
    assert max_drawdown(EQUITY) == pytest.approx(-0.1)
    # one bar (the 99) below the 110 peak
    assert max_drawdown_duration(EQUITY) == 1


def test_drawdown_duration_counts_unrecovered_final_run() -> None:
    # peak 100 at bar 0; bars 1-2 below (run of 2); 100 again at bar 3 ends the run (not below);
    # peak 105 at bar 4; bars 5, 6, 7 below and never recovered -> 3
    equity = [100, 90, 95, 100, 105, 104, 103, 104.9]
    assert max_drawdown_duration(equity) == 3
    # deepest: 90/100 - 1 = -0.1 (vs 103/105 - 1 = -0.019)
    assert max_drawdown(equity) == pytest.approx(-0.1)


def test_drawdown_edge_cases() -> None:
    assert drawdown_series([]).shape == (0,)
    assert math.isnan(max_drawdown([]))
    assert max_drawdown_duration([]) == 0
    assert max_drawdown([100.0]) == 0.0
    assert max_drawdown([1.0, 2.0, 3.0]) == 0.0
    assert max_drawdown_duration([1.0, 2.0, 3.0]) == 0
    assert max_drawdown([5.0, 5.0, 5.0]) == 0.0
    assert max_drawdown([100.0, 0.0]) == -1.0
    with pytest.raises(BacktestError):
        max_drawdown([100.0, np.nan, 90.0])
    with pytest.raises(BacktestError):
        max_drawdown(np.ones((2, 2)))


def test_drawdown_independent_recomputation() -> None:
    rng = np.random.default_rng(7)
    equity = list(100 * np.cumprod(1 + rng.normal(0, 0.02, 300)))
    peak, worst, run, longest = -math.inf, 0.0, 0, 0
    for value in equity:
        peak = max(peak, value)
        worst = min(worst, value / peak - 1)
        run = run + 1 if value < peak else 0
        longest = max(longest, run)
    assert max_drawdown(equity) == pytest.approx(worst, rel=1e-12)
    assert max_drawdown_duration(equity) == longest

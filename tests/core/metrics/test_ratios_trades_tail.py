"""Golden values for Sharpe, Sortino, Calmar, trade statistics, turnover, exposure and CVaR."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from core.data.timeframes import YEAR_MS
from core.errors import BacktestError
from core.metrics import (
    average_trade,
    calmar_ratio,
    cvar,
    exposure,
    hit_rate,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    turnover,
    value_at_risk,
)

RETURNS = [0.01, -0.02, 0.03, 0.0]


def test_sharpe_golden() -> None:
    # mean = 0.02 / 4 = 0.005; sample var = (2.5e-5 + 6.25e-4 + 6.25e-4 + 2.5e-5) / 3 = 1.3e-3 / 3
    expected = 0.005 / math.sqrt(1.3e-3 / 3) * math.sqrt(365)  # ~ 4.5888
    assert sharpe_ratio(RETURNS, 365) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(4.5888, abs=1e-4)


def test_sharpe_matches_pure_python() -> None:
    rng = np.random.default_rng(3)
    r = [float(v) for v in rng.normal(0.001, 0.01, 500)]
    rf = 0.0001
    excess = [v - rf for v in r]
    expected = statistics.mean(excess) / statistics.stdev(excess) * math.sqrt(8760)
    assert sharpe_ratio(r, 8760, risk_free=rf) == pytest.approx(expected, rel=1e-10)


def test_sharpe_edge_cases() -> None:
    assert math.isnan(sharpe_ratio([], 365))
    assert math.isnan(sharpe_ratio([0.01], 365))
    assert math.isnan(sharpe_ratio([0.1, 0.1, 0.1], 365))  # zero variance
    assert sharpe_ratio([0.01, np.nan, -0.02, 0.03, 0.0], 365) == pytest.approx(
        sharpe_ratio(RETURNS, 365)
    )


def test_sortino_golden() -> None:
    # downside: min(r, 0) = [0, -0.02, 0, 0]; mean of squares over ALL 4 periods = 4e-4 / 4
    # = 1e-4 -> downside deviation 0.01; sortino = 0.005 / 0.01 * sqrt(365)
    assert sortino_ratio(RETURNS, 365) == pytest.approx(0.5 * math.sqrt(365), rel=1e-12)
    # target 0.01: excess [0, -0.03, 0.02, -0.01], mean -0.005;
    # downside sqrt((9e-4 + 1e-4) / 4) = sqrt(2.5e-4) = 0.0158113883
    expected = -0.005 / math.sqrt(2.5e-4) * math.sqrt(365)
    assert sortino_ratio(RETURNS, 365, target=0.01) == pytest.approx(expected, rel=1e-12)


def test_sortino_edge_cases() -> None:
    assert math.isnan(sortino_ratio([], 365))
    assert math.isnan(sortino_ratio([0.01, 0.02], 365))  # no downside -> nan, not inf
    assert math.isnan(sortino_ratio([0.0, 0.0], 365))


def test_calmar_golden() -> None:
    # 3 points, half-year bars = 1 year: CAGR = 121/100 - 1 = 0.21; max DD = 90/100 - 1 = -0.1
    assert calmar_ratio([100.0, 90.0, 121.0], YEAR_MS // 2) == pytest.approx(2.1)
    assert math.isnan(calmar_ratio([100.0, 110.0, 121.0], YEAR_MS // 2))  # no drawdown
    assert math.isnan(calmar_ratio([], YEAR_MS))


def test_trade_stats_golden() -> None:
    pnl = [10.0, -5.0, 0.0, 20.0, -15.0]
    assert hit_rate(pnl) == pytest.approx(2 / 5)  # the zero-PnL trade is not a win
    assert profit_factor(pnl) == pytest.approx(30 / 20)  # (10 + 20) / |-5 - 15|
    assert average_trade(pnl) == pytest.approx(10 / 5)  # (10 - 5 + 0 + 20 - 15) / 5


def test_trade_stats_edge_cases() -> None:
    assert math.isnan(hit_rate([]))
    assert math.isnan(profit_factor([]))
    assert math.isnan(average_trade([]))
    assert profit_factor([1.0, 2.0]) == math.inf  # winners, no losers
    assert profit_factor([1.0, 0.0]) == math.inf
    assert math.isnan(profit_factor([0.0, 0.0]))
    assert profit_factor([-1.0, -2.0]) == 0.0
    assert hit_rate([np.nan, 1.0, -1.0]) == 0.5  # NaN entries skipped


def test_turnover_and_exposure_golden() -> None:
    # (1000 + 1000 + 500) / 1000 mean equity / 0.5 years = 5 per year
    assert turnover([1000.0, -1000.0, 500.0], 1000.0, 0.5) == pytest.approx(5.0)
    assert turnover(2500.0, 1000.0, 0.5) == pytest.approx(5.0)
    assert math.isnan(turnover(2500.0, 0.0, 1.0))
    assert math.isnan(turnover(2500.0, 1000.0, 0.0))
    assert exposure(25, 100) == 0.25
    assert math.isnan(exposure(0, 0))
    with pytest.raises(BacktestError):
        exposure(101, 100)
    with pytest.raises(BacktestError):
        exposure(-1, 100)


def _hand_cvar(values: list[float], level: float) -> tuple[float, float]:
    ordered = sorted(values)
    k = 0
    while k < len(ordered) * (1 - level) - 1e-9:  # ceil((1 - level) * n), by counting
        k += 1
    k = max(k, 1)
    return ordered[k - 1], sum(ordered[:k]) / k


def test_cvar_golden() -> None:
    r = [0.02, -0.05, 0.01, -0.01, 0.03, -0.03, 0.0, 0.04, -0.02, 0.01]
    # level 0.75: (1 - 0.75) * 10 = 2.5 -> worst 3 = [-0.05, -0.03, -0.02], mean -0.1 / 3
    assert cvar(r, 0.75) == pytest.approx(-0.1 / 3)
    assert value_at_risk(r, 0.75) == pytest.approx(-0.02)
    # level 0.9: 0.1 * 10 = 1 (not 1.0000000000000002) -> worst 1 = -0.05
    assert cvar(r, 0.9) == pytest.approx(-0.05)
    assert value_at_risk(r, 0.9) == pytest.approx(-0.05)


def test_cvar_float_noise_does_not_add_an_observation() -> None:
    r = list(np.linspace(-0.1, 0.09, 20))
    # (1 - 0.95) * 20 = 1.0000000000000009 in floats; the tail must still hold one return
    assert cvar(r, 0.95) == pytest.approx(-0.1)


def test_cvar_matches_hand_sort() -> None:
    rng = np.random.default_rng(11)
    values = [float(v) for v in rng.standard_t(3, 257) * 0.01]
    for level in (0.9, 0.95, 0.975, 0.99):
        var_hand, cvar_hand = _hand_cvar(values, level)
        assert value_at_risk(values, level) == pytest.approx(var_hand, rel=1e-12)
        assert cvar(values, level) == pytest.approx(cvar_hand, rel=1e-12)


def test_cvar_edge_cases() -> None:
    assert math.isnan(cvar([], 0.95))
    assert math.isnan(value_at_risk([np.nan], 0.95))
    assert cvar([0.01], 0.95) == 0.01
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(BacktestError):
            cvar([0.01, 0.02], level)

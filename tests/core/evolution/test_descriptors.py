"""Behaviour descriptors of a backtest: turnover, holding period, correlation to buy-and-hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.backtest.layout import S_TRADED_NOTIONAL
from core.data import generate_synthetic
from core.data.timeframes import YEAR_MS
from core.evolution.descriptors import (
    annual_turnover,
    average_holding_bars,
    buy_and_hold_correlation,
    column_returns,
    describe,
    portfolio_returns,
)

N = 2_000


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_candles([generate_synthetic(symbol=f"S{j}/USDT", bars=N, seed=3 + j)
                                      for j in range(2)])


def backtest(market: MarketArrays, targets: np.ndarray, **config: object):
    values = np.asfortranarray(np.broadcast_to(targets.reshape(N, -1), (N, market.n_columns)))
    return run_backtest(market, Targets(values.copy(order="F")), BacktestConfig(**config))


def test_always_long_holds_for_the_whole_run_and_tracks_the_asset(market):
    result = backtest(market, np.ones(N))
    assert len(result.trades) == 2  # one per symbol, still open at the end
    assert average_holding_bars(result) == pytest.approx(N - 1)
    assert buy_and_hold_correlation(result) > 0.999
    years = N * market.timeframe_ms / YEAR_MS
    notional = result.stats[:, S_TRADED_NOTIONAL].sum()
    expected = notional / result.portfolio_equity().mean() / years
    assert annual_turnover(result) == pytest.approx(expected)
    assert 0.0 < annual_turnover(result) < 2.0 / years + 1e-9  # one buy of ~the whole equity


def test_always_short_is_anticorrelated(market):
    result = backtest(market, -np.ones(N), direction="long_short")
    # a constant short quantity: its weight drifts with the price, so not exactly -1
    assert buy_and_hold_correlation(result) < -0.9


def test_holding_period_follows_the_position_blocks(market):
    block = 10
    pattern = (np.arange(N) // block % 2 == 0).astype(float)  # 10 bars long, 10 flat
    result = backtest(market, pattern)
    assert average_holding_bars(result) == pytest.approx(block, rel=0.02)
    turnover_fast = annual_turnover(result)
    slow = backtest(market, (np.arange(N) // 100 % 2 == 0).astype(float))
    assert average_holding_bars(slow) == pytest.approx(100, rel=0.02)
    assert annual_turnover(slow) < turnover_fast / 5


def test_never_trading_has_no_holding_period_and_no_correlation(market):
    result = backtest(market, np.zeros(N))
    assert len(result.trades) == 0
    assert math.isnan(average_holding_bars(result))
    assert annual_turnover(result) == 0.0
    assert buy_and_hold_correlation(result) == 0.0
    turnover, holding, correlation = describe(result)
    assert turnover == 0.0 and math.isnan(holding) and correlation == 0.0


def test_returns_are_anchored_at_the_initial_cash_and_line_up_with_bars(market):
    result = backtest(market, np.ones(N))
    per_column = column_returns(result)
    assert per_column.shape == (N, 2)
    np.testing.assert_allclose(per_column[0], result.equity[0] / result.initial_cash - 1.0)
    np.testing.assert_allclose(per_column[1:], result.equity[1:] / result.equity[:-1] - 1.0)
    total = portfolio_returns(result)
    equity = result.portfolio_equity()
    assert total[0] == pytest.approx(equity[0] / (2 * result.initial_cash) - 1.0)
    np.testing.assert_allclose(total[1:], equity[1:] / equity[:-1] - 1.0)


def test_describe_gives_log1p_of_the_holding_period(market):
    result = backtest(market, (np.arange(N) // 50 % 2 == 0).astype(float))
    turnover, holding, correlation = describe(result)
    assert turnover == annual_turnover(result)
    assert holding == math.log1p(average_holding_bars(result))
    assert -1.0 <= correlation <= 1.0

"""score_genome: out-of-sample score after costs by walk-forward CV, measures, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from configs.alpha import MappingConfig
from configs.backtest import BacktestConfig
from configs.evolution import ObjectiveConfig
from core.backtest import MarketArrays
from core.data import generate_synthetic
from core.data.timeframes import periods_per_year
from core.dsl import parse
from core.dsl.alpha import backtest_alpha
from core.dsl.data import AlphaData
from core.dsl.nodes import Terminal
from core.evolution.descriptors import portfolio_returns
from core.evolution.genome import Evaluation
from core.evolution.objective import oos_dsr, score_genome
from core.metrics import sharpe_ratio

N = 3_000
MOMENTUM = "(sub close (ts_mean close 20))"
CFG = BacktestConfig()


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_candles([generate_synthetic(bars=N, seed=11)])


@pytest.fixture(scope="module")
def data(market) -> AlphaData:
    return AlphaData.from_market(market)


def score(text: str, data: AlphaData, market: MarketArrays, config: ObjectiveConfig | None = None,
          backtest: BacktestConfig = CFG, **kwargs: object) -> Evaluation:
    return score_genome(parse(text), data, market, config or ObjectiveConfig(), backtest,
                        **kwargs)


def test_scoring_is_deterministic_to_the_bit(data, market):
    first = score(MOMENTUM, data, market, genome_id=7)
    second = score(MOMENTUM, data, market, genome_id=7)
    assert first.ok and first.genome_id == 7
    assert repr(first) == repr(second)  # repr shows every float's shortest round-trip text


def test_one_fold_per_configured_fold_covering_the_bars_after_the_first_block(data, market):
    config = ObjectiveConfig(folds=4, embargo=10)
    evaluation = score(MOMENTUM, data, market, config)
    assert len(evaluation.folds) == 4
    starts = [f["start"] for f in evaluation.folds]
    stops = [f["stop"] for f in evaluation.folds]
    assert starts[0] == N // 5 and stops[-1] == N and starts[1:] == stops[:-1]
    assert sum(f["bars"] for f in evaluation.folds) == evaluation.metrics["oos_bars"]
    assert sum(f["trades"] for f in evaluation.folds) <= evaluation.metrics["trades"]


def test_objective_is_the_mean_oos_sharpe_of_the_costed_backtest(data, market):
    config = ObjectiveConfig(folds=5)
    evaluation = score(MOMENTUM, data, market, config)
    result = backtest_alpha(parse(MOMENTUM), market, config.mapping, CFG, data=data)
    returns = portfolio_returns(result)
    ppy = periods_per_year(market.timeframe_ms)
    by_hand = [sharpe_ratio(returns[int(f["start"]):int(f["stop"])], ppy)
               for f in evaluation.folds]
    assert evaluation.objective == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert evaluation.objective == evaluation.metrics["oos_sharpe"]
    assert evaluation.metrics["fees"] > 0.0  # costs were charged
    free = score(MOMENTUM, data, market, config,
                 BacktestConfig(costs={"maker_fee_bps": 0, "taker_fee_bps": 0,
                                       "half_spread_bps": 0}))
    assert free.objective > evaluation.objective


def test_buy_and_hold_like_alpha_tracks_the_asset_with_low_turnover(data, market):
    config = ObjectiveConfig(min_trades=1, mapping=MappingConfig(kind="sign"))
    held = score("(add close 1.0)", data, market, config)
    assert held.ok, held.error
    log_turnover, holding, correlation = held.measures
    assert correlation > 0.999
    assert holding == pytest.approx(math.log1p(N - 1))
    assert log_turnover == pytest.approx(math.log1p(held.metrics["turnover"]))
    assert held.metrics["turnover"] < 5.0  # one buy in ~0.34 years
    active = score(MOMENTUM, data, market, config)
    assert active.metrics["turnover"] > 50 * held.metrics["turnover"]
    assert active.measures[0] > log_turnover
    assert active.measures[1] < holding
    assert -1.0 <= active.measures[2] <= 1.0


def test_short_only_alpha_is_anticorrelated(data, market):
    config = ObjectiveConfig(min_trades=1)
    short = score("(sub 0.0 close)", data, market, config, BacktestConfig(direction="long_short"))
    assert short.ok and short.measures[2] < -0.9


def test_never_trading_alpha_is_a_failure(data, market):
    for min_trades in (0, 5):
        flat = score("(mul close 0.0)", data, market, ObjectiveConfig(min_trades=min_trades))
        assert not flat.ok and "0 trades" in flat.error
        assert math.isnan(flat.objective) and all(math.isnan(m) for m in flat.measures)


def test_too_few_trades_is_a_failure(data, market):
    held = score("(add close 1.0)", data, market, ObjectiveConfig(min_trades=2), genome_id=3)
    assert not held.ok and held.genome_id == 3 and "fewer than the minimum 2" in held.error


def test_errors_are_recorded_not_raised(data, market):
    spot = score("(ts_mean funding 10)", data, market)
    assert not spot.ok and "funding" in spot.error and spot.error.startswith("DSLError")
    unknown = score_genome(Terminal("nonsense"), data, market, ObjectiveConfig(), CFG)
    assert not unknown.ok and unknown.error.startswith("DSLTypeError")
    too_short = MarketArrays.from_candles([generate_synthetic(bars=30, seed=1)])
    tiny = score(MOMENTUM, AlphaData.from_market(too_short), too_short,
                 ObjectiveConfig(folds=20, embargo=100, min_trades=0))
    assert not tiny.ok and tiny.error


def test_no_finite_signal_is_a_failure(data, market):
    nan = score("(ts_mean close 200)", data.window(0, 150), market, ObjectiveConfig())
    assert not nan.ok and nan.error == "no finite signal"


def test_dsr_metric_is_a_probability_that_falls_with_the_number_of_trials(data, market):
    config = ObjectiveConfig(metric="dsr", min_trades=1)
    one = score("(add close 1.0)", data, market, config, n_trials=1)
    many = score("(add close 1.0)", data, market, config, n_trials=1_000)
    assert one.ok and many.ok
    assert 0.0 <= many.objective < one.objective <= 1.0
    assert one.objective == one.metrics["dsr"] and many.metrics["n_trials"] == 1000.0
    rng = np.random.default_rng(0)
    assert math.isnan(oos_dsr(np.zeros(100), 10))
    assert oos_dsr(rng.normal(0.01, 0.01, 500), 10) > 0.99


def test_several_symbols_average_the_correlation():
    market = MarketArrays.from_candles([generate_synthetic(symbol=f"S{j}/USDT", bars=N, seed=j)
                                        for j in range(2)])
    data = AlphaData.from_market(market)
    held = score("(add close 1.0)", data, market, ObjectiveConfig(min_trades=1))
    assert held.ok and held.measures[2] > 0.999
    assert held.metrics["trades"] == 2.0

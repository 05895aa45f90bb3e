"""An alpha end to end: expression -> signal -> positions -> backtest with costs."""

from __future__ import annotations

import numpy as np

from configs.alpha import MappingConfig
from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.data import generate_synthetic
from core.dsl import parse
from core.dsl.alpha import alpha_targets, backtest_alpha
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate


def test_backtest_alpha_equals_evaluate_map_and_run_by_hand():
    series = [generate_synthetic(symbol=f"S{j}/USDT", bars=800, seed=20 + j) for j in range(3)]
    market = MarketArrays.from_candles(series)
    data = AlphaData.from_market(market)
    expression = parse("(cs_rank (ts_zscore (delta close 12) 48))")
    mapping = MappingConfig(kind="cs_rank", max_weight=0.5, step=0.1)
    cfg = BacktestConfig(direction="long_short", min_notional=0.0)
    result = backtest_alpha(expression, market, mapping, cfg, data=data)

    (signal,) = evaluate([expression], data)
    targets = alpha_targets(expression, data, mapping).values
    assert np.isnan(targets[: 12 + 47]).all()  # warm-up: no instruction before the signal
    np.testing.assert_allclose(np.nansum(targets[100:], axis=1), 0.0, atol=1e-12)  # neutral
    by_hand = run_backtest(market, Targets(targets), cfg)
    np.testing.assert_array_equal(result.equity, by_hand.equity)
    assert len(result.orders) > 0 and (result.orders[:, 1 + 4] > 0).all()  # fees were paid
    assert not np.isnan(signal[12 + 47 :]).any()

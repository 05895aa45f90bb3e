"""Cross-check against a third-party engine: vectorbt's from_signals on the same workload.

vectorbt fills on the bar carrying the signal, so its signals are shifted one bar and it
trades at the open: that reproduces our next-open execution, fees and half-spread slippage.
"""

from __future__ import annotations

import numpy as np
import pytest
import vectorbt as vbt  # a dev dependency, installed by the test command

from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Signals, run_backtest


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equity_and_fills_match_vectorbt(seed):
    n, k = 3_000, 4
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.002, (n, k)))
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    entries = rng.random((n, k)) < 0.02
    exits = rng.random((n, k)) < 0.02
    market = MarketArrays.from_arrays(np.arange(n) * 60_000, open_, high, low, close,
                                      np.full((n, k), 1e6), timeframe_ms=60_000)
    cfg = BacktestConfig(costs={"taker_fee_bps": 10, "half_spread_bps": 5}, min_notional=0)
    ours = run_backtest(market, Signals(entries, exits), cfg)

    def shifted(signals):
        out = np.zeros_like(signals)
        out[1:] = signals[:-1]
        return out

    pf = vbt.Portfolio.from_signals(
        close, shifted(entries), shifted(exits), price=open_, fees=0.001, slippage=0.0005,
        init_cash=10_000.0, size=np.inf, accumulate=False, direction="longonly",
        engine="numba",
    )
    np.testing.assert_allclose(ours.equity, np.asarray(pf.value()), rtol=1e-9)
    records = pf.orders.records_arr
    assert len(records) == len(ours.orders)
    theirs = records[np.lexsort((records["idx"], records["col"]))]
    np.testing.assert_array_equal(ours.orders[:, 0], theirs["col"])
    np.testing.assert_array_equal(ours.orders[:, 1], theirs["idx"])
    np.testing.assert_allclose(ours.orders[:, 3], theirs["size"], rtol=1e-9)
    np.testing.assert_allclose(ours.orders[:, 4], theirs["price"], rtol=1e-12)
    np.testing.assert_allclose(ours.orders[:, 5], theirs["fees"], rtol=1e-9)

"""Property test: the numba engine agrees with the plain-Python reference to 1e-9."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays, Signals, Targets, realized_volatility, run_backtest
from core.backtest.layout import REASON_NAMES
from tests.core.backtest.reference import run_reference_signals, run_reference_targets

HOUR = 3_600_000
TOL = 1e-9


def make_market(seed: int, n: int, *, with_spread: bool, with_funding: bool) -> dict:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.02))
    gap = np.exp(rng.normal(0.0, 0.005, n))
    open_ = np.r_[100.0, close[:-1]] * gap
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, n)))
    volume = rng.lognormal(3.0, 1.0, n) * (rng.random(n) > 0.05)  # some zero-volume bars
    market = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    if with_spread:
        market["spread"] = close * rng.uniform(0.0, 0.002, n)
    if with_funding:
        market["funding"] = np.where(np.arange(n) % 8 == 0, rng.normal(0.0, 0.001, n), 0.0)
    return market


def to_market_arrays(market: dict) -> MarketArrays:
    n = len(market["close"])
    return MarketArrays.from_arrays(
        np.arange(n) * HOUR, market["open"], market["high"], market["low"], market["close"],
        market["volume"], timeframe_ms=HOUR, spread=market.get("spread"),
        funding=market.get("funding"),
    )


configs = st.builds(
    dict,
    initial_cash=st.sampled_from([1_000.0, 10_000.0]),
    direction=st.sampled_from(["long_only", "long_short"]),
    costs=st.builds(
        dict,
        maker_fee_bps=st.sampled_from([0.0, 2.0]),
        taker_fee_bps=st.sampled_from([0.0, 10.0]),
        half_spread_bps=st.sampled_from([0.0, 5.0]),
        impact_coef=st.sampled_from([0.0, 0.05]),
        impact_exponent=st.sampled_from([0.5, 1.0]),
        max_slippage_bps=st.sampled_from([50.0, 500.0]),
    ),
    sizing=st.one_of(
        st.builds(dict, method=st.just("fixed_fraction"),
                  fraction=st.sampled_from([0.3, 1.0])),
        st.builds(dict, method=st.just("fixed_notional"),
                  notional=st.sampled_from([200.0, 5_000.0])),
        st.builds(dict, method=st.just("vol_target"),
                  vol_target_annual=st.sampled_from([0.3, 2.0]),
                  vol_lookback_bars=st.sampled_from([5, 20]),
                  max_leverage=st.sampled_from([0.5, 1.0])),
    ),
    stops=st.builds(
        dict,
        stop_loss_pct=st.sampled_from([None, 1.0, 3.0]),
        take_profit_pct=st.sampled_from([None, 2.0, 5.0]),
        time_stop_bars=st.sampled_from([None, 3, 10]),
    ),
    min_notional=st.sampled_from([0.0, 50.0]),
    lot_size=st.sampled_from([0.0, 0.01, 0.5]),
)
risks = st.sampled_from([
    None,
    RiskLimits(max_position_pct=50.0, max_trade_pct=25.0, per_trade_risk_pct=1.0),
    RiskLimits(max_position_pct=10.0),
])


def assert_same(engine, ref, column: int = 0) -> None:
    np.testing.assert_allclose(engine.equity[:, column], ref.equity, rtol=TOL, atol=TOL)
    orders = engine.orders[engine.orders[:, 0] == column, 1:]
    assert len(orders) == len(ref.fills)
    for row, fill in zip(orders, ref.fills, strict=True):
        assert int(row[0]) == fill.bar
        assert int(row[1]) == fill.side
        assert REASON_NAMES[int(row[6])] == fill.reason
        assert bool(row[7]) == fill.maker
        got = row[[2, 3, 4, 5, 8, 9]]
        want = [fill.qty, fill.price, fill.fee, fill.slippage, fill.position, fill.cash]
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    trades = engine.column_trades(column)
    assert len(trades) == len(ref.trades)
    for row, trade in zip(trades, ref.trades, strict=True):
        assert (int(row[0]), int(row[1]), int(row[2])) == (
            trade["entry_bar"], trade["exit_bar"], trade["direction"])
        assert REASON_NAMES[int(row[13])] == trade["exit_reason"]
        assert bool(row[14]) == trade["is_open"]
        want = [trade[k] for k in ("qty", "entry_price", "exit_price", "pnl", "ret", "fees",
                                   "slippage", "funding", "mae", "mfe")]
        np.testing.assert_allclose(row[3:13], want, rtol=TOL, atol=TOL)
    stats = engine.stats[column]
    assert stats[0] == ref.bars_in_market
    assert stats[2] == ref.rejected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 120), config=configs, risk=risks,
       density=st.sampled_from([0.05, 0.3, 1.0]), spread=st.booleans(), funding=st.booleans())
def test_targets_match_reference(seed, n, config, risk, density, spread, funding):
    cfg = BacktestConfig(**config)
    market = make_market(seed, n, with_spread=spread, with_funding=funding)
    rng = np.random.default_rng(seed + 1)
    levels = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    targets = np.where(rng.random(n) < density, rng.choice(levels, n), np.nan)
    arrays = to_market_arrays(market)
    vol = None
    if cfg.sizing.method == "vol_target":
        vol = realized_volatility(arrays.close[:, 0], cfg.sizing.vol_lookback_bars, 24 * 365.0)
    result = run_backtest(arrays, Targets(targets), cfg, risk)
    ref = run_reference_targets(market, list(targets), cfg, risk,
                                None if vol is None else list(vol))
    assert_same(result, ref)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 120), config=configs, risk=risks,
       p=st.sampled_from([0.05, 0.2, 0.5]), shorts=st.booleans(), funding=st.booleans())
def test_signals_match_reference(seed, n, config, risk, p, shorts, funding):
    config = {**config, "sizing": {"method": "fixed_fraction", "fraction": 1.0}}
    cfg = BacktestConfig(**config)
    market = make_market(seed, n, with_spread=False, with_funding=funding)
    rng = np.random.default_rng(seed + 2)
    entries, exits = rng.random(n) < p, rng.random(n) < p
    short_entries = rng.random(n) < p if shorts else None
    short_exits = rng.random(n) < p if shorts else None
    result = run_backtest(to_market_arrays(market),
                          Signals(entries, exits, short_entries, short_exits), cfg, risk)
    ref = run_reference_signals(
        market, list(entries), list(exits), cfg, risk,
        None if short_entries is None else list(short_entries),
        None if short_exits is None else list(short_exits),
    )
    assert_same(result, ref)


def test_many_columns_and_threads_agree_with_reference():
    n, k = 300, 6
    markets = [make_market(100 + j, n, with_spread=False, with_funding=j % 2 == 0)
               for j in range(k)]
    arrays = MarketArrays.from_arrays(
        np.arange(n) * HOUR,
        *[np.column_stack([m[name] for m in markets])
          for name in ("open", "high", "low", "close", "volume")],
        timeframe_ms=HOUR,
        funding=np.column_stack([m.get("funding", np.zeros(n)) for m in markets]),
    )
    rng = np.random.default_rng(5)
    targets = np.where(rng.random((n, k)) < 0.1, rng.choice([-1.0, 0.0, 1.0], (n, k)), np.nan)
    cfg = BacktestConfig(direction="long_short", stops={"stop_loss_pct": 2.0})
    single = run_backtest(arrays, Targets(targets), cfg)
    threaded = run_backtest(arrays, Targets(targets), cfg, n_threads=3)
    np.testing.assert_array_equal(single.equity, threaded.equity)
    np.testing.assert_array_equal(single.orders, threaded.orders)
    np.testing.assert_array_equal(single.trades, threaded.trades)
    for j, m in enumerate(markets):
        m = {**m, "funding": m.get("funding", np.zeros(n))}
        assert_same(single, run_reference_targets(m, list(targets[:, j]), cfg), column=j)
    assert math.isfinite(single.equity.sum())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(20, 150))
def test_liquidations_match_reference(seed, n):
    """Shorts sized at 3x equity on a volatile market: ruin and liquidation happen often."""
    rng = np.random.default_rng(seed)
    market = make_market(seed, n, with_spread=False, with_funding=True)
    for key in ("open", "high", "low", "close"):
        market[key] = market[key] ** 3 / 1e4  # cube the path: ~3x the volatility
    cfg = BacktestConfig(direction="long_short", min_notional=0.0,
                         sizing={"method": "fixed_notional", "notional": 30_000.0})
    targets = np.where(rng.random(n) < 0.2, rng.choice([-1.0, 0.0, 1.0], n), np.nan)
    result = run_backtest(to_market_arrays(market), Targets(targets), cfg)
    assert_same(result, run_reference_targets(market, list(targets), cfg))

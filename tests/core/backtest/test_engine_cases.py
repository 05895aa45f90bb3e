"""Hand-computed backtests: each expected number is worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays, Signals, Targets, realized_volatility, run_backtest
from core.errors import BacktestError

HOUR = 3_600_000
NO_COSTS = {"maker_fee_bps": 0.0, "taker_fee_bps": 0.0, "half_spread_bps": 0.0}


def market(open_, high=None, low=None, close=None, volume=None, funding=None):
    open_ = np.asarray(open_, dtype=float)
    close = open_ if close is None else np.asarray(close, dtype=float)
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=float)
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=float)
    volume = np.full(len(open_), 1e9) if volume is None else np.asarray(volume, dtype=float)
    return MarketArrays.from_arrays(np.arange(len(open_)) * HOUR, open_, high, low, close,
                                    volume, timeframe_ms=HOUR, funding=funding)


def targets(n, **changes):
    values = np.full(n, np.nan)
    for bar, value in changes.items():
        values[int(bar.lstrip("b"))] = value
    return Targets(values)


def config(**overrides):
    base = {"costs": NO_COSTS, "min_notional": 0.0}
    base.update(overrides)
    return BacktestConfig(**base)


def test_signal_fills_at_next_open_with_fees_and_slippage():
    # Target +1 at the close of bar 2 -> market buy at the open of bar 3 (110), never bar 2.
    # Buy price = 110 * (1 + 5 bps) = 110.055. Full equity (10,000) does not cover the
    # 10 bps fee, so the quantity shrinks to what cash affords: 10,000 / (110.055 * 1.001).
    m = market([100, 100, 105, 110, 120])
    cfg = BacktestConfig(costs={"taker_fee_bps": 10, "half_spread_bps": 5}, min_notional=0)
    result = run_backtest(m, targets(5, b2=1.0), cfg)
    orders = result.orders_frame()
    assert list(orders["bar"]) == [3]
    price = 110 * 1.0005
    qty = 10_000 / (price * 1.001)
    assert orders["price"][0] == pytest.approx(price, rel=1e-12)
    assert orders["qty"][0] == pytest.approx(qty, rel=1e-12)
    assert orders["fee"][0] == pytest.approx(qty * price * 0.001, rel=1e-12)
    assert orders["slippage"][0] == pytest.approx(qty * 110 * 0.0005, rel=1e-9)
    assert orders["cash"][0] == pytest.approx(0.0, abs=1e-9)
    # Equity: flat until bar 3's close (110 * qty), then marked at 120.
    np.testing.assert_allclose(result.equity[:, 0], [10_000, 10_000, 10_000, qty * 110,
                                                    qty * 120], rtol=1e-12)


def test_round_trip_pnl_and_trade_record():
    # Half the equity at 100 -> 50 units; exit at the open of bar 4 at 120: PnL 50 * 20.
    m = market([100, 100, 110, 115, 120, 125], high=[100, 101, 112, 118, 121, 126],
               low=[99, 99, 96, 111, 119, 124])
    cfg = config(sizing={"fraction": 0.5})
    result = run_backtest(m, targets(6, b0=1.0, b3=0.0), cfg)
    trade = result.trades_frame().iloc[0]
    assert (trade.entry_bar, trade.exit_bar, trade.direction) == (1, 4, 1)
    assert trade.qty == pytest.approx(50.0)
    assert trade.pnl == pytest.approx(1_000.0)
    assert trade["return"] == pytest.approx(0.2)
    # While open (bars 1-3 and the exit open of bar 4): lowest low 96, highest high 118.
    assert trade.mae == pytest.approx(96 / 100 - 1)
    assert trade.mfe == pytest.approx(120 / 100 - 1)
    assert result.equity[-1, 0] == pytest.approx(11_000.0)
    assert result.stats_frame().iloc[0].bars_in_market == 3


def test_stop_loss_before_take_profit_for_a_long():
    # Entry at 100, stop 5% (95), take-profit 5% (105). Bar 2 spans 94..106: both levels
    # are inside, the conservative order assumes the low came first -> stopped at 95.
    m = market([100, 100, 100, 100], high=[100, 100, 106, 100], low=[100, 100, 94, 100])
    cfg = config(stops={"stop_loss_pct": 5.0, "take_profit_pct": 5.0})
    result = run_backtest(m, targets(4, b0=1.0), cfg)
    trade = result.trades_frame().iloc[0]
    assert trade.exit_reason == "stop_loss"
    assert trade.exit_price == pytest.approx(95.0)
    assert trade.pnl == pytest.approx(100 * -5.0)
    assert trade.mfe == pytest.approx(0.0)  # the high came after the exit
    assert trade.mae == pytest.approx(-0.05)


def test_stop_loss_before_take_profit_for_a_short():
    # Short at 100: the stop is at 105 and the high is assumed to come first.
    m = market([100, 100, 100, 100], high=[100, 100, 106, 100], low=[100, 100, 94, 100])
    cfg = config(direction="long_short", stops={"stop_loss_pct": 5.0, "take_profit_pct": 5.0})
    result = run_backtest(m, targets(4, b0=-1.0), cfg)
    trade = result.trades_frame().iloc[0]
    assert (trade.direction, trade.exit_reason) == (-1, "stop_loss")
    assert trade.exit_price == pytest.approx(105.0)
    assert trade.pnl == pytest.approx(100 * -5.0)


def test_gap_through_stop_fills_at_the_open():
    # Stop at 95; bar 2 opens at 90, below the stop: the stop-market fills at 90.
    m = market([100, 100, 90, 92], high=[100, 100, 93, 93], low=[100, 100, 89, 91])
    cfg = config(stops={"stop_loss_pct": 5.0})
    trade = run_backtest(m, targets(4, b0=1.0), cfg).trades_frame().iloc[0]
    assert trade.exit_price == pytest.approx(90.0)
    assert trade.exit_bar == 2


def test_take_profit_is_a_limit_with_the_maker_fee():
    # TP 10% above 100 = 110, reached intrabar: fill exactly at 110, maker fee 2 bps, no
    # slippage; the entry paid the taker fee 10 bps. Fraction 0.5 keeps cash for fees.
    m = market([100, 100, 105, 105], high=[100, 100, 111, 105], low=[100, 100, 104, 105])
    cfg = config(costs={"maker_fee_bps": 2, "taker_fee_bps": 10, "half_spread_bps": 0},
                 sizing={"fraction": 0.5}, stops={"take_profit_pct": 10.0})
    result = run_backtest(m, targets(4, b0=1.0), cfg)
    exit_fill = result.orders_frame().iloc[1]
    assert exit_fill.reason == "take_profit" and exit_fill.maker
    assert exit_fill.price == pytest.approx(110.0)
    assert exit_fill.fee == pytest.approx(50 * 110 * 0.0002)
    assert exit_fill.slippage == 0.0
    trade = result.trades_frame().iloc[0]
    assert trade.fees == pytest.approx(50 * 100 * 0.001 + 50 * 110 * 0.0002)
    assert trade.pnl == pytest.approx(50 * 10 - trade.fees)


def test_time_stop_closes_after_n_bars():
    # Filled at the open of bar 1; held through bars 1, 2, 3 -> exit at the open of bar 4.
    m = market([100, 101, 102, 103, 104, 105])
    cfg = config(stops={"time_stop_bars": 3})
    trade = run_backtest(m, targets(6, b0=1.0), cfg).trades_frame().iloc[0]
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 4, "time_stop")


def test_min_notional_rejects_and_lot_size_rounds_down():
    m = market([100, 100, 100])
    tiny = config(min_notional=10.0, sizing={"method": "fixed_notional", "notional": 5.0})
    result = run_backtest(m, targets(3, b0=1.0), tiny)
    assert len(result.orders) == 0
    assert result.stats_frame().iloc[0].rejected_orders == 1
    # 1,234 USDT at 100 = 12.34 units, lot 0.5 -> 12.0 units.
    lots = config(lot_size=0.5, sizing={"method": "fixed_notional", "notional": 1_234.0})
    assert run_backtest(m, targets(3, b0=1.0), lots).orders_frame().qty[0] == 12.0


def test_funding_is_paid_by_longs_and_received_by_shorts():
    # 10 units (1,000 USDT at 100) held over a funding bar (rate 0.0001 at the open, 100):
    # a long pays 10 * 100 * 0.0001 = 0.1; a short receives it.
    funding = np.array([0.0, 0.0, 0.0001, 0.0])
    m = market([100, 100, 100, 100], funding=funding)
    cfg = config(direction="long_short",
                 sizing={"method": "fixed_notional", "notional": 1_000.0})
    long_result = run_backtest(m, targets(4, b0=1.0), cfg)
    short_result = run_backtest(m, targets(4, b0=-1.0), cfg)
    assert long_result.trades_frame().funding[0] == pytest.approx(0.1)
    assert long_result.equity[-1, 0] == pytest.approx(10_000 - 0.1)
    assert short_result.trades_frame().funding[0] == pytest.approx(-0.1)
    assert short_result.equity[-1, 0] == pytest.approx(10_000 + 0.1)


def test_risk_limits_cap_position_and_per_trade_risk():
    m = market([100, 100, 100])
    # Max position 10% of 10,000 -> 1,000 USDT -> 10 units.
    capped = run_backtest(m, targets(3, b0=1.0), config(), RiskLimits(max_position_pct=10.0))
    assert capped.orders_frame().qty[0] == pytest.approx(10.0)
    # Per-trade risk 0.5% with a 2% stop: 0.005 * 10,000 / 0.02 = 2,500 USDT < 25% cap.
    risk = RiskLimits(max_position_pct=25.0, per_trade_risk_pct=0.5)
    stopped = run_backtest(m, targets(3, b0=1.0), config(stops={"stop_loss_pct": 2.0}), risk)
    assert stopped.orders_frame().qty[0] == pytest.approx(25.0)


def test_vol_target_sizing_uses_the_decision_bar_volatility():
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
    m = market(np.r_[100, closes[:-1]], close=closes)
    cfg = config(sizing={"method": "vol_target", "vol_target_annual": 0.2,
                         "vol_lookback_bars": 10, "max_leverage": 1.0})
    result = run_backtest(m, targets(40, b25=1.0), cfg)
    vol = realized_volatility(closes, 10, 24 * 365.0)[25]
    notional = 10_000 * min(0.2 / vol, 1.0)
    assert result.orders_frame().qty[0] == pytest.approx(notional / m.open[26, 0], rel=1e-12)
    # During the warm-up the volatility is unknown: the order is refused, not guessed.
    early = run_backtest(m, targets(40, b3=1.0), cfg)
    assert len(early.orders) == 0 and early.stats_frame().iloc[0].rejected_orders == 1


def test_impact_grows_with_order_size_relative_to_volume():
    # 2,500 USDT at 100 = 25 units against 10,000 units traded on the decision bar:
    # impact = 0.1 * (25 / 10,000) ** 0.5 = 0.005, plus half-spread 5 bps = 0.0055.
    m = market([100, 100, 100], volume=[10_000, 10_000, 10_000])
    cfg = config(costs={**NO_COSTS, "half_spread_bps": 5.0, "impact_coef": 0.1},
                 sizing={"method": "fixed_notional", "notional": 2_500.0})
    assert run_backtest(m, targets(3, b0=1.0), cfg).orders_frame().price[0] == \
        pytest.approx(100 * 1.0055)


def test_reversal_is_one_order_and_two_trades():
    # Long 50 units at 100. Target -1 at the close of bar 1 (equity 10,000 at 100) asks for
    # a 5,000 USDT short; one sell at the open of bar 2 (120) of 50 + 5,000/120 units closes
    # the long (+1,000) and opens the short, marked at 110 at the end (+10 per unit).
    m = market([100, 100, 120, 120, 110])
    cfg = config(direction="long_short", sizing={"fraction": 0.5})
    result = run_backtest(m, targets(5, b0=1.0, b1=-1.0), cfg)
    orders = result.orders_frame()
    assert list(orders.side) == [1, -1]
    assert orders.qty[1] == pytest.approx(50 + 5_000 / 120)
    trades = result.trades_frame()
    assert list(trades.direction) == [1, -1]
    assert trades.pnl[0] == pytest.approx(1_000.0)
    assert bool(trades.is_open[1]) and trades.exit_reason[1] == "end_of_data"
    assert trades.pnl[1] == pytest.approx(5_000 / 120 * 10)


def test_long_only_treats_negative_targets_as_flat():
    m = market([100, 100, 110, 120])
    result = run_backtest(m, targets(4, b0=1.0, b1=-1.0), config())
    assert list(result.orders_frame().side) == [1, -1]
    assert result.orders_frame().position.iloc[-1] == 0.0


def test_signals_ignore_repeated_entries_and_exits_while_flat():
    m = market([100, 101, 102, 103, 104, 105])
    entries = np.array([1, 1, 0, 0, 1, 0], bool)
    exits = np.array([0, 0, 1, 1, 0, 0], bool)
    result = run_backtest(m, Signals(entries, exits), config())
    assert list(result.orders_frame().bar) == [1, 3, 5]


def test_one_price_column_is_shared_by_many_instruction_columns():
    m = market([100, 102, 101, 105, 107, 103])
    grid = np.full((6, 3), np.nan)
    grid[0, :] = 1.0
    grid[[1, 2, 3], [0, 1, 2]] = 0.0
    shared = run_backtest(m, Targets(grid), config())
    assert shared.columns == ("col0#0", "col0#1", "col0#2")
    for j in range(3):
        alone = run_backtest(m, Targets(grid[:, j]), config())
        np.testing.assert_array_equal(shared.equity[:, j], alone.equity[:, 0])


def test_bad_inputs_are_rejected_with_clear_errors():
    m = market([100, 101, 102])
    with pytest.raises(BacktestError, match="instructions have 4 bars"):
        run_backtest(m, Targets(np.zeros(4)), config())
    with pytest.raises(BacktestError, match="invalid value nan at row 1"):
        market([100, np.nan, 102])
    with pytest.raises(BacktestError, match="outside"):
        market([100, 101, 102], high=[100, 100, 102])
    with pytest.raises(BacktestError, match="strictly"):
        MarketArrays.from_arrays([0, 0], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1],
                                 timeframe_ms=HOUR)
    with pytest.raises(BacktestError, match="n_threads"):
        run_backtest(m, Targets(np.zeros(3)), config(), n_threads=0)


def test_sharpe_from_fills_equals_the_metric_on_the_equity_curve():
    from core.metrics import sharpe_ratio, simple_returns

    rng = np.random.default_rng(9)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    funding = np.where(np.arange(500) % 8 == 0, 0.0001, 0.0)
    m = market(np.r_[100, closes[:-1]], close=closes, funding=funding)
    values = np.where(rng.random(500) < 0.05, rng.choice([-1.0, 0.0, 1.0], 500), np.nan)
    result = run_backtest(m, Targets(values), config(direction="long_short"))
    expected = sharpe_ratio(simple_returns(result.equity[:, 0]), 24 * 365)
    assert result.sharpe(0) == pytest.approx(expected, rel=1e-10)
    flat = run_backtest(m, Targets(np.full(500, np.nan)), config())
    assert np.isnan(flat.sharpe(0))


def test_targets_out_of_range_are_refused():
    for bad in (np.inf, -np.inf, 101.0):
        with pytest.raises(BacktestError, match="targets"):
            Targets(np.array([np.nan, bad]))
    Targets(np.array([np.nan, -100.0, 100.0]))


def test_a_ruined_short_is_liquidated_at_the_next_open():
    # Short 100 units at 100 with 10,000 cash: at a close of 210 the equity is
    # 20,000 - 21,000 < 0, so the position is closed at the next open (250) and nothing
    # opens again, whatever the targets say.
    m = market([100, 100, 150, 210, 250, 260, 200, 150])
    cfg = config(direction="long_short")
    result = run_backtest(m, targets(8, b0=-1.0, b5=1.0), cfg)
    orders = result.orders_frame()
    assert list(orders.reason) == ["signal", "liquidation"]
    assert list(orders.bar) == [1, 4] and orders.price[1] == pytest.approx(250.0)
    assert orders.position.iloc[-1] == 0.0
    assert result.equity[-1, 0] == pytest.approx(10_000 + 100 * (100 - 250))
    assert result.stats_frame().iloc[0].rejected_orders == 1  # the later +1 cannot be sized
    assert result.trades_frame().exit_reason[0] == "liquidation"
    # Returns from the non-positive equity after the ruin are undefined, in both Sharpes.
    from core.metrics import sharpe_ratio, simple_returns

    expected = sharpe_ratio(simple_returns(result.equity[:, 0]), 24 * 365)
    assert result.sharpe(0) == pytest.approx(expected, rel=1e-10)

"""Switching the limits in force (a regime's risk template): the engine and the planner."""

from __future__ import annotations

import pickle

import numpy as np

from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.trading.messages import TradingState
from core.trading.planner import OrderPlanner
from core.trading.risk import RiskEngine
from tests.core.trading.sim_helpers import BTC, ETH, HOUR
from tests.core.trading.test_planner import book_with, signal
from tests.core.trading.test_risk import EQUITY, PRICES, T0, book, order, position

SESSION = RiskLimits(max_position_pct=10.0, max_trade_pct=5.0, max_gross_exposure_pct=20.0,
                     max_open_positions=3)
TIGHT = SESSION.model_copy(update={"max_position_pct": 5.0, "max_drawdown_halt_pct": 5.0})
GUARDIAN = GuardianConfig(price_band_pct=2.0, min_notional=10.0, notional_cap=800.0,
                          drawdown_stages=())


def test_a_tighter_max_position_denies_what_the_session_limits_approved():
    request, held = order(quantity=4.0), book(position("A", 4.0))  # 400 + 400 = 8 % of 10k
    gate = RiskEngine(SESSION, GUARDIAN, EQUITY)
    assert gate.check(request, held, PRICES).approved
    assert gate.limits == SESSION

    assert gate.switch_limits(TIGHT)
    assert gate.limits == TIGHT
    denied = gate.check(request, held, PRICES)
    assert (denied.approved, denied.reason) == (False, "max_position")
    assert "500" in denied.detail  # 5 % of the equity
    assert gate.denial_counts == {"max_position": 1} and gate.approved_count == 1

    assert not gate.switch_limits(TIGHT.model_copy())  # equal limits: no change
    assert gate.switch_limits(SESSION)
    assert gate.check(request, held, PRICES).approved


def test_the_breakers_keep_their_state_and_take_the_new_thresholds():
    gate = RiskEngine(SESSION, GUARDIAN, EQUITY)
    ts = T0 + np.arange(3, dtype=np.int64) * HOUR
    consumed, events = gate.observe(ts, np.array([EQUITY, 10_500.0, 9_900.0]))
    assert (consumed, events, gate.state) == (3, [], TradingState.ACTIVE)  # no halt limit
    gate.switch_limits(TIGHT)
    # the peak (10 500) carries over: 9 900 is 5.7 % below it, past the tighter 5 % halt
    consumed, events = gate.observe(ts[-1:] + HOUR, np.array([9_900.0]))
    assert consumed == 1 and gate.state is TradingState.HALTED
    assert [e.reason for e in events] == ["drawdown_halt", "drawdown_halt"]


def test_the_state_carries_the_limits_in_force():
    request, held = order(quantity=4.0), book(position("A", 4.0))
    gate = RiskEngine(SESSION, GUARDIAN, EQUITY)
    gate.switch_limits(TIGHT)
    gate.check(request, held, PRICES)
    state = pickle.loads(pickle.dumps(gate.to_state()))
    assert state.limits == TIGHT
    again = RiskEngine.from_state(state)
    assert again.to_state() == gate.to_state()
    assert again.limits == TIGHT and again.denial_counts == {"max_position": 1}
    assert again.check(request, held, PRICES).reason == "max_position"
    ts = T0 + np.arange(3, dtype=np.int64) * HOUR
    equity = np.array([EQUITY, 10_500.0, 9_900.0])
    assert again.observe(ts, equity)[0] == 3 and again.state is TradingState.HALTED


def test_the_planner_sizes_with_the_limits_it_is_given():
    config = BacktestConfig(sizing={"fraction": 1.0})
    planner = OrderPlanner(config, [BTC, ETH], HOUR, SESSION)
    assert planner.risk == SESSION
    first = planner.plan(signal(1.0), book_with(), 10 * HOUR)
    assert first.target_notional == 1_000.0  # 10 % of 10k
    planner.use_limits(TIGHT)
    assert planner.risk == TIGHT
    tighter = planner.plan(signal(1.0, symbol=ETH), book_with(), 10 * HOUR)
    assert tighter.target_notional == 500.0 and tighter.quantity == 10.0  # 5 %, at 50
    planner.use_limits(None)
    assert planner.plan(signal(1.0, tag="x"), book_with(), 10 * HOUR).target_notional == 10_000.0

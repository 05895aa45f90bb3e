"""RiskEngine: each pre-trade invariant, the trading states and each breaker at golden bars."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from configs.guardian import GuardianConfig
from configs.risk import RiskConfig, RiskLimits
from core.errors import DataValidationError
from core.trading.messages import (
    OrderRequest,
    PortfolioSnapshot,
    PositionSnapshot,
    RiskEvent,
    Side,
    TradingState,
)
from core.trading.risk import DENIAL_REASONS, RiskEngine, denial_event

T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
EQUITY = 10_000.0

LIMITS = RiskLimits(max_position_pct=10.0, max_trade_pct=5.0, max_gross_exposure_pct=20.0,
                    max_open_positions=3)
GUARDIAN = GuardianConfig(price_band_pct=2.0, min_notional=10.0, notional_cap=800.0,
                          max_consecutive_rejects=3, drawdown_stages=())
PRICES = {"A": 100.0, "B": 100.0, "C": 100.0, "D": 100.0}


def position(symbol: str, quantity: float, price: float = 100.0, tag: str = "core"
             ) -> PositionSnapshot:
    return PositionSnapshot(symbol, tag, quantity, price, price, 0.0, 0.0, 0.0, 0.0, T0)


def book(*positions: PositionSnapshot, equity: float = EQUITY) -> PortfolioSnapshot:
    gross = sum(abs(p.quantity * p.last_price) for p in positions)
    return PortfolioSnapshot(T0, equity - sum(p.quantity * p.last_price for p in positions),
                             equity, gross, tuple(positions))


def order(symbol: str = "A", side: Side = Side.BUY, quantity: float = 1.0,
          price: float = 100.0, reduce_only: bool = False, ts: int = T0) -> OrderRequest:
    return OrderRequest(f"id-{symbol}-{side}-{quantity}", "s", symbol, "core", ts, side,
                        quantity, price, 1.0, quantity * price, reduce_only)


def engine(limits: RiskLimits = LIMITS, guardian: GuardianConfig = GUARDIAN) -> RiskEngine:
    return RiskEngine(limits, guardian, EQUITY)


# Each invariant breached on purpose: (order, book, last prices, expected reason).
BREACHES = {
    "invalid_order": (order(quantity=0.0), book(), PRICES),
    "reduce_only_violation": (order(quantity=2.0, reduce_only=True), book(position("A", 1.0)),
                              PRICES),
    "no_last_price": (order("Z"), book(), PRICES),
    "price_band": (order(price=102.5), book(), PRICES),
    "min_notional": (order(quantity=0.05), book(), PRICES),
    "max_trade_size": (order(quantity=6.0), book(), PRICES),
    "max_position": (order(quantity=4.0), book(position("A", 8.0)), PRICES),
    "max_open_positions": (order("D"), book(position("A", 1.0), position("B", 1.0),
                                            position("C", 1.0)), PRICES),
    "max_gross_exposure": (order("C", quantity=3.0),
                           book(position("A", 9.0), position("B", -9.0)), PRICES),
    "no_equity": (order(), book(equity=0.0), PRICES),
}


@pytest.mark.parametrize("reason", sorted(BREACHES))
def test_each_invariant_breach_is_denied_with_its_reason(reason):
    request, portfolio, prices = BREACHES[reason]
    gate = engine()
    decision = gate.check(request, portfolio, prices)
    assert not decision.approved
    assert decision.reason == reason
    assert decision.detail  # the numbers behind it
    assert decision.client_order_id == request.client_order_id and decision.ts == request.ts
    assert gate.denial_counts == {reason: 1}
    event = denial_event(request, decision)
    assert (event.kind, event.reason, event.symbol) == ("denied", reason, request.symbol)


def test_notional_cap_is_absolute_whatever_the_equity():
    gate = engine(guardian=GUARDIAN.model_copy(update={"notional_cap": 400.0}))
    decision = gate.check(order(quantity=4.5), book(), PRICES)  # 450 < 5 % of 10k
    assert decision.reason == "notional_cap"
    assert "450.00 > cap 400" in decision.detail


def test_detail_carries_the_numbers():
    decision = engine().check(order(quantity=6.0), book(), PRICES)
    assert decision.detail == "notional 600.00 > 5% of equity 10000.00 = 500.00"
    decision = engine().check(order(price=102.5), book(), PRICES)
    assert "2.50% from last 100 > band 2%" in decision.detail


def test_orders_exactly_at_the_limits_pass_and_limits_use_post_trade_values():
    gate = engine()
    assert gate.check(order(quantity=5.0), book(), PRICES).approved  # 500 = 5 %
    assert gate.check(order(quantity=5.0), book(position("A", 5.0)), PRICES).approved  # 1000
    # a short position: buying reduces it, the post-trade net is what counts
    assert gate.check(order(quantity=4.0), book(position("A", -8.0)), PRICES).approved
    # long 9 in two tags nets to 9: +2 -> 1100 > 1000
    tags = book(position("A", 5.0), position("A", 4.0, tag="swing"))
    assert gate.check(order(quantity=2.0), tags, PRICES).reason == "max_position"
    assert gate.approved_count == 3


def test_reductions_are_never_trapped_by_size_or_exposure_limits():
    gate = engine()
    oversized = book(position("A", 30.0), position("B", 30.0), position("C", 1.0))
    decision = gate.check(order(side=Side.SELL, quantity=25.0, reduce_only=True), oversized,
                          PRICES)
    assert decision.approved
    # but a flip through zero is not a reduction
    flip = gate.check(order(side=Side.SELL, quantity=31.0), oversized, PRICES)
    assert flip.reason == "notional_cap"


def test_every_reason_code_is_reachable():
    seen = {reason for reason in BREACHES} | {"notional_cap", "stale_data",
                                              "trading_state_halted", "trading_state_reducing"}
    assert seen == set(DENIAL_REASONS)


def reducing_engine() -> RiskEngine:
    gate = engine(guardian=GUARDIAN.model_copy(update={"drawdown_stages": ((10.0, "REDUCING"),)}))
    k, _ = gate.observe(np.array([T0]), np.array([8_900.0]))
    assert k == 1 and gate.state is TradingState.REDUCING
    return gate


def test_reducing_lets_only_reduce_only_orders_through():
    gate = reducing_engine()
    held = book(position("A", 3.0), equity=8_900.0)
    buy = gate.check(order(quantity=1.0), held, PRICES)
    assert (buy.approved, buy.reason, buy.state) == (False, "trading_state_reducing",
                                                     TradingState.REDUCING)
    assert "drawdown_reducing" in buy.detail
    # an order that would reduce but is not flagged reduce-only is still denied
    assert gate.check(order(side=Side.SELL), held, PRICES).reason == "trading_state_reducing"
    sell = gate.check(order(side=Side.SELL, quantity=3.0, reduce_only=True), held, PRICES)
    assert sell.approved and sell.state is TradingState.REDUCING
    grow = gate.check(order(quantity=1.0, reduce_only=True), held, PRICES)
    assert grow.reason == "reduce_only_violation"


def test_halted_denies_everything_even_reductions():
    gate = engine()
    gate.engage_kill_switch(T0, "api")
    held = book(position("A", 3.0))
    for request in (order(), order(side=Side.SELL, quantity=3.0, reduce_only=True)):
        decision = gate.check(request, held, PRICES)
        assert (decision.reason, decision.state) == ("trading_state_halted", TradingState.HALTED)
        assert "kill_switch:api" in decision.detail
    assert gate.denial_counts == {"trading_state_halted": 2}


def run(gate: RiskEngine, ts: np.ndarray, equity: np.ndarray
        ) -> tuple[list[tuple[int, TradingState]], list[RiskEvent]]:
    """Drive observe() like the walk: (absolute bar of each state change, new state)."""
    changes, events, i = [], [], 0
    while i < len(ts):
        before = gate.state
        k, found = gate.observe(ts[i:], equity[i:])
        assert k >= 1
        events += found
        i += k
        if gate.state is not before:
            assert i < len(ts) + 1 and found[-1].kind == "state"
            changes.append((i - 1, gate.state))
        else:
            assert i == len(ts)  # no change: everything consumed
    return changes, events


def hours(n: int, start: int = T0) -> np.ndarray:
    return start + np.arange(n, dtype=np.int64) * HOUR


def test_drawdown_stages_reduce_recover_then_halt_latched():
    gate = RiskEngine(RiskLimits(max_drawdown_halt_pct=40.0), GuardianConfig(), 100.0)
    equity = np.array([100, 105, 100, 94.5, 95, 84.1, 84, 90, 200.0])
    changes, events = run(gate, hours(9), equity)
    assert changes == [(3, TradingState.REDUCING), (4, TradingState.ACTIVE),
                       (5, TradingState.REDUCING), (6, TradingState.HALTED)]
    breakers = [(e.ts, e.reason) for e in events if e.kind == "breaker"]
    assert breakers == [(T0 + 3 * HOUR, "drawdown_reducing"), (T0 + 4 * HOUR,
                                                                "drawdown_recovered"),
                        (T0 + 5 * HOUR, "drawdown_reducing"), (T0 + 6 * HOUR, "drawdown_halt")]
    assert "drawdown 20.00% >= 20%" in events[-2].detail
    assert gate.state is TradingState.HALTED  # a new high does not lift the halt


def test_profile_drawdown_halt_applies_when_lower_than_the_stages():
    gate = RiskEngine(RiskLimits(max_drawdown_halt_pct=15.0), GuardianConfig(), 100.0)
    changes, _ = run(gate, hours(4), np.array([100, 91, 86, 85.0]))
    assert changes == [(2, TradingState.REDUCING), (3, TradingState.HALTED)]


def daily_equity() -> tuple[np.ndarray, np.ndarray]:
    """Day 0 ends at 120; day 1 loses 9.6 % then 10 %; day 2 starts."""
    equity = np.full(24 * 3, 110.0)
    equity[23] = 120.0  # close of the last bar of day 0 = start of day 1
    equity[24:30] = [115, 110, 108.5, 109, 108, 100]
    equity[30:48] = 100.0
    return hours(72), equity


@pytest.mark.parametrize("resets", [True, False])
def test_daily_loss_halt_trips_at_its_bar_and_resets_at_the_next_utc_day(resets):
    guardian = GuardianConfig(drawdown_stages=(), daily_loss_resets_next_day=resets)
    gate = RiskEngine(RiskLimits(daily_loss_halt_pct=10.0), guardian, 100.0)
    changes, events = run(gate, *daily_equity())
    halt = [e for e in events if e.reason == "daily_loss_halt" and e.kind == "breaker"]
    assert len(halt) == 1 and halt[0].ts == T0 + 28 * HOUR
    assert "loss since day start 10.00% >= 10%" in halt[0].detail
    if resets:
        assert changes == [(28, TradingState.HALTED), (48, TradingState.ACTIVE)]
        assert events[-1].reason == "daily_loss_halt_reset" and events[-1].ts == T0 + 2 * DAY
    else:
        assert changes == [(28, TradingState.HALTED)]


def test_daily_drawdown_cut_reduces_for_the_cooldown_then_restarts_the_peak():
    limits = RiskLimits(daily_drawdown_cut_pct=5.0, cooldown_minutes=120)
    gate = RiskEngine(limits, GuardianConfig(drawdown_stages=()), 100.0)
    equity = np.array([100, 105, 110, 106, 104.5, 104, 103, 100, 97.85, 97.0])
    changes, events = run(gate, hours(10), equity)
    # 104.5 = 110 * 0.95 at bar 4; the cooldown ends at bar 6 (ts >= bar 4 + 2 h); the peak
    # restarts at 103 and 103 * 0.95 = 97.85 trips again at bar 8
    assert changes == [(4, TradingState.REDUCING), (6, TradingState.ACTIVE),
                       (8, TradingState.REDUCING)]
    assert [e.reason for e in events if e.kind == "state"] == [
        "daily_drawdown_cut", "daily_drawdown_cut_end", "daily_drawdown_cut"]


def test_observe_consumes_everything_when_nothing_changes_and_is_vectorised():
    gate = RiskEngine(RiskConfig().effective(), GuardianConfig(), 1_000.0)
    n = 200_000
    rng = np.random.default_rng(7)
    equity = 1_000.0 * np.exp(np.cumsum(rng.normal(0, 1e-5, n)))
    k, events = gate.observe(T0 + np.arange(n, dtype=np.int64) * 60_000, equity)
    assert (k, events, gate.state) == (n, [], TradingState.ACTIVE)
    assert gate.breakers[0].peak == equity.max()
    assert gate.breakers[0].last_equity == equity[-1]


def test_trips_without_a_state_change_are_reported_and_the_scan_goes_on():
    gate = RiskEngine(RiskLimits(max_drawdown_halt_pct=20.0), GuardianConfig(), 100.0)
    gate.engage_kill_switch(T0 - HOUR, "file")
    k, events = gate.observe(hours(5), np.array([100, 90, 70, 80, 90.0]))
    assert k == 5 and gate.state is TradingState.HALTED
    assert [e.reason for e in events] == ["drawdown_reducing", "drawdown_halt"]
    assert all(e.kind == "breaker" for e in events)
    # releasing the kill switch leaves the latched drawdown halt in force
    released = gate.reset_kill_switch(T0 + 6 * HOUR, "api")
    assert [e.reason for e in released] == ["kill_switch_reset:api"]
    assert gate.state is TradingState.HALTED and gate.causes == ("drawdown_halt",)


def test_kill_switch_is_latched_until_reset():
    gate = engine()
    events = gate.engage_kill_switch(T0, "file")
    assert [(e.kind, e.reason, e.state) for e in events] == [
        ("kill_switch", "kill_switch:file", TradingState.HALTED),
        ("state", "kill_switch:file", TradingState.HALTED)]
    assert gate.engage_kill_switch(T0 + HOUR, "signal") == []
    gate.observe(hours(3, T0 + HOUR), np.full(3, EQUITY * 2))
    gate.reset_halt(T0 + 5 * HOUR, "operator")
    assert gate.state is TradingState.HALTED  # a breaker reset does not release it
    events = gate.reset_kill_switch(T0 + 6 * HOUR, "operator")
    assert events[-1].reason == "kill_switch_reset:operator" and events[-1].detail == \
        "HALTED -> ACTIVE"
    assert gate.state is TradingState.ACTIVE
    assert gate.reset_kill_switch(T0 + 7 * HOUR, "operator") == []


def test_consecutive_rejects_trip_a_latched_halt_and_fills_reset_the_count():
    gate = engine()  # max 3
    assert gate.on_reject(T0) == [] and gate.on_reject(T0) == []
    gate.on_fill(T0)
    assert gate.on_reject(T0) == [] and gate.on_reject(T0) == []
    events = gate.on_reject(T0 + HOUR, "E123", "insufficient balance")
    assert [(e.kind, e.reason) for e in events] == [("breaker", "consecutive_rejects"),
                                                    ("state", "consecutive_rejects")]
    assert events[0].client_order_id == "E123" and "insufficient balance" in events[0].detail
    gate.on_fill(T0 + 2 * HOUR)
    assert gate.state is TradingState.HALTED  # latched
    gate.reset_halt(T0 + 3 * HOUR, "operator")
    assert gate.state is TradingState.ACTIVE


def test_stale_symbol_orders_are_denied_until_cleared():
    gate = engine()
    event = gate.mark_stale("A", T0, "feed silent")
    assert (event.kind, event.reason, event.symbol) == ("stale_data", "stale_data", "A")
    decision = gate.check(order("A"), book(), PRICES)
    assert decision.reason == "stale_data" and "feed silent" in decision.detail
    assert gate.check(order("B"), book(), PRICES).approved
    assert gate.state is TradingState.ACTIVE
    assert gate.clear_stale("A", T0 + HOUR).reason == "stale_data_cleared"
    assert gate.clear_stale("A", T0 + HOUR) is None
    assert gate.check(order("A"), book(), PRICES).approved


def test_check_freshness_marks_and_clears_from_the_newest_bar():
    gate = engine()  # stale after 3 bars past the expected close
    now = T0 + 10 * HOUR
    events = gate.check_freshness(now, {"A": now - 4 * HOUR, "B": now - 5 * HOUR}, HOUR)
    assert [(e.symbol, e.reason) for e in events] == [("B", "stale_data")]
    assert gate.check_freshness(now, {"A": now - 4 * HOUR, "B": now - 5 * HOUR}, HOUR) == []
    events = gate.check_freshness(now + HOUR, {"B": now}, HOUR)
    assert [(e.symbol, e.reason) for e in events] == [("B", "stale_data_cleared")]


def test_state_round_trip_resumes_exactly():
    limits = RiskLimits(max_drawdown_halt_pct=30.0, daily_loss_halt_pct=8.0,
                        daily_drawdown_cut_pct=4.0, cooldown_minutes=180)
    ts, equity = daily_equity()
    equity = equity + np.sin(np.arange(len(equity))) * 3.0
    whole = RiskEngine(limits, GuardianConfig(), 100.0)
    expected = run(whole, ts, equity)

    gate = RiskEngine(limits, GuardianConfig(), 100.0)
    gate.mark_stale("A", T0, "gap")
    gate.check(order(quantity=0.0), book(), PRICES)
    first = run(gate, ts[:27], equity[:27])
    restored = RiskEngine.from_state(pickle.loads(pickle.dumps(gate.to_state())))
    assert restored.to_state() == gate.to_state()
    assert restored.denial_counts == {"invalid_order": 1}
    assert restored.breakers == gate.breakers and restored.state is gate.state
    assert restored.breakers[1].stale_since("A") == (T0, "gap")
    second = run(restored, ts[27:], equity[27:])
    shifted = [(i + 27, s) for i, s in second[0]]
    assert first[0] + shifted == expected[0]
    assert first[1] + second[1] == expected[1]
    assert len(expected[0]) >= 3  # the scenario exercises several breakers


def test_observe_rejects_corrupt_input():
    gate = engine()
    with pytest.raises(DataValidationError, match="not finite"):
        gate.observe(hours(3), np.array([1.0, np.nan, 1.0]))
    gate.observe(hours(3), np.full(3, EQUITY))
    with pytest.raises(DataValidationError, match="backwards"):
        gate.observe(hours(2, T0 + 2 * HOUR), np.full(2, EQUITY))
    with pytest.raises(DataValidationError, match="equally long"):
        gate.observe(hours(2, T0 + 5 * HOUR), np.full(3, EQUITY))
    assert gate.observe(np.empty(0, np.int64), np.empty(0)) == (0, [])
    with pytest.raises(ValueError, match="initial_equity"):
        RiskEngine(LIMITS, GUARDIAN, 0.0)


def test_execution_updates_feed_the_reject_breaker_and_fills_reset_it():
    from core.trading.messages import OrderStatus, OrderUpdate

    gate = engine(guardian=GUARDIAN.model_copy(update={"max_consecutive_rejects": 3}))

    def update(n: int, status: OrderStatus) -> OrderUpdate:
        return OrderUpdate(f"o{n}", 1_000 + n, status, reason="venue says no")

    rejected = OrderStatus.REJECTED
    assert gate.on_execution([update(1, rejected), update(2, rejected)]) == []
    assert gate.on_execution([update(3, OrderStatus.FILLED), update(4, rejected),
                              update(5, rejected)]) == []  # the fill ended the run
    events = gate.on_execution([update(6, rejected)])
    assert [e.reason for e in events][:1] == ["consecutive_rejects"]
    assert gate.state is TradingState.HALTED


def test_orders_refused_before_they_left_are_not_venue_rejects() -> None:
    from configs.guardian import GuardianConfig
    from core.trading.messages import OrderStatus, OrderUpdate
    from core.trading.orders import NOT_SENT_REASONS
    from core.trading.risk import RiskEngine

    engine = RiskEngine(RiskLimits(), GuardianConfig(max_consecutive_rejects=2), 1_000.0)
    refused = [OrderUpdate(f"E{i}", 1000, OrderStatus.REJECTED, 0.0, reason)
               for i, reason in enumerate(sorted(NOT_SENT_REASONS) * 2)]
    assert engine.on_execution(refused) == []
    venue = [OrderUpdate(f"V{i}", 1000, OrderStatus.REJECTED, 0.0, "insufficient_balance")
             for i in range(2)]
    assert [e.kind for e in engine.on_execution(venue)] != []

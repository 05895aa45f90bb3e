from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.trading.venue_rules import (
    RULE_REASONS,
    MarketRules,
    RuleDenial,
    ShapedOrder,
    floor_to_step,
    round_to_tick,
    shape_order,
)

BTC = MarketRules("BTC/USDT", "BTCUSDT", "BTC", "USDT", step_size=0.00001, min_quantity=0.00001,
                  max_quantity=9000.0, market_step_size=0.00001, market_max_quantity=100.0,
                  tick_size=0.01, min_notional=5.0)


def test_a_valid_quantity_is_not_floored_one_step_down_by_binary_floats() -> None:
    assert 0.3 / 0.1 < 3  # the trap
    assert floor_to_step(0.3, 0.1) == 0.3
    assert floor_to_step(0.00123456, 0.00001) == 0.00123
    assert floor_to_step(0.00475 + 0.00001, 0.00001) == 0.00476  # float noise keeps its step
    assert floor_to_step(0.0047599, 0.00001) == 0.00475
    assert round_to_tick(101.005000001, 0.01) == 101.01
    assert floor_to_step(1.7, 0.0) == 1.7


@given(st.floats(0.0, 1e4, allow_nan=False), st.sampled_from([1e-5, 1e-3, 0.1, 1.0, 0.25]))
def test_floored_quantity_is_on_the_grid_and_never_above(quantity: float, step: float) -> None:
    shaped = floor_to_step(quantity, step)
    assert shaped <= quantity + 1e-12
    assert quantity - shaped < step + 1e-9
    steps = Decimal(repr(shaped)) / Decimal(repr(step))
    assert steps == steps.to_integral_value()


def test_market_order_is_shaped_and_judged_at_the_reference_price() -> None:
    shaped = shape_order(0.123456789, 50_000.0, BTC)
    assert shaped == ShapedOrder(0.12345, None, pytest.approx(0.12345 * 50_000.0))


def test_limit_price_goes_on_the_tick_grid_and_its_notional_is_judged_there() -> None:
    shaped = shape_order(0.002, 50_000.0, BTC, price=4_000.004)
    assert isinstance(shaped, ShapedOrder)
    assert shaped.price == 4_000.0 and shaped.notional == pytest.approx(8.0)
    assert shape_order(0.002, 50_000.0, BTC, price=4_000.004) == shaped  # pure


@pytest.mark.parametrize(("quantity", "price", "reason"), [
    (0.000004, None, "quantity_rounds_to_zero"),
    (150.0, None, "above_max_quantity"),
    (0.00005, None, "below_min_notional"),
    (0.00005, 4_000.0, "below_min_notional"),
])
def test_each_rule_is_a_denial_with_its_reason(quantity: float, price: float | None,
                                               reason: str) -> None:
    denied = shape_order(quantity, 50_000.0, BTC, price=price)
    assert isinstance(denied, RuleDenial)
    assert denied.reason == reason and denied.reason in RULE_REASONS
    assert denied.detail


def test_rules_are_checked_in_the_documented_order() -> None:
    rules = MarketRules("X/USDT", "XUSDT", "X", "USDT", step_size=1.0, min_quantity=5.0,
                        min_notional=100.0)
    assert shape_order(0.5, 1.0, rules).reason == "quantity_rounds_to_zero"
    assert shape_order(3.0, 1.0, rules).reason == "below_min_quantity"  # also under notional
    no_market_min = MarketRules("X/USDT", "XUSDT", "X", "USDT", min_notional=100.0,
                                min_notional_applies_to_market=False)
    assert isinstance(shape_order(1.0, 1.0, no_market_min), ShapedOrder)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_inputs_are_refused_with_the_symbol_named(bad: float) -> None:
    with pytest.raises(ValueError, match="BTC/USDT"):
        shape_order(bad, 50_000.0, BTC)
    with pytest.raises(ValueError, match="BTC/USDT"):
        shape_order(1.0, bad if bad == bad and bad != float("inf") else 0.0, BTC)
    with pytest.raises(ValueError, match="tick_size"):
        MarketRules("BTC/USDT", "BTCUSDT", "BTC", "USDT", tick_size=bad)

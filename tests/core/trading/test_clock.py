"""SimClock follows the data and never goes backwards; PacingPlan is plain arithmetic."""

from __future__ import annotations

import pickle

import pytest

from core.errors import DataValidationError
from core.trading.clock import Clock, PacingPlan, SimClock

T0 = 1_514_764_800_000
HOUR = 3_600_000


def test_sim_clock_is_set_from_the_data():
    clock = SimClock()
    assert isinstance(clock, Clock) and clock.now_ms() == 0
    clock.advance_to(T0)
    clock.advance_to(T0)  # staying put is allowed (several symbols share a bar time)
    clock.advance_to(T0 + HOUR)
    assert clock.now_ms() == T0 + HOUR
    assert pickle.loads(pickle.dumps(clock)).now_ms() == T0 + HOUR


def test_sim_clock_refuses_to_go_backwards():
    clock = SimClock(T0 + HOUR)
    with pytest.raises(DataValidationError, match="time went backwards") as info:
        clock.advance_to(T0)
    assert info.value.timestamp_ms == T0
    assert clock.now_ms() == T0 + HOUR  # unchanged


@pytest.mark.parametrize("speed", [None, 0, 0.0])
def test_unpaced_plan_runs_as_fast_as_possible(speed):
    plan = PacingPlan(speed)
    assert not plan.paced
    assert plan.step_seconds(1_000, HOUR) == 0.0
    assert plan.wait_seconds(1_000, HOUR, 0.0) == 0.0
    assert plan.bars_per_step(HOUR, 1.0, 500) == 500


def test_paced_plan_scales_market_time_by_the_speed():
    plan = PacingPlan(3600.0)  # one market hour per wall second
    assert plan.paced
    assert plan.step_seconds(1, HOUR) == 1.0
    assert plan.step_seconds(24, HOUR) == 24.0
    assert plan.step_seconds(5, 60_000) == pytest.approx(5 * 60 / 3600)
    assert plan.wait_seconds(24, HOUR, 10.0) == 14.0
    assert plan.wait_seconds(1, HOUR, 3.0) == 0.0  # late: never negative
    assert plan.bars_per_step(HOUR, 2.0, 500) == 2
    assert plan.bars_per_step(HOUR, 0.01, 500) == 1
    assert plan.bars_per_step(60_000, 60.0, 500) == 500


@pytest.mark.parametrize("speed", [-1.0, float("inf"), float("nan")])
def test_bad_speed_is_refused(speed):
    with pytest.raises(ValueError, match="pacing speed"):
        PacingPlan(speed)


def test_bad_step_arguments_are_refused():
    with pytest.raises(ValueError):
        PacingPlan(10.0).step_seconds(-1, HOUR)
    with pytest.raises(ValueError):
        PacingPlan(10.0).step_seconds(1, 0)
    with pytest.raises(ValueError):
        PacingPlan().bars_per_step(HOUR, 1.0, 0)

"""The active policy's sentry (core.governance.sentry): regime, drift, daily drop."""

from __future__ import annotations

import numpy as np
import pytest

from core.governance.drift import calibrate
from core.governance.regime import RegimeRules
from core.governance.sentry import DAY_MS, Sentry

HOUR = 3_600_000
RULES = RegimeRules(vol_window=4, baseline_window=20, trend_window=6)


def bars(n: int, start: int = 0) -> np.ndarray:
    return start + np.arange(n, dtype=np.int64) * HOUR


def model(seed: int = 0):
    returns = np.random.default_rng(seed).normal(0.001, 0.01, 3000)
    return calibrate("p1", returns, false_alarm_bars=500, seed=seed)


def test_a_decaying_policy_alarms_and_a_healthy_one_rarely_does() -> None:
    rng = np.random.default_rng(5)
    healthy = 10_000 * np.cumprod(1 + rng.normal(0.001, 0.01, 100))
    decayed = 10_000 * np.cumprod(1 + rng.normal(-0.01, 0.01, 300))
    close = np.full(300, 100.0)
    quiet = Sentry("p1", model(), 99.0, RULES).observe(bars(100), healthy, close[:100])
    assert not [e for e in quiet if e.kind == "drift_alarm"]
    events = Sentry("p1", model(), 99.0, RULES).observe(bars(300), decayed, close)
    alarms = [e for e in events if e.kind == "drift_alarm"]
    assert alarms and alarms[0].detail["bars"] < 30  # a 1.1 sd fall is caught within a day
    first = alarms[0].detail
    assert first["policy"] == "p1" and first["statistic"] > first["threshold"]
    assert first["expected_mean"] == model().mean and first["live_mean"] < 0
    assert len(first["live_returns"]) == first["bars"]


def test_the_daily_drop_alarms_once_a_day_from_the_days_opening_equity() -> None:
    equity = np.array([100.0, 100.0, 90.0, 84.0, 80.0, 84.0, 66.0])
    ts = np.array([DAY_MS - 2 * HOUR, DAY_MS - HOUR, DAY_MS, DAY_MS + HOUR, DAY_MS + 2 * HOUR,
                   2 * DAY_MS, 2 * DAY_MS + HOUR])
    events = Sentry("p1", None, 15.0, RULES).observe(ts, equity, np.full(7, 100.0))
    drops = [e for e in events if e.kind == "daily_drop"]
    assert [e.ts for e in drops] == [DAY_MS + HOUR, 2 * DAY_MS + HOUR]
    assert drops[0].detail["day_open"] == 100.0
    assert drops[0].detail["drop_pct"] == pytest.approx(16.0)
    assert drops[1].detail["day_open"] == 80.0  # the last equity before the day began


def test_regime_transitions_carry_their_features() -> None:
    close = np.concatenate([np.full(30, 100.0) * (1 + 1e-4 * np.arange(30) % 2),
                            100.0 * np.cumprod(np.full(40, 1.02))])
    events = Sentry("p1", None, 99.0, RULES).observe(bars(70), np.full(70, 1e4), close)
    moves = [e for e in events if e.kind == "regime"]
    assert moves and moves[-1].detail["to"] == "trend_up"
    assert moves[-1].detail["trend_strength"] >= RULES.trend_enter


def test_a_switch_watches_the_new_policy_and_state_round_trips() -> None:
    rng = np.random.default_rng(9)
    equity = 10_000 * np.cumprod(1 + rng.normal(-0.01, 0.01, 200))
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, 200))
    whole = Sentry("p1", model(), 15.0, RULES)
    expected = whole.observe(bars(200), equity, close)
    first = Sentry("p1", model(), 15.0, RULES)
    got = first.observe(bars(80), equity[:80], close[:80])
    again = Sentry("p1", None, 15.0, RULES, state=first.state)
    got += again.observe(bars(120, 80 * HOUR), equity[80:], close[80:])
    assert [(e.kind, e.ts, e.detail) for e in got] == \
        [(e.kind, e.ts, e.detail) for e in expected]
    switched = Sentry("p1", model(), 15.0, RULES)
    switched.observe(bars(10), equity[:10], close[:10])
    switched.switch("p2", None)
    later = switched.observe(bars(190, 10 * HOUR), equity[10:], close[10:])
    assert switched.policy == "p2"
    assert not [e for e in later if e.kind == "drift_alarm"]  # p2 has no model

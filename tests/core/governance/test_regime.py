"""The market regime state machine (core.governance.regime)."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError
from core.governance.regime import (
    REGIMES,
    RegimeFSM,
    RegimeFSMState,
    RegimeReading,
    RegimeRules,
    label_regimes,
    regime_grid,
)

HOUR = 3_600_000
T0 = 1_700_000_000_000
RULES = RegimeRules()
SMALL = RegimeRules(vol_window=5, baseline_window=12, trend_window=8)
"""Short windows: the ring buffers wrap many times over a short series."""


def stamps(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * HOUR


def from_returns(log_returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    return start * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))


def feed(closes: np.ndarray, rules: RegimeRules = RULES) -> list[RegimeReading]:
    machine = RegimeFSM(rules)
    return [machine.update(c, t) for c, t in zip(closes, stamps(len(closes)), strict=True)]


def bits(reading: RegimeReading) -> tuple:
    """A reading with every float as its exact bits (NaN compares equal to NaN)."""
    def exact(features: dict[str, float]) -> tuple:
        return tuple((k, float(v).hex()) for k, v in features.items())
    move = reading.transition
    return (reading.ts, reading.regime, reading.confidence.hex(), exact(reading.features),
            None if move is None else (move.ts, move.from_regime, move.to_regime,
                                       exact(move.features)))


def switching(n: int = 3000, seed: int = 7) -> np.ndarray:
    """A random walk whose drift and volatility switch every 250 bars."""
    rng = np.random.default_rng(seed)
    kind = np.resize(rng.permutation(np.arange(4).repeat(4)), n // 250 + 1).repeat(250)[:n]
    drift = np.array([0.003, -0.003, 0.0, 0.0])[kind]
    vol = np.array([0.004, 0.004, 0.004, 0.02])[kind]
    return from_returns(drift + vol * rng.standard_normal(n))[1:]


def alternating(amplitudes: np.ndarray, drifts: np.ndarray) -> np.ndarray:
    """Closes whose log returns are ``drift + amplitude`` and ``drift - amplitude`` in turn."""
    signs = np.where(np.arange(len(amplitudes)) % 2 == 0, 1.0, -1.0)
    return from_returns(drifts + signs * amplitudes)


def strength_drift(strength: float, amplitude: float, rules: RegimeRules = RULES) -> float:
    """The drift giving ``strength`` to an alternating series of ``amplitude``."""
    vol = amplitude * math.sqrt(rules.vol_window / (rules.vol_window - 1))
    return strength * vol / math.sqrt(rules.trend_window)


def regimes(readings: list[RegimeReading]) -> list[str]:
    return [r.regime for r in readings]


def feature(readings: list[RegimeReading], name: str) -> np.ndarray:
    return np.array([r.features[name] for r in readings])


# ------------------------------------------------------------------ synthetic regimes
@pytest.mark.parametrize(("drift", "expected"), [(0.002, "trend_up"), (-0.002, "trend_down")])
def test_a_steady_trend_is_labelled_after_the_warm_up(drift: float, expected: str) -> None:
    rng = np.random.default_rng(1)
    readings = feed(from_returns(drift + 0.002 * rng.standard_normal(1500)))
    warm = RULES.warmup - 1
    assert regimes(readings[:warm]) == ["unknown"] * warm
    assert all(r.confidence == 0.0 and math.isnan(r.features["vol_ratio"])
               for r in readings[:warm])
    assert regimes(readings[warm:]) == [expected] * (len(readings) - warm)


def test_a_flat_quiet_series_is_range_calm() -> None:
    rng = np.random.default_rng(2)
    readings = feed(100.0 * np.exp(0.001 * rng.standard_normal(1500)))
    assert set(regimes(readings[RULES.warmup - 1:])) == {"range_calm"}


def test_a_volatility_burst_on_a_flat_series_is_range_volatile() -> None:
    rng = np.random.default_rng(3)
    noise = np.concatenate([np.full(1000, 0.001), np.full(150, 0.006), np.full(300, 0.001)])
    labels = regimes(feed(100.0 * np.exp(noise * rng.standard_normal(len(noise)))))
    assert set(labels[RULES.warmup - 1:1000]) == {"range_calm"}
    assert set(labels[1000 + RULES.vol_window // 2:1150]) == {"range_volatile"}
    assert set(labels[-100:]) == {"range_calm"}


def test_features_match_a_direct_computation() -> None:
    closes = switching()
    readings = feed(closes)
    logs = np.log(closes)
    vols = np.std(np.lib.stride_tricks.sliding_window_view(np.diff(logs), RULES.vol_window),
                  axis=1, ddof=1)  # vols[j] ends at bar j + vol_window
    for i in range(RULES.warmup - 1, len(closes)):
        j = i - RULES.vol_window
        baseline = np.median(vols[max(0, j + 1 - RULES.baseline_window):j + 1])
        strength = (logs[i] - logs[i - RULES.trend_window]) / (
            vols[j] * math.sqrt(RULES.trend_window))
        assert readings[i].features["vol_ratio"] == pytest.approx(vols[j] / baseline, rel=1e-9)
        assert readings[i].features["trend_strength"] == pytest.approx(strength, rel=1e-9)


def test_confidence_follows_the_documented_formula() -> None:
    def u(x: float, leave: float, enter: float) -> float:
        return min(1.0, max(0.0, (x - leave) / (enter - leave)))

    readings = feed(switching())
    assert {r.regime for r in readings} == {*REGIMES, "unknown"}
    for r in readings[RULES.warmup - 1:]:
        trend = u(abs(r.features["trend_strength"]), RULES.trend_exit, RULES.trend_enter)
        vol = u(r.features["vol_ratio"], RULES.vol_exit, RULES.vol_enter)
        expected = {"trend_up": trend, "trend_down": trend,
                    "range_volatile": min(vol, 1 - trend),
                    "range_calm": min(1 - vol, 1 - trend)}[r.regime]
        assert r.confidence == pytest.approx(expected, abs=1e-12)
        assert 0.0 <= r.confidence <= 1.0


# ------------------------------------------------------------------ hysteresis
def test_a_trend_holds_while_its_strength_stays_between_exit_and_enter() -> None:
    amp = np.full(1300, 0.01)
    targets = np.concatenate([np.full(300, 3.0), np.tile(np.repeat([1.3, 1.8], 50), 8),
                              np.full(200, 0.5)])
    readings = feed(alternating(amp, np.array([strength_drift(s, 0.01) for s in targets])))
    strength = feature(readings, "trend_strength")
    hover = slice(300 + RULES.trend_window, 1100)
    assert RULES.trend_exit < strength[hover].min() and strength[hover].max() < RULES.trend_enter
    labels = regimes(readings)
    first_exit = labels.index("range_calm")
    assert set(labels[RULES.warmup - 1:first_exit]) == {"trend_up"}
    assert first_exit > 1100
    assert strength[first_exit] < RULES.trend_exit <= strength[first_exit - 1]
    moves = [(r.transition.from_regime, r.transition.to_regime) for r in readings
             if r.transition]
    assert moves == [("unknown", "trend_up"), ("trend_up", "range_calm")]


def test_a_strength_hovering_just_below_enter_never_starts_a_trend() -> None:
    targets = np.tile(np.repeat([1.3, 1.95], 120), 5)
    readings = feed(alternating(np.full(len(targets), 0.01),
                                np.array([strength_drift(s, 0.01) for s in targets])))
    strength = feature(readings, "trend_strength")[RULES.warmup - 1:]
    assert 1.9 < strength.max() < RULES.trend_enter
    assert set(regimes(readings[RULES.warmup - 1:])) == {"range_calm"}
    assert sum(r.transition is not None for r in readings) == 1


@pytest.mark.parametrize("enter_first", [True, False])
def test_the_volatility_flag_has_hysteresis(enter_first: bool) -> None:
    calm, hover = np.full(800, 0.01), np.tile(np.repeat([0.0131, 0.0145], 30), 4)
    burst = np.full(48, 0.02 if enter_first else 0.013)
    amp = np.concatenate([calm, burst, hover, np.full(100, 0.01)])
    readings = feed(alternating(amp, np.zeros(len(amp))))
    ratio = feature(readings, "vol_ratio")
    hovering = slice(848 + RULES.vol_window, 848 + len(hover))
    assert RULES.vol_exit <= ratio[hovering].min() and ratio[hovering].max() < RULES.vol_enter
    labels = regimes(readings)
    assert set(labels[hovering]) == {"range_volatile" if enter_first else "range_calm"}
    moves = [r.transition for r in readings if r.transition]
    assert len(moves) == (3 if enter_first else 1)
    if enter_first:
        assert moves[1].to_regime == "range_volatile"
        assert moves[1].features["vol_ratio"] >= RULES.vol_enter
        assert moves[2].to_regime == "range_calm" and moves[2].ts > stamps(len(amp))[848 + 240]
        assert moves[2].features["vol_ratio"] < RULES.vol_exit


def test_transitions_carry_the_features_that_caused_them() -> None:
    readings = feed(switching())
    moves = [r for r in readings if r.transition is not None]
    assert len(moves) >= 8
    for reading in moves:
        move = reading.transition
        assert move.ts == reading.ts and move.to_regime == reading.regime
        assert move.features == reading.features and move.features is not reading.features
        s, ratio = move.features["trend_strength"], move.features["vol_ratio"]
        direction = {"trend_up": 1, "trend_down": -1}
        if move.to_regime in direction:
            assert s * direction[move.to_regime] >= RULES.trend_enter
        elif move.from_regime in direction:
            assert s * direction[move.from_regime] < RULES.trend_exit
        elif move.to_regime == "range_volatile" and move.from_regime == "range_calm":
            assert ratio >= RULES.vol_enter
        elif move.to_regime == "range_calm" and move.from_regime == "range_volatile":
            assert ratio < RULES.vol_exit


# ------------------------------------------------------------------ determinism
def test_labels_never_depend_on_later_bars() -> None:
    closes = switching()
    full = label_regimes(stamps(len(closes)), closes, RULES)
    for n in (100, 1000, 2222):
        part = label_regimes(stamps(n), closes[:n], RULES)
        assert np.array_equal(part.labels, full.labels[:n])
        assert np.array_equal(part.confidence, full.confidence[:n])
        assert part.transitions == tuple(t for t in full.transitions if t.ts < stamps(n + 1)[n])


@pytest.mark.parametrize("rules", [RULES, SMALL])
def test_batch_labelling_equals_streaming(rules: RegimeRules) -> None:
    closes = switching()
    path = label_regimes(stamps(len(closes)), closes, rules)
    readings = feed(closes, rules)
    assert path.labels.dtype == np.int8 and path.confidence.dtype == np.float64
    assert list(path.names()) == regimes(readings)
    assert [REGIMES[c] if c >= 0 else "unknown" for c in path.labels] == regimes(readings)
    assert path.confidence.tobytes() == np.array([r.confidence for r in readings]).tobytes()
    assert path.transitions == tuple(r.transition for r in readings if r.transition)
    assert np.array_equal(path.ts, stamps(len(closes)))


@pytest.mark.parametrize("rules", [RULES, SMALL])
def test_a_restored_machine_continues_bit_for_bit(rules: RegimeRules) -> None:
    closes, ts = switching(), stamps(3000)
    expected = [bits(r) for r in feed(closes, rules)]
    for split in (0, 1, 9, rules.warmup - 1, rules.warmup, 500, 1500, 2999):
        machine = RegimeFSM(rules)
        head = [bits(machine.update(c, t)) for c, t in zip(closes[:split], ts[:split],
                                                           strict=True)]
        state = pickle.loads(pickle.dumps(machine.snapshot()))
        restored = RegimeFSM.restore(rules, state)
        assert restored.snapshot() == state
        tail = [bits(restored.update(c, t)) for c, t in zip(closes[split:], ts[split:],
                                                            strict=True)]
        assert head + tail == expected, split
    final = machine.snapshot()
    assert len(final.closes) == rules.warmup and len(final.vols) == rules.baseline_window


def test_restore_refuses_a_state_these_rules_cannot_produce() -> None:
    machine = RegimeFSM(RULES)
    for c, t in zip(switching(), stamps(3000), strict=True):
        machine.update(c, t)
    state = machine.snapshot()
    with pytest.raises(ConfigError, match="at most 9"):
        RegimeFSM.restore(SMALL, state)
    with pytest.raises(ConfigError, match="'sideways'"):
        RegimeFSM.restore(RULES, RegimeFSMState(state.closes, state.vols, state.last_ts,
                                                "sideways", False))
    with pytest.raises(ConfigError, match="volatility values"):
        RegimeFSM.restore(RULES, RegimeFSMState(state.closes, state.vols[:10], state.last_ts,
                                                state.regime, state.volatile))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("changes", "named"), [
    ({"vol_window": 1}, "vol_window = 1"),
    ({"trend_window": 0}, "trend_window = 0"),
    ({"trend_window": 2.5}, "trend_window = 2.5"),
    ({"baseline_window": True}, "baseline_window = True"),
    ({"baseline_window": 10}, "baseline_window = 10 must be >= vol_window = 24"),
    ({"vol_enter": math.nan}, "vol_enter = nan"),
    ({"vol_exit": math.inf}, "vol_exit = inf"),
    ({"vol_exit": 1.6}, "vol_exit = 1.6 and vol_enter = 1.5"),
    ({"vol_exit": 0.0}, "vol_exit = 0.0"),
    ({"trend_enter": 0.5}, "trend_exit = 1.0 and trend_enter = 0.5"),
    ({"trend_exit": -1.0}, "trend_exit = -1.0"),
    ({"trend_enter": "2"}, "trend_enter = '2'"),
])
def test_invalid_rules_name_the_parameter(changes: dict, named: str) -> None:
    with pytest.raises(ConfigError, match="invalid RegimeRules: .*" + named.replace(".", r"\.")):
        RegimeRules(**changes)


@pytest.mark.parametrize("close", [math.nan, math.inf, -math.inf, 0.0, -3.0])
def test_a_bad_close_raises_and_leaves_the_machine_unchanged(close: float) -> None:
    machine = RegimeFSM(SMALL)
    for c, t in zip(switching(40), stamps(40), strict=True):
        machine.update(c, t)
    before = machine.snapshot()
    with pytest.raises(ValueError, match=f"close at ts 123 must be positive and finite, got "
                                         f"{close!r}"):
        machine.update(close, 123)
    assert machine.snapshot() == before
    with pytest.raises(ValueError, match="does not come after"):
        machine.update(100.0, before.last_ts)
    with pytest.raises(ValueError, match="close at ts 5"):
        label_regimes(np.arange(10), np.r_[np.ones(5), np.nan, np.ones(4)], SMALL)
    with pytest.raises(ValueError, match="1-D"):
        label_regimes(np.arange(10), np.ones(9), SMALL)


# ------------------------------------------------------------------ regime grid
def test_regime_grid_golden_values() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2, 3, 3, -1, -1], dtype=np.int8)
    returns = np.array([0.01, 0.03, -0.02, -0.04, -0.03, 0.005, 0.02, 0.02, 9.0, -9.0])
    grid = regime_grid(returns, labels, min_bars=2)
    up, down, calm, volatile = (grid.scores[name] for name in REGIMES)
    assert list(grid.scores) == list(REGIMES)
    assert (up.bars, down.bars, calm.bars, volatile.bars) == (2, 3, 1, 2)
    assert up.mean == pytest.approx(0.02) and up.score == pytest.approx(math.sqrt(2))
    assert down.mean == pytest.approx(-0.03) and down.score == pytest.approx(-3.0)
    assert calm.mean == pytest.approx(0.005) and math.isnan(calm.score)  # one bar < min_bars
    assert volatile.mean == pytest.approx(0.02) and math.isnan(volatile.score)  # zero std
    assert (grid.positive, grid.measured) == (1, 2)
    assert grid.passes(1) and not grid.passes(2)
    strict = regime_grid(returns, labels)
    assert (strict.positive, strict.measured) == (0, 0) and not strict.passes(1)
    empty = regime_grid(np.zeros(3), np.full(3, -1), min_bars=2)
    assert all(s.bars == 0 and math.isnan(s.mean) for s in empty.scores.values())


def test_regime_grid_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="1-D and equal"):
        regime_grid(np.zeros(5), np.zeros(4, dtype=np.int8))
    with pytest.raises(ValueError, match="min_bars = 1"):
        regime_grid(np.zeros(5), np.zeros(5, dtype=np.int8), min_bars=1)
    with pytest.raises(ValueError, match="integer codes"):
        regime_grid(np.zeros(5), np.full(5, 4))
    with pytest.raises(ValueError, match="index 2"):
        regime_grid(np.array([0.0, 0.0, np.nan]), np.zeros(3, dtype=np.int8))


# ------------------------------------------------------------------ real data
def test_real_btc_history_visits_every_regime_without_flapping(shared_data: Path) -> None:
    bars = pd.read_parquet(shared_data / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet",
                           columns=["timestamp", "close"])
    path = label_regimes(bars["timestamp"].to_numpy(), bars["close"].to_numpy(), RULES)
    counts = {name: int((path.names() == name).sum()) for name in REGIMES}
    assert all(count > 0 for count in counts.values()), counts
    assert len(path.transitions) < len(bars) / 50
    spans = np.diff([t.ts for t in path.transitions]) // HOUR
    assert np.median(spans) >= 12 and np.mean(spans <= 3) < 0.1
    held = np.r_[0.0, np.diff(np.log(bars["close"].to_numpy()))]  # over bar i
    grid = regime_grid(held, path.labels)
    assert grid.measured == len(REGIMES)
    assert grid.scores["trend_up"].mean > 0 > grid.scores["trend_down"].mean

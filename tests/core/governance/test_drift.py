"""The drift sentry's detectors and their bootstrap calibration (core.governance.drift)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from core.errors import ConfigError
from core.governance import drift
from core.governance.drift import (
    DETECTORS,
    DetectorState,
    DriftAlarm,
    DriftDetectors,
    DriftModel,
    calibrate,
)

BARS = 500
SD = 0.01
HAND = DriftModel(policy="abc123", mean=1.0, std=2.0, ph_delta=0.5, ph_threshold=2.0,
                  cusum_k=0.5, cusum_threshold=1.5, false_alarm_bars=100,
                  detection_delay_bars=12.5, shift_sd=0.5)
"""Exact binary fractions everywhere: ``z = (r - 1) / 2`` is computed without rounding."""


@pytest.fixture(scope="module")
def iid() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(5000) * SD


@pytest.fixture(scope="module")
def model(iid: np.ndarray) -> DriftModel:
    return calibrate("policy-iid", iid, false_alarm_bars=BARS, seed=0)


def first_alarms(model: DriftModel, series: np.ndarray) -> dict[str, int]:
    """Detector -> bars seen when it fired, for one series."""
    detectors = DriftDetectors(model)
    return {a.detector: a.bars for r in series for a in detectors.update(r)}


def exact(state: DetectorState) -> tuple:
    return (state.bars, state.ph_sum.hex(), state.ph_max.hex(), state.cusum.hex(),
            state.alarmed)


def test_recursions_on_a_hand_computed_sequence():
    # z = 1, -1, -2, 0.5, -3
    detectors = DriftDetectors(HAND)
    got = [(detectors.update(r), detectors.state) for r in (3.0, -1.0, -3.0, 2.0, -5.0)]
    ph_sums, ph_maxes, cusums = [1.5, 1.0, -0.5, 0.5, -2.0], [1.5] * 5, [0.0, 0.5, 2.0, 1.0, 3.5]
    for bar, (_, state) in enumerate(got):
        assert (state.bars, state.ph_sum, state.ph_max, state.cusum) == (
            bar + 1, ph_sums[bar], ph_maxes[bar], cusums[bar])
    # PH_3 = 2.0 equals its threshold: no alarm (strictly greater is needed); PH_5 = 3.5.
    assert [alarms for alarms, _ in got] == [
        [], [], [DriftAlarm("cusum", 2.0, 1.5, 3)], [], [DriftAlarm("page_hinkley", 3.5, 2.0, 5)]]
    assert got[-1][1].alarmed == ("cusum", "page_hinkley")


def test_detectors_are_latched():
    detectors = DriftDetectors(HAND)
    fired = [a.detector for _ in range(50) for a in detectors.update(-9.0)]
    assert fired == list(DETECTORS)
    assert detectors.state.cusum == 50 * 4.5
    assert detectors.state.bars == 50


def test_non_finite_returns_are_ignored():
    detectors = DriftDetectors(HAND)
    detectors.update(-1.0)
    before = detectors.state
    for r in (math.nan, math.inf, -math.inf, np.float64("nan")):
        assert detectors.update(r) == []
        assert detectors.state == before
    assert detectors.update(-3.0)[0].bars == 2
    with pytest.raises(TypeError):
        detectors.update(None)  # type: ignore[arg-type]


def test_restored_detectors_continue_bit_identically(model: DriftModel):
    rng = np.random.default_rng(5)
    series = np.concatenate([rng.standard_normal(150), rng.standard_normal(350) - 1.0]) * SD
    whole = DriftDetectors(model)
    expected = [(whole.update(r), exact(whole.state)) for r in series]
    assert any(alarms for alarms, _ in expected)
    for cut in (0, 77, 200, 499):
        first = DriftDetectors(model)
        head = [(first.update(r), exact(first.state)) for r in series[:cut]]
        resumed = DriftDetectors(model, first.state)
        tail = [(resumed.update(r), exact(resumed.state)) for r in series[cut:]]
        assert head + tail == expected


@pytest.mark.parametrize("state", [
    DetectorState(bars=-1),
    DetectorState(bars=3, ph_sum=2.0, ph_max=1.0),
    DetectorState(bars=3, ph_sum=-2.0, ph_max=-1.0),
    DetectorState(bars=3, cusum=-0.5),
    DetectorState(bars=3, cusum=math.nan),
    DetectorState(bars=3, alarmed=("cusum", "cusum")),
    DetectorState(bars=3, alarmed=("shewhart",)),
])
def test_impossible_states_are_refused(state: DetectorState):
    with pytest.raises(ConfigError, match="invalid DetectorState"):
        DriftDetectors(HAND, state)


def test_false_alarms_about_once_per_false_alarm_bars(model: DriftModel):
    rng = np.random.default_rng(1)
    runs = [first_alarms(model, rng.standard_normal(BARS) * SD) for _ in range(300)]
    either = np.mean([bool(run) for run in runs])  # the sentry alarms when either fires
    assert 0.50 <= either <= 0.75, either
    for name in DETECTORS:  # each alone a little less often
        assert 0.25 <= np.mean([name in run for run in runs]) <= either


def test_a_one_sd_fall_is_caught_fast(model: DriftModel):
    rng = np.random.default_rng(2)
    runs = [first_alarms(model, (rng.standard_normal(BARS) - 1.0) * SD) for _ in range(100)]
    assert np.mean([bool(run) for run in runs]) >= 0.97
    delays = [min(run.values(), default=math.inf) for run in runs]
    assert np.median(delays) < BARS / 10
    assert model.shift_sd == 0.5
    assert 1 <= model.detection_delay_bars < BARS / 4


def test_a_larger_shift_is_detected_sooner(iid: np.ndarray, model: DriftModel):
    bigger = calibrate("policy-iid", iid, false_alarm_bars=BARS, seed=0, shift_sd=1.0)
    assert bigger.detection_delay_bars < model.detection_delay_bars
    assert (bigger.ph_threshold, bigger.cusum_threshold) == (
        model.ph_threshold, model.cusum_threshold)


def test_autocorrelated_returns_get_larger_thresholds(model: DriftModel):
    rng = np.random.default_rng(3)
    noise, ar = rng.standard_normal(5000), np.empty(5000)
    ar[0] = noise[0]
    for i in range(1, 5000):
        ar[i] = 0.5 * ar[i - 1] + noise[i]
    ar *= SD * math.sqrt(1 - 0.5**2)
    assert ar.std() == pytest.approx(SD, rel=0.1)
    sticky = calibrate("policy-ar", ar, false_alarm_bars=BARS, seed=0)
    assert sticky.ph_threshold > 1.4 * model.ph_threshold
    assert sticky.cusum_threshold > 1.4 * model.cusum_threshold


def test_calibration_uses_the_finite_returns_only(iid: np.ndarray, model: DriftModel):
    holed = np.insert(iid, [10, 500, 4000], [math.nan, math.inf, -math.inf])
    assert calibrate("policy-iid", holed, false_alarm_bars=BARS, seed=0) == model
    assert model.mean == float(iid.mean()) and model.std == float(iid.std(ddof=1))


def test_calibration_is_deterministic(iid: np.ndarray, model: DriftModel):
    again = calibrate("policy-iid", iid, false_alarm_bars=BARS, seed=0)
    assert json.dumps(again.to_dict()) == json.dumps(model.to_dict())
    other = calibrate("policy-iid", iid, false_alarm_bars=BARS, seed=1)
    assert other.ph_threshold != model.ph_threshold
    assert other.cusum_threshold != model.cusum_threshold


def test_model_round_trips_through_json(model: DriftModel):
    for original in (model, HAND):
        back = DriftModel.from_dict(json.loads(json.dumps(original.to_dict(), allow_nan=False)))
        assert back == original
        assert type(back.false_alarm_bars) is int
    undetected = replace(HAND, detection_delay_bars=math.nan)
    body = undetected.to_dict()
    assert body["detection_delay_bars"] == "nan"
    back = DriftModel.from_dict(json.loads(json.dumps(body, allow_nan=False)))
    assert math.isnan(back.detection_delay_bars)
    assert replace(back, detection_delay_bars=12.5) == HAND


@pytest.mark.parametrize(("change", "needle"), [
    ({"std": 0.0}, "std = 0.0"),
    ({"std": "big"}, "std = 'big'"),
    ({"ph_threshold": -1.0}, "ph_threshold = -1.0"),
    ({"false_alarm_bars": 1}, "false_alarm_bars = 1"),
    ({"false_alarm_bars": 2.5}, "false_alarm_bars = 2.5"),
    ({"detection_delay_bars": "soon"}, "detection_delay_bars = 'soon'"),
    ({"detection_delay_bars": -3.0}, "detection_delay_bars = -3.0"),
    ({"policy": ""}, "policy = ''"),
    ({"mean": None}, "mean = None"),
    ({"extra": 1}, "unknown keys ['extra']"),
])
def test_malformed_model_dicts_are_refused(change: dict, needle: str):
    with pytest.raises(ConfigError) as caught:
        DriftModel.from_dict(HAND.to_dict() | change)
    assert needle in str(caught.value)


def test_missing_keys_and_non_mappings_are_refused():
    body = HAND.to_dict()
    del body["cusum_k"]
    with pytest.raises(ConfigError, match=r"missing keys \['cusum_k'\]"):
        DriftModel.from_dict(body)
    with pytest.raises(ConfigError, match="not a DriftModel"):
        DriftModel.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"false_alarm_bars": 1}, "false_alarm_bars = 1 must be an integer >= 2"),
    ({"false_alarm_bars": 100.0}, "false_alarm_bars = 100.0 must be an integer"),
    ({"paths": 9}, "paths = 9 must be an integer >= 10"),
    ({"block_bars": 0}, "block_bars = 0 must be an integer >= 1"),
    ({"ph_delta": -0.1}, "ph_delta = -0.1 must be a finite number >= 0"),
    ({"cusum_k": -0.25}, "cusum_k = -0.25 must be a finite number >= 0"),
    ({"cusum_k": math.inf}, "cusum_k = inf"),
    ({"shift_sd": 0.0}, "shift_sd = 0.0 must be a finite number > 0"),
    ({"seed": -1}, "seed = -1 must be an integer >= 0"),
    ({"block_bars": 60}, "needs at least 2 * block_bars = 120"),
])
def test_invalid_calibration_arguments_are_refused(kwargs: dict, needle: str):
    args = {"false_alarm_bars": 50, "seed": 0} | kwargs
    returns = np.random.default_rng(0).standard_normal(100)
    with pytest.raises(ConfigError) as caught:
        calibrate("p", returns, **args)
    assert needle in str(caught.value)


@pytest.mark.parametrize(("returns", "needle"), [
    (np.r_[np.full(60, 0.1), np.full(20, math.nan)], "all equal"),
    (np.r_[np.arange(47.0), np.full(10, math.nan)], "hold 47 finite values"),
    (np.zeros((10, 10)), "must be 1-D"),
])
def test_unusable_returns_are_refused(returns: np.ndarray, needle: str):
    with pytest.raises(ConfigError) as caught:
        calibrate("p", returns, false_alarm_bars=50, seed=0)
    assert needle in str(caught.value)


def test_calibration_in_small_chunks_is_identical(iid: np.ndarray, model: DriftModel,
                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(drift, "_CHUNK", 3 * BARS)
    assert calibrate("policy-iid", iid, false_alarm_bars=BARS, seed=0) == model


def test_calibration_is_pinned(model: DriftModel):
    # Stored models are recalibrated from their seed: a change here changes every one of them
    # (draw order: the null paths' block starts, then the shifted paths').
    assert (model.ph_threshold, model.cusum_threshold) == pytest.approx(
        (17.569808661282316, 7.934118945482233), rel=1e-12)
    assert model.detection_delay_bars == 26.0

"""LatencyRecorder: exact percentiles equal numpy's, bounded histogram within half a bin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.trading.latency import (
    PERCENTILES,
    STAGES,
    LatencyRecorder,
    StageStats,
    merge_recorders,
)

HALF_BIN = 10 ** (1 / 200) - 1  # worst relative error of the histogram


def lognormal(n, seed=1):
    return np.random.default_rng(seed).lognormal(mean=0.0, sigma=1.5, size=n)


def test_exact_percentiles_equal_numpy_linear():
    samples = lognormal(1001)
    recorder = LatencyRecorder()
    for value in samples[:500]:
        recorder.add("risk", float(value))
    recorder.extend("risk", samples[500:])
    expected = np.percentile(samples, PERCENTILES, method="linear")
    assert recorder.percentiles("risk") == tuple(float(v) for v in expected)
    (stats,) = recorder.stats()
    assert stats == StageStats("risk", 1001, *map(float, expected), float(samples.max()), True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1e5, allow_nan=False), min_size=1, max_size=200),
       st.floats(0.0, 100.0))
def test_exact_percentiles_match_numpy_for_any_samples(values, q):
    recorder = LatencyRecorder()
    recorder.extend("ack", values)
    assert recorder.percentiles("ack", (q,)) == (float(np.percentile(values, q,
                                                                     method="linear")),)


def test_past_max_exact_a_stage_keeps_a_fixed_histogram_within_half_a_bin():
    samples = lognormal(50_000, seed=3)
    recorder = LatencyRecorder(max_exact=1_000)
    recorder.extend("order", samples[:1_000])
    assert recorder.is_exact("order")
    recorder.extend("order", samples[1_000:])
    assert not recorder.is_exact("order") and recorder.count("order") == 50_000
    stage = recorder._data["order"]
    assert stage.exact is None and stage.hist.shape == (902,)  # memory independent of n
    qs = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0)
    got = np.array(recorder.percentiles("order", qs))
    want = np.percentile(samples, qs, method="linear")
    assert np.all(np.abs(got / want - 1) <= HALF_BIN + 1e-12)
    assert got[0] == samples.min() and got[-1] == samples.max()
    assert recorder.stats()[0].exact is False


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-3, 1e6, allow_nan=False), min_size=2, max_size=300),
       st.floats(0.0, 100.0))
def test_histogram_percentiles_stay_within_half_a_bin(values, q):
    recorder = LatencyRecorder(max_exact=0)
    recorder.extend("signal", values)
    got = recorder.percentiles("signal", (q,))[0]
    want = float(np.percentile(values, q, method="linear"))
    assert abs(got - want) <= (HALF_BIN + 1e-12) * want


def test_merging_exact_recorders_equals_recording_everything_in_one():
    a, b = lognormal(300, seed=5), lognormal(200, seed=6)
    left, right = LatencyRecorder(), LatencyRecorder()
    left.extend("signal", a)
    right.extend("signal", b)
    right.extend("ack", [1.0, 2.0])
    merged = merge_recorders([left, right])
    assert merged.is_exact("signal") and merged.count("signal") == 500
    expected = np.percentile(np.concatenate([a, b]), PERCENTILES, method="linear")
    assert merged.percentiles("signal") == tuple(float(v) for v in expected)
    assert [s.stage for s in merged.stats()] == ["signal", "ack"]
    assert left.count("signal") == 300  # inputs untouched


def test_merging_past_max_exact_switches_to_the_histogram():
    a, b = lognormal(600, seed=7), lognormal(600, seed=8)
    left, right = LatencyRecorder(max_exact=1_000), LatencyRecorder(max_exact=100)
    left.extend("risk", a)
    right.extend("risk", b)  # right is already a histogram
    merged = left.merge(right)
    assert not merged.is_exact("risk") and merged.count("risk") == 1200
    want = np.percentile(np.concatenate([a, b]), PERCENTILES, method="linear")
    got = np.array(merged.percentiles("risk"))
    assert np.all(np.abs(got / want - 1) <= HALF_BIN + 1e-12)


def test_empty_stages_report_nan_and_are_left_out_of_stats():
    recorder = LatencyRecorder()
    assert all(math.isnan(v) for v in recorder.percentiles("signal"))
    assert recorder.stats() == ()
    assert STAGES == ("signal", "ahead", "risk", "order", "journal", "ack")


@pytest.mark.parametrize("stage, value, match", [
    ("fetch", 1.0, "unknown latency stage"),
    ("risk", -0.1, "finite and >= 0"),
    ("risk", math.nan, "finite and >= 0"),
    ("risk", math.inf, "finite and >= 0"),
])
def test_bad_samples_are_refused(stage, value, match):
    with pytest.raises(ValueError, match=match):
        LatencyRecorder().add(stage, value)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="max_exact"):
        LatencyRecorder(max_exact=-1)
    with pytest.raises(ValueError, match="distinct"):
        LatencyRecorder(stages=("a", "a"))
    with pytest.raises(ValueError, match="cannot merge"):
        LatencyRecorder().merge(LatencyRecorder(stages=("x",)))
    with pytest.raises(ValueError, match="at least one"):
        merge_recorders([])

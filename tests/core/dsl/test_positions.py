"""Signal -> target mappings: hand cases, quantisation and causality."""

from __future__ import annotations

import numpy as np
import pytest

from configs.alpha import MappingConfig
from core.dsl.positions import (
    cs_rank_targets,
    map_positions,
    sign_targets,
    threshold_targets,
    zscore_targets,
)

NAN = np.nan


def col(*values):
    return np.asfortranarray(np.array(values, dtype=float).reshape(-1, 1))


def test_sign_keeps_nan_as_no_instruction():
    out = sign_targets(col(NAN, 2.0, -0.5, 0.0))
    np.testing.assert_array_equal(out[:, 0], [NAN, 1.0, -1.0, 0.0])


def test_threshold_has_hysteresis_and_reverses_through_the_far_band():
    signal = col(NAN, 0.5, 1.5, 0.8, 0.1, -0.2, -1.2, -0.5, 0.2, 2.0)
    out = threshold_targets(signal, 1.0, 0.3)[:, 0]
    # enter long above 1.0, hold until below 0.3; short below -1.0, hold until above -0.3
    np.testing.assert_array_equal(out, [NAN, 0, 1, 1, 0, 0, -1, -1, 0, 1])


def test_zscore_targets_scale_clip_and_quantise():
    rng = np.random.default_rng(0)
    signal = np.asfortranarray(rng.normal(size=(500, 2)))
    out = zscore_targets(signal, 50, 2.0, 0.25)
    assert np.isnan(out[:49]).all() and not np.isnan(out[49:]).any()
    assert np.all(np.abs(out[49:]) <= 1.0)
    assert np.all(np.isclose(out[49:] / 0.25, np.round(out[49:] / 0.25)))
    window = signal[200 - 49 : 201, 0]
    z = (signal[200, 0] - window.mean()) / window.std(ddof=1)
    assert out[200, 0] == pytest.approx(np.floor(np.clip(z / 2.0, -1, 1) / 0.25 + 0.5) * 0.25)


def test_zscore_targets_are_causal():
    rng = np.random.default_rng(1)
    signal = np.asfortranarray(np.cumsum(rng.normal(size=(3000, 1)), axis=0))
    full = zscore_targets(signal, 100, 2.0, 0.0)
    for t in (150, 1024, 1025, 2049, 2999):
        prefix = zscore_targets(np.asfortranarray(signal[: t + 1]), 100, 2.0, 0.0)
        np.testing.assert_array_equal(prefix, full[: t + 1])


def test_cs_rank_weights_are_dollar_neutral_with_gross_one_and_capped():
    signal = np.asfortranarray(np.array([[1.0, 2.0, 3.0, 4.0], [4.0, NAN, 1.0, 1.0],
                                         [NAN, NAN, 5.0, NAN]]))
    out = cs_rank_targets(signal, 1.0, 0.0)
    np.testing.assert_allclose(out[0], [-0.375, -0.125, 0.125, 0.375])
    assert out[0].sum() == pytest.approx(0.0) and np.abs(out[0]).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(out[1], [0.5, NAN, -0.25, -0.25])  # ties share a rank
    assert np.isnan(out[2]).all()  # a single valid symbol cannot be ranked
    capped = cs_rank_targets(signal, 0.3, 0.0)
    assert np.nanmax(np.abs(capped)) == pytest.approx(0.3)


def test_mapping_config_selects_the_mapping():
    signal = col(-1.0, 2.0)
    np.testing.assert_array_equal(map_positions(signal, MappingConfig())[:, 0], [-1.0, 1.0])
    with pytest.raises(ValueError, match="exit"):
        MappingConfig(kind="threshold", entry=1.0, exit=2.0)

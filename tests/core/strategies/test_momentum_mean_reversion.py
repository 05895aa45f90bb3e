"""Momentum and mean reversion: hand-computed targets, warm-up, hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import BacktestError
from core.strategies import (
    MeanReversionParams,
    MomentumParams,
    compute_mean_reversion,
    compute_momentum,
    hysteresis_positions,
    mean_reversion_targets,
    momentum_targets,
)
from tests.core.strategies.helpers import make_candles, random_walk

NAN = np.nan


def test_momentum_cross_at_known_bar() -> None:
    close = [5.0, 4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # fast = close itself (window 1); slow SMA(3) from bar 2: 4, 3, 2, 5/3, 2, 3, 4, 5
    # close vs slow: 3<4, 2<3, 1<2, then 2 > 5/3 at bar 5 (the cross), 3>2, 4>3, 5>4, 6>5
    expected = [NAN, NAN, 0, 0, 0, 1, 1, 1, 1, 1]
    np.testing.assert_array_equal(momentum_targets(close, 1, 3), expected)
    short = [NAN, NAN, -1, -1, -1, 1, 1, 1, 1, 1]
    np.testing.assert_array_equal(momentum_targets(close, 1, 3, allow_short=True), short)


def test_momentum_ema_warm_up_and_tie() -> None:
    close = random_walk(300, seed=4)
    for ma in ("sma", "ema"):
        target = momentum_targets(close, 10, 30, ma=ma)
        assert np.isnan(target[:29]).all()
        assert set(np.unique(target[29:])) <= {0.0, 1.0}
    # equal averages (flat market) never open a short
    flat = momentum_targets(np.full(20, 7.0), 2, 5, allow_short=True)
    np.testing.assert_array_equal(flat[4:], np.zeros(16))


def test_momentum_compute_via_candles() -> None:
    close = random_walk(200, seed=6)
    params = MomentumParams(fast=5, slow=20, allow_short=True, ma="ema")
    (target,) = compute_momentum([make_candles(close)], params)
    np.testing.assert_array_equal(target, momentum_targets(close, 5, 20, True, "ema"))
    with pytest.raises(BacktestError):
        momentum_targets(close, 20, 20)


def test_hysteresis_state_machine() -> None:
    z = [NAN, NAN, 0.0, -2.5, -1.5, -0.4, 0.3, 2.5, 1.0, 0.2, -3.0, 3.0]
    # entry 2, exit 0.5: bar 3 z<-2 -> long; bar 4 -1.5 is not > -0.5 -> hold; bar 5 -0.4 > -0.5
    # -> flat; bar 7 2.5 > 2 -> short; bar 8 1.0 not < 0.5 -> hold; bar 9 0.2 < 0.5 -> flat;
    # bar 10 -3 -> long; bar 11 +3: exit the long, then enter short on the same bar (flip)
    expected = [NAN, NAN, 0, 1, 1, 0, 0, -1, -1, 0, 1, -1]
    np.testing.assert_array_equal(hysteresis_positions(z, 2.0, 0.5, True), expected)
    long_only = [NAN, NAN, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    np.testing.assert_array_equal(hysteresis_positions(z, 2.0, 0.5, False), long_only)


def test_hysteresis_undefined_z_keeps_state() -> None:
    np.testing.assert_array_equal(
        hysteresis_positions([-3.0, NAN, NAN, -0.1], 2.0, 0.5, False), [1, 1, 1, 0]
    )
    with pytest.raises(BacktestError):
        hysteresis_positions([0.0], 1.0, 1.0, False)


def test_mean_reversion_hand_case() -> None:
    close = [10.0, 10.0, 10.0, 10.0, 10.0, 7.0, 8.0, 9.5, 10.0, 12.0, 10.5, 10.0]
    # lookback 4. Bars 3-4 have constant windows: z undefined -> still warming up (NaN).
    # bar 5 [10,10,10,7]: z = -1.5 < -1 -> long
    # bar 6 [10,10,7,8]: mean 8.75, std 1.5, z = -0.5: not > -0 -> hold long
    # bar 7 [10,7,8,9.5]: z = 0.64 > 0 -> flat; bar 8 z = 0.9986 < 1 -> flat
    # bar 9 [8,9.5,10,12]: mean 9.875, ss 8.1875, std 1.652, z = 2.125/1.652 = 1.286 > 1 -> short
    # bar 10 [9.5,10,12,10.5]: z = 0 exactly, not < 0 -> hold short; bar 11 z = -0.66 -> flat
    expected = [NAN] * 5 + [1, 1, 0, 0, -1, -1, 0]
    target = mean_reversion_targets(close, 4, entry_z=1.0, exit_z=0.0, allow_short=True)
    np.testing.assert_array_equal(target, expected)


def test_mean_reversion_warm_up_and_values() -> None:
    close = random_walk(500, seed=8, vol=0.02)
    params = MeanReversionParams(lookback=30, entry_z=1.5, exit_z=0.2)
    (target,) = compute_mean_reversion([make_candles(close)], params)
    assert np.isnan(target[:29]).all()
    assert not np.isnan(target[29:]).any()
    assert set(np.unique(target[29:])) <= {0.0, 1.0}
    assert (target[29:] == 1.0).any()  # it does trade on a volatile walk

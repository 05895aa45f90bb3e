"""Strict causality: targets computed on data truncated at t equal the full run's up to t."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.strategies import STRATEGIES, get_strategy, parse_params
from tests.core.strategies.helpers import make_candles, random_walk

N_BARS = 600
PARAMS = {
    "momentum": ["fast=5,slow=40", "fast=3,slow=50,allow_short=true,ma=ema"],
    "mean_reversion": ["lookback=20,entry_z=1.5,exit_z=0.3,allow_short=true"],
    "pairs": ["lookback=60,entry_z=1.5,exit_z=0.2", "lookback=35,use_log=false"],
}


def _data(seed: int) -> list:
    rng = np.random.default_rng(seed)
    base = random_walk(N_BARS, seed=seed, vol=0.02)
    partner = base**1.5 * np.exp(rng.normal(0.0, 0.01, N_BARS))
    return [make_candles(base, "A/USDT"), make_candles(partner, "B/USDT")]


def test_every_strategy_is_covered() -> None:
    assert set(PARAMS) == set(STRATEGIES)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(PARAMS)),
    which=st.integers(0, 1),
    seed=st.integers(0, 10_000),
    t=st.integers(1, N_BARS),
)
def test_truncation_does_not_change_the_past(name: str, which: int, seed: int, t: int) -> None:
    spec = get_strategy(name)
    texts = PARAMS[name]
    params = parse_params(spec, texts[which % len(texts)])
    candles = _data(seed)[: spec.symbols]
    full = spec.compute(candles, params)
    truncated = spec.compute([c.take(slice(0, t)) for c in candles], params)
    assert len(full) == len(truncated) == spec.symbols
    for whole, part in zip(full, truncated, strict=True):
        assert len(part) == t
        np.testing.assert_array_equal(part, whole[:t])


def test_future_shock_does_not_move_earlier_targets() -> None:
    for name, texts in PARAMS.items():
        spec = get_strategy(name)
        params = parse_params(spec, texts[0])
        candles = _data(7)[: spec.symbols]
        base = spec.compute(candles, params)
        shocked = []
        for c in candles:
            close = np.array(c.close)
            close[400:] *= 3.0
            shocked.append(make_candles(close, c.meta.symbol))
        moved = spec.compute(shocked, params)
        for before, after in zip(base, moved, strict=True):
            np.testing.assert_array_equal(before[:400], after[:400])

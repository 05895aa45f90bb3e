"""Streaming built-ins equal ``spec.compute`` on the whole history bit for bit, any split."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data.candles import Candles, SeriesMeta
from core.strategies import get_strategy, parse_params
from tests.core.data.helpers import load_shared
from tests.core.dsl.test_stream import STEP_SIZES, same_bits, splits

BARS = 1_500


@pytest.fixture(scope="module")
def closes(shared_data: Path) -> dict[str, np.ndarray]:
    """Real BTC and ETH 1h closes on common bars, and a synthetic pair with NaN holes."""
    btc, eth = (load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH"))
    common = np.intersect1d(btc.timestamp, eth.timestamp)[:BARS]
    real = np.column_stack([c.close[np.searchsorted(c.timestamp, common)] for c in (btc, eth)])
    rng = np.random.default_rng(7)
    base = 1e4 * np.exp(np.cumsum(rng.normal(0.0, 0.01, BARS)))
    fake = np.column_stack((base * (1 + rng.normal(0.0, 0.002, BARS)), base * 0.5 + 40.0))
    fake[400:410, 0] = np.nan
    fake[900, 1] = np.inf
    fake[1000:1100, :] = fake[1000, :]  # flat: zero variance windows
    return {"real": real, "synthetic": fake}


def candles(close: np.ndarray) -> list[Candles]:
    ts = np.arange(close.shape[0], dtype=np.int64) * 3_600_000
    return [Candles(ts, c, c, c, c, np.ones_like(c), SeriesMeta("X", f"S{j}/USDT", "1h"))
            for j, c in enumerate(close.T)]


PARAMS = {
    "momentum": st.fixed_dictionaries({
        "fast": st.integers(1, 30), "slow": st.integers(31, 200),
        "allow_short": st.booleans(), "ma": st.sampled_from(["sma", "ema"])}),
    "mean_reversion": st.fixed_dictionaries({
        "lookback": st.integers(2, 120), "entry_z": st.sampled_from([1.0, 1.5, 2.0]),
        "exit_z": st.sampled_from([0.0, 0.3, 0.5]), "allow_short": st.booleans()}),
    "pairs": st.fixed_dictionaries({
        "lookback": st.integers(3, 150), "entry_z": st.sampled_from([1.0, 2.0]),
        "exit_z": st.sampled_from([0.0, 0.5]), "use_log": st.booleans()}),
}


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("source", ["real", "synthetic"])
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1, max_size=8),
       resume_at=st.integers(-1, 6))
def test_every_builtin_streams_its_batch_targets(closes, name, source, data, sizes, resume_at):
    spec = get_strategy(name)
    params = parse_params(spec, data.draw(PARAMS[name]))
    close = closes[source][:, : spec.symbols]
    if name == "pairs" and params.use_log and source == "synthetic":
        close = np.where(np.isfinite(close), close, 1.0)  # the batch refuses log of inf
    expected = np.column_stack(spec.compute(candles(close), params))
    stream = spec.stream(params, None)
    parts = []
    for index, (a, b) in enumerate(splits(len(close), sizes)):
        if index == resume_at:
            stream = spec.stream(params, pickle.loads(pickle.dumps(stream.to_state())))
        parts.append(stream.step(close[a:b]))
    assert same_bits(np.concatenate(parts), expected)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_one_bar_steps_and_bounded_state(closes, name):
    spec = get_strategy(name)
    params = parse_params(spec, {"momentum": {"fast": 5, "slow": 40},
                                 "mean_reversion": {"lookback": 30, "allow_short": True},
                                 "pairs": {"lookback": 40}}[name])
    close = closes["real"][:, : spec.symbols]
    expected = np.column_stack(spec.compute(candles(close), params))
    stream = spec.stream(params, None)
    got, size = [], {}
    for bar in range(len(close)):
        got.append(stream.step(close[bar: bar + 1]))
        if bar + 1 in (500, 1_500):
            size[bar + 1] = stream.to_state().nbytes
    assert same_bits(np.concatenate(got), expected)
    assert size[500] == size[1_500] < 5_000
    assert np.isfinite(expected).sum() > 1_000

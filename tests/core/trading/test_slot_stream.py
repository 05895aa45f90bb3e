"""StrategyRunner streams: any split of the bars gives the backtester's targets and signals,
and the runner's memory does not grow with the history."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.alpha import MappingConfig
from core.backtest.market import MarketArrays
from core.data import Candles
from core.dsl import random_tree, to_text
from core.dsl.alpha import alpha_targets
from core.dsl.data import AlphaData
from core.strategies import get_strategy, parse_params
from core.trading.slot import StrategyRunner
from tests.core.data.helpers import load_shared
from tests.core.dsl.test_stream import STEP_SIZES, same_bits
from tests.core.trading.test_slot import batch, changes, emitted, load_market

BARS = 1_000
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def market(shared_data: Path) -> list[Candles]:
    """BTC, ETH and SOL 1h on common timestamps (the first BARS of their overlap)."""
    return load_market(shared_data, BARS)


def run(runner: StrategyRunner, market: list[Candles], sizes: list[int], resume_at: int = -1
        ) -> tuple[StrategyRunner, list]:
    outputs, a, seq = [], 0, 0
    while a < BARS:
        if seq == resume_at:
            runner = StrategyRunner.from_state(pickle.loads(pickle.dumps(runner.to_state())))
        b = min(BARS, a + sizes[seq % len(sizes)])
        outputs.append(runner.on_batch(batch(market, seq, a, b)))
        a, seq = b, seq + 1
    return runner, outputs


@settings(max_examples=20, deadline=None, suppress_health_check=_SLOW)
@given(seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1, max_size=6),
       resume_at=st.integers(-1, 8),
       mapping=st.sampled_from([MappingConfig(kind="sign"),
                                MappingConfig(kind="threshold", entry=0.5, exit=0.1),
                                MappingConfig(kind="zscore", lookback=24),
                                MappingConfig(kind="cs_rank")]))
def test_random_alphas_equal_the_backtester_bar_for_bar(market, seed, sizes, resume_at,
                                                        mapping):
    tree = random_tree(np.random.default_rng(seed), max_depth=5, windows=(2, 3, 5, 10, 20, 50),
                       terminals=("open", "high", "low", "close", "volume", "returns", "vwap"))
    runner, outputs = run(StrategyRunner.alpha(to_text(tree), SYMBOLS, mapping), market, sizes,
                          resume_at)
    expected = alpha_targets(tree, AlphaData.from_market(MarketArrays.from_candles(market)),
                             mapping).values
    got = np.concatenate([o.targets for o in outputs])
    assert same_bits(got, expected)
    assert emitted(outputs) == changes(expected, SYMBOLS, market[0].timestamp)
    assert all(not o.errors for o in outputs)


PARAMS = {
    "momentum": st.fixed_dictionaries({
        "fast": st.integers(1, 20), "slow": st.integers(21, 120),
        "allow_short": st.booleans(), "ma": st.sampled_from(["sma", "ema"])}),
    "mean_reversion": st.fixed_dictionaries({
        "lookback": st.integers(2, 100), "entry_z": st.sampled_from([1.0, 2.0]),
        "exit_z": st.sampled_from([0.0, 0.5]), "allow_short": st.booleans()}),
    "pairs": st.fixed_dictionaries({"lookback": st.integers(3, 100),
                                    "use_log": st.booleans()}),
}


@pytest.mark.parametrize("name", sorted(PARAMS))
@settings(max_examples=10, deadline=None, suppress_health_check=_SLOW)
@given(data=st.data(), sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1, max_size=6),
       resume_at=st.integers(-1, 8))
def test_builtins_equal_spec_compute_bar_for_bar(market, name, data, sizes, resume_at):
    spec = get_strategy(name)
    params = data.draw(PARAMS[name])
    symbols = SYMBOLS[: spec.symbols] if name != "pairs" else ("SOL/USDT", "BTC/USDT")
    runner, outputs = run(StrategyRunner.builtin(name, params, symbols), market, sizes,
                          resume_at)
    columns = [market[SYMBOLS.index(s)] for s in symbols]
    expected = np.column_stack(spec.compute(columns, parse_params(spec, params)))
    got = np.concatenate([o.targets for o in outputs])
    assert same_bits(got, expected)
    assert emitted(outputs) == changes(expected, symbols, market[0].timestamp)


def test_runner_memory_does_not_grow_with_the_history(shared_data: Path):
    btc = load_shared(shared_data, "BINANCE_BTC-USDT_1h").take(slice(0, 10_000))
    runners = [StrategyRunner.builtin("momentum", "fast=20,slow=100"),
               StrategyRunner.alpha("(ts_zscore (delta close 12) 48)", ("BTC/USDT",),
                                    MappingConfig(kind="zscore", lookback=24))]
    sizes: dict[tuple[int, int], int] = {}
    for bar in range(10_000):
        one = batch([btc], bar, bar, bar + 1)
        for index, runner in enumerate(runners):
            runner.on_batch(one)
            if bar + 1 in (1_000, 10_000):
                sizes[index, bar + 1] = len(pickle.dumps(runner.to_state()))
    for index in range(len(runners)):
        assert sizes[index, 10_000] <= sizes[index, 1_000] * 1.05
        assert sizes[index, 10_000] < 50_000

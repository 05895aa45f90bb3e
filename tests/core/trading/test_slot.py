"""StrategyRunner: batch-fed targets equal the backtester's, failures are contained."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from configs.alpha import MappingConfig
from core.backtest.market import MarketArrays
from core.data import Candles
from core.dsl import parse
from core.dsl.alpha import alpha_targets
from core.dsl.data import AlphaData
from core.errors import BacktestError, DataValidationError
from core.strategies import get_strategy, parse_params
from core.strategies.momentum import MomentumParams, momentum_targets
from core.strategies.registry import StrategySpec
from core.strategies.stream import MomentumStream
from core.trading.messages import MarketBatch
from core.trading.slot import RETAINED_BATCHES, SlotOutput, StrategyRunner
from tests.core.data.helpers import load_shared

SIZES = (1, 2, 5, 50, 7, 300, 1, 999, 13)
BARS = 3_000


def load_market(shared_data: Path, bars: int) -> list[Candles]:
    """BTC, ETH and SOL 1h on common timestamps (the first ``bars`` of their overlap)."""
    series = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH", "SOL")]
    common = series[0].timestamp
    for candles in series[1:]:
        common = np.intersect1d(common, candles.timestamp)
    common = common[:bars]
    return [c.take(np.searchsorted(c.timestamp, common)) for c in series]


@pytest.fixture(scope="module")
def market(shared_data: Path) -> list[Candles]:
    """BTC, ETH and SOL 1h on common timestamps (the first BARS of their overlap)."""
    return load_market(shared_data, BARS)


def batch(candles: list[Candles], seq: int, a: int, b: int) -> MarketBatch:
    def matrix(name: str) -> np.ndarray:
        return np.column_stack([getattr(c, name)[a:b] for c in candles])

    return MarketBatch(seq, a, "BINANCE", tuple(c.meta.symbol for c in candles), 3_600_000,
                       candles[0].timestamp[a:b], *(matrix(n) for n in
                                                    ("open", "high", "low", "close", "volume")))


def feed(runner: StrategyRunner, candles: list[Candles], start: int = 0, stop: int = BARS,
         sizes: tuple[int, ...] = SIZES) -> list[SlotOutput]:
    outputs, a, seq = [], start, 0
    while a < stop:
        b = min(stop, a + sizes[seq % len(sizes)])
        outputs.append(runner.on_batch(batch(candles, seq, a, b)))
        a, seq = b, seq + 1
    return outputs


def changes(targets: np.ndarray, symbols: tuple[str, ...], ts: np.ndarray
            ) -> list[tuple[int, str, float]]:
    """(bar ts, symbol, target) where the NaN-is-keep target in force changes (0 at first)."""
    found = []
    for j, symbol in enumerate(symbols):
        held = 0.0
        for i, value in enumerate(targets[:, j]):
            if value == value and value != held:
                held = float(value)
                found.append((int(ts[i]), symbol, held))
    return sorted(found, key=lambda x: (x[0], symbols.index(x[1])))


def emitted(outputs: list[SlotOutput]) -> list[tuple[int, str, float]]:
    return [(s.ts, s.symbol, s.target) for o in outputs for s in o.signals]


def test_builtin_targets_equal_spec_compute_on_the_whole_series(market):
    runner = StrategyRunner.builtin("momentum", "fast=10,slow=30,allow_short=true")
    outputs = feed(runner, market)  # the batches carry 3 symbols; momentum trades BTC
    spec = get_strategy("momentum")
    expected = spec.compute([market[0]], parse_params(spec, "fast=10,slow=30,allow_short=true"))
    got = np.concatenate([o.targets for o in outputs])
    np.testing.assert_array_equal(got[:, 0], expected[0])  # bit for bit, NaN warm-up included
    signals = emitted(outputs)
    assert signals == changes(got, ("BTC/USDT",), market[0].timestamp)
    assert len(signals) > 50 and all(not o.errors for o in outputs)
    assert runner.n_bars == BARS and runner.required_direction == "long_short"


def test_pairs_take_their_columns_by_name_whatever_the_batch_order(market):
    runner = StrategyRunner.builtin("pairs", {"lookback": 48}, symbols=("SOL/USDT", "ETH/USDT"))
    outputs = feed(runner, market, sizes=(400, 1, 77, 600))
    spec = get_strategy("pairs")
    expected = np.column_stack(spec.compute([market[2], market[1]],
                                            parse_params(spec, {"lookback": 48})))
    got = np.concatenate([o.targets for o in outputs])
    np.testing.assert_array_equal(got, expected)
    assert emitted(outputs) == changes(got, runner.symbols, market[0].timestamp)


def test_alpha_targets_equal_the_backtesters_alpha_targets(market):
    text = "(ts_zscore (delta close 12) 48)"
    mapping = MappingConfig(kind="threshold", entry=1.0, exit=0.2)
    symbols = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    runner = StrategyRunner.alpha(text, symbols, mapping)
    outputs = feed(runner, market, stop=1_500)
    data = AlphaData.from_market(MarketArrays.from_candles([c.take(slice(0, 1_500))
                                                            for c in market]))
    expected = alpha_targets(parse(text), data, mapping).values
    got = np.concatenate([o.targets for o in outputs])
    np.testing.assert_array_equal(got, expected)
    assert emitted(outputs) == changes(got, symbols, market[0].timestamp)
    assert runner.required_direction is None and runner.strategy_id.startswith("alpha-")


def test_diary_has_one_entry_per_signal_with_its_features(market):
    runner = StrategyRunner.alpha("(sign (delta close 3))", ("BTC/USDT",))
    out = runner.on_batch(batch(market, 0, 0, 200))
    assert len(out.diary) == len(out.signals) > 10
    for signal, entry in zip(out.signals, out.diary, strict=True):
        features = dict(entry.features)
        bar = int(np.searchsorted(market[0].timestamp, signal.ts))
        assert (entry.ts, entry.symbol, entry.strategy_id) == (signal.ts, signal.symbol,
                                                               runner.strategy_id)
        assert entry.strategy_hash == runner.strategy_hash
        assert features["close"] == market[0].close[bar]
        assert features["target"] == signal.target
        assert np.sign(features["signal"]) == signal.target
        assert entry.decision == f"target {features['previous_target']:g} -> {signal.target:g}"


def test_strategy_id_is_stable_and_tracks_the_definition():
    a = StrategyRunner.builtin("momentum", "fast=10,slow=30")
    b = StrategyRunner.builtin("momentum", {"slow": "30", "fast": 10, "ma": "sma"})
    c = StrategyRunner.builtin("momentum", "fast=11,slow=30")
    assert a.strategy_id == b.strategy_id and a.strategy_id.startswith("momentum-")
    assert c.strategy_id != a.strategy_id
    x = StrategyRunner.alpha("(delta  close 5)", ("BTC/USDT",))
    y = StrategyRunner.alpha("(delta close 5)", ("BTC/USDT",))
    z = StrategyRunner.alpha("(delta close 5)", ("BTC/USDT",), MappingConfig(kind="zscore"))
    assert x.strategy_id == y.strategy_id != z.strategy_id
    with pytest.raises(BacktestError, match="takes 2 symbol"):
        StrategyRunner.builtin("pairs", "", symbols=("BTC/USDT",))


class FlakyStream(MomentumStream):
    """Streaming momentum that raises whenever the history would reach a length in ``fail``."""

    fail: frozenset[int] = frozenset()

    def step(self, close: np.ndarray) -> np.ndarray:
        length = self.bars + len(close)
        if length in self.fail:
            raise RuntimeError(f"boom at {length} bars")
        return super().step(close)


def flaky_spec(fail_when: set[int], streaming: bool) -> StrategySpec:
    """Momentum that raises whenever the history length is in ``fail_when``.

    ``streaming``: with a streaming twin (constant memory), else the whole-history fallback.
    """
    def compute(candles, params):
        if len(candles[0]) in fail_when:
            raise RuntimeError(f"boom at {len(candles[0])} bars")
        return [momentum_targets(candles[0].close, params.fast, params.slow, params.allow_short)]

    def stream(params, state):
        made = FlakyStream(params, state)
        made.fail = frozenset(fail_when)
        return made

    return StrategySpec("flaky", MomentumParams, 1, "either", compute,
                        stream=stream if streaming else None)


def feed_effective(runner: StrategyRunner, sizes: tuple[int, ...], stop: int, market
                   ) -> tuple[list[SlotOutput], np.ndarray]:
    """Feed ``runner`` and collect the target in force at every bar (from its recent bars)."""
    outputs, effective, a = [], [], 0
    for seq, size in enumerate(sizes):
        outputs.append(runner.on_batch(batch(market, seq, a, min(stop, a + size))))
        effective.append(runner.recent_effective[-size:])
        a += size
    return outputs, np.concatenate(effective)


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole-history"])
def test_a_strategy_exception_is_contained_and_the_runner_recovers(market, streaming):
    params = "fast=5,slow=20,allow_short=true"
    runner = StrategyRunner.builtin("flaky", params, spec=flaky_spec({300}, streaming))
    reference = StrategyRunner.builtin("flaky", params, spec=flaky_spec(set(), streaming))
    sizes = (100, 100, 100, 100, 100)
    outputs, effective = feed_effective(runner, sizes, 500, market)
    clean, expected_effective = feed_effective(reference, sizes, 500, market)
    failed = outputs[2]
    assert failed.signals == [] and failed.diary == []
    assert failed.errors == [f"{runner.strategy_id}: RuntimeError: boom at 300 bars"]
    assert np.isnan(failed.targets).all()
    assert all(not o.errors for i, o in enumerate(outputs) if i != 2)
    # the runner stays usable: the failed bars are computed late, the target in force catches up
    for i in (0, 1, 3, 4):
        np.testing.assert_array_equal(outputs[i].targets, clean[i].targets)
    held = expected_effective[199]
    np.testing.assert_array_equal(effective[200:300], np.tile(held, (100, 1)))
    np.testing.assert_array_equal(effective[300:], expected_effective[300:])
    late = [s for s in emitted(outputs) if s[0] >= market[0].timestamp[300]]
    expected = [s for s in emitted(clean) if s[0] > market[0].timestamp[300]]
    if expected_effective[300, 0] != held[0]:
        expected.insert(0, (int(market[0].timestamp[300]), "BTC/USDT",
                            float(expected_effective[300, 0])))
    assert late == expected
    retried = runner.on_batch(batch(market, 2, 200, 300))  # the failed batch, retried
    assert retried.errors == failed.errors and retried.signals == []


def test_a_failing_stream_does_not_skip_bars(market):
    """The bars of failed batches are computed with the next one: later targets stay exact."""
    params = "fast=5,slow=20,allow_short=true"
    runner = StrategyRunner.builtin("flaky", params, spec=flaky_spec({130, 131, 141}, True))
    outputs = feed(runner, market, 0, 400, (10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
                                              10, 1, 1, 9, 50, 200))
    assert sum(bool(o.errors) for o in outputs) == 3
    spec = get_strategy("momentum")
    expected = spec.compute([market[0].take(slice(0, 400))], parse_params(spec, params))[0]
    got = np.concatenate([o.targets for o in outputs])[:, 0]
    ok = ~np.isnan(got)
    np.testing.assert_array_equal(got[ok], expected[ok])
    np.testing.assert_array_equal(got[141:], expected[141:])
    np.testing.assert_array_equal(runner.recent_targets[-200:, 0], expected[-200:])


def test_an_alpha_reading_a_missing_series_is_contained(market):
    runner = StrategyRunner.alpha("(delta funding 1)", ("BTC/USDT",))
    for out in feed(runner, market, 0, 30, (10,)):
        assert out.signals == [] and "funding" in out.errors[0] and "DSLError" in out.errors[0]
    assert runner.n_bars == 30


def test_a_non_causal_strategy_is_refused(market):
    def peeking(candles, params):
        close = candles[0].close
        return [np.where(close < close[-1], 1.0, 0.0)]  # compares with the last bar: look-ahead

    spec = StrategySpec("peek", MomentumParams, 1, "either", peeking)
    runner = StrategyRunner.builtin("peek", "", spec=spec)
    outputs = feed(runner, market, 0, 400, (100,))
    assert any("not causal" in e for o in outputs for e in o.errors)


def test_a_retried_batch_gets_the_same_output_and_a_different_one_is_refused(market):
    runner = StrategyRunner.builtin("momentum", "fast=5,slow=20")
    runner.on_batch(batch(market, 0, 0, 100))
    first = runner.on_batch(batch(market, 1, 100, 200))
    again = runner.on_batch(batch(market, 1, 100, 200))
    assert again.signals == first.signals and again.diary == first.diary
    np.testing.assert_array_equal(again.targets, first.targets)
    assert runner.n_bars == 200
    changed = batch(market, 1, 100, 200)
    object.__setattr__(changed, "close", changed.close * 1.01)
    with pytest.raises(DataValidationError, match="time went backwards"):
        runner.on_batch(changed)
    with pytest.raises(DataValidationError, match="time went backwards"):
        runner.on_batch(batch(market, 2, 150, 250))
    part = runner.on_batch(batch(market, 1, 120, 180))  # a retried part of a recent batch
    assert part.signals == [s for s in first.signals if s.ts in market[0].timestamp[120:180]]
    for seq in range(2, 2 + RETAINED_BATCHES):  # the first batches drop out of the replay window
        runner.on_batch(batch(market, seq, 100 * seq, 100 * seq + 100))
    with pytest.raises(DataValidationError, match="time went backwards"):
        runner.on_batch(batch(market, 1, 100, 200))


def test_state_round_trip_resumes_identically(market):
    whole = StrategyRunner.alpha("(ts_zscore (delta close 12) 48)", ("BTC/USDT", "ETH/USDT"),
                                 MappingConfig(kind="zscore", lookback=24))
    expected = feed(whole, market, 0, 1_200, (97,))
    runner = StrategyRunner.alpha("(ts_zscore (delta close 12) 48)", ("BTC/USDT", "ETH/USDT"),
                                  MappingConfig(kind="zscore", lookback=24))
    first = feed(runner, market, 0, 582, (97,))
    restored = StrategyRunner.from_state(pickle.loads(pickle.dumps(runner.to_state())))
    assert restored.strategy_id == runner.strategy_id and restored.n_bars == 582
    second = feed(restored, market, 582, 1_200, (97,))
    assert emitted(first + second) == emitted(expected)
    np.testing.assert_array_equal(np.concatenate([o.targets for o in first + second]),
                                  np.concatenate([o.targets for o in expected]))
    np.testing.assert_array_equal(restored.recent_targets, whole.recent_targets)
    np.testing.assert_array_equal(restored.target_in_force, whole.target_in_force)


def test_corrupt_or_foreign_batches_fail_fast(market):
    runner = StrategyRunner.builtin("momentum", "", symbols=("DOGE/USDT",))
    with pytest.raises(DataValidationError, match="lacks symbol"):
        runner.on_batch(batch(market, 0, 0, 10))
    runner = StrategyRunner.builtin("momentum", "")
    bad = batch(market, 0, 0, 10)
    close = bad.close.copy()
    close[4, 0] = np.nan
    object.__setattr__(bad, "close", close)
    with pytest.raises(DataValidationError, match="close is not finite") as info:
        runner.on_batch(bad)
    assert info.value.row == 4
    assert runner.n_bars == 0

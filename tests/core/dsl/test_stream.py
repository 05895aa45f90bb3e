"""Streaming evaluation equals the batch evaluation bit for bit, for any split into steps."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.alpha import MappingConfig
from core.backtest import MarketArrays
from core.dsl import parse, random_tree
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.positions import map_positions
from core.dsl.stream import StreamEvaluator
from core.dsl.stream_alpha import AlphaStream
from core.errors import DSLError
from tests.core.data.helpers import load_shared

WINDOWS = (2, 3, 5, 10, 20, 50)
STEP_SIZES = (1, 1, 1, 2, 3, 17, 64, 250)
OHLCV = ("open", "high", "low", "close", "volume")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes, NaN at the same places, every other value with the same bits (-0.0 too)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    return np.array_equal(np.where(np.isnan(a), 0.0, a).view(np.int64),
                          np.where(np.isnan(b), 0.0, b).view(np.int64))


def synthetic(bars: int = 600, symbols: int = 3, seed: int = 5) -> dict[str, np.ndarray]:
    """Terminals with NaN holes, flat runs, a high price level and an infinite value."""
    rng = np.random.default_rng(seed)
    close = 1e5 * np.exp(np.cumsum(rng.normal(0.0, 0.002, (bars, symbols)), axis=0))
    close[100:140, 0] = close[100, 0]  # a flat run: exact zero deviations
    close[rng.random((bars, symbols)) < 0.01] = np.nan
    close[300:305, 1] = np.nan
    high, low = close * 1.001, close * 0.999
    volume = rng.exponential(10.0, (bars, symbols))
    volume[200, symbols - 1] = np.inf
    returns = np.full_like(close, np.nan)
    returns[1:] = close[1:] / close[:-1] - 1.0
    series = {"open": close * 1.0002, "high": high, "low": low, "close": close,
              "volume": volume, "returns": returns, "vwap": (high + low + close) / 3.0}
    return {name: np.asfortranarray(values) for name, values in series.items()}


SYNTHETIC = synthetic()


@pytest.fixture(scope="module")
def real(shared_data: Path) -> AlphaData:
    """BTC, ETH and SOL 1h, the first 800 common bars."""
    series = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH", "SOL")]
    common = series[0].timestamp
    for candles in series[1:]:
        common = np.intersect1d(common, candles.timestamp)
    common = common[:800]
    return AlphaData.from_market(MarketArrays.from_candles(
        [c.take(np.searchsorted(c.timestamp, common)) for c in series]))


def splits(n: int, sizes: list[int]) -> list[tuple[int, int]]:
    out, a, i = [], 0, 0
    while a < n:
        b = min(n, a + sizes[i % len(sizes)])
        out.append((a, b))
        a, i = b, i + 1
    return out


def stream_values(trees: list, series: dict[str, np.ndarray], sizes: list[int],
                  resume_at: int = -1) -> list[np.ndarray]:
    """Stream ``trees`` over ``series`` cut by ``sizes``, optionally resuming from a pickle."""
    n, k = next(iter(series.values())).shape
    evaluator = StreamEvaluator(trees, k)
    parts: list[list[np.ndarray]] = []
    for index, (a, b) in enumerate(splits(n, sizes)):
        if index == resume_at:
            state = pickle.loads(pickle.dumps(evaluator.to_state()))
            evaluator = StreamEvaluator(trees, k, state)
        parts.append(evaluator.step({name: v[a:b] for name, v in series.items()}))
    return [np.concatenate([p[i] for p in parts]) for i in range(len(trees))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1,
                                                      max_size=8),
       resume_at=st.integers(-1, 6))
def test_random_trees_stream_equal_the_batch_on_synthetic_data_with_nan(seed, sizes, resume_at):
    rng = np.random.default_rng(seed)
    trees = [random_tree(rng, max_depth=5, windows=WINDOWS) for _ in range(3)]
    data = AlphaData(np.arange(600), ("a", "b", "c"), SYNTHETIC)
    expected = evaluate(trees, data)
    for got, want in zip(stream_values(trees, SYNTHETIC, sizes, resume_at), expected,
                         strict=True):
        assert same_bits(got, want)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1,
                                                      max_size=8))
def test_random_trees_stream_equal_the_batch_on_real_data(real, seed, sizes):
    rng = np.random.default_rng(seed)
    trees = [random_tree(rng, max_depth=6, windows=(*WINDOWS, 100, 200)) for _ in range(2)]
    series = {name: np.asarray(real.get(name)) for name in real.series}
    for got, want in zip(stream_values(trees, series, sizes), evaluate(trees, real),
                         strict=True):
        assert same_bits(got, want)


@pytest.mark.parametrize("text", [
    "(ts_zscore (ts_corr close volume 20) 50)",
    "(decay_linear (ema (ts_std returns 10) 5) 20)",
    "(ts_rank (ts_argmax (delta vwap 3) 10) 20)",
    "(cs_rank (ts_cov (ts_sum returns 5) (ts_min low 7) 30))",
])
def test_one_bar_steps_equal_the_batch(text):
    node = parse(text)
    data = AlphaData(np.arange(600), ("a", "b", "c"), SYNTHETIC)
    (want,) = evaluate([node], data)
    (got,) = stream_values([node], SYNTHETIC, [1])
    assert same_bits(got, want) and np.isfinite(want).sum() > 100


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.sampled_from(STEP_SIZES), min_size=1,
                                                      max_size=8),
       mapping=st.sampled_from([
           MappingConfig(kind="sign"),
           MappingConfig(kind="threshold", entry=0.5, exit=0.1),
           MappingConfig(kind="zscore", lookback=24, step=0.25),
           MappingConfig(kind="zscore", lookback=2, step=0.0),
           MappingConfig(kind="cs_rank", max_weight=0.4)]))
def test_alpha_stream_signal_and_targets_equal_the_batch(real, seed, sizes, mapping):
    rng = np.random.default_rng(seed)
    tree = random_tree(rng, max_depth=5, windows=WINDOWS)
    (signal,) = evaluate([tree], real)
    targets = map_positions(signal, mapping)
    stream = AlphaStream(tree, mapping, real.n_symbols)
    columns = [np.asarray(real.get(name)) for name in OHLCV]
    parts = [stream.step(*(c[a:b] for c in columns)) for a, b in splits(real.n_bars, sizes)]
    assert same_bits(np.concatenate([p[0] for p in parts]), signal)
    assert same_bits(np.concatenate([p[1] for p in parts]), targets)


def test_a_missing_terminal_raises_and_leaves_the_stream_unchanged(real):
    stream = AlphaStream(parse("(add (delta funding 1) close)"), MappingConfig(), 3)
    columns = [np.asarray(real.get(name))[:5] for name in OHLCV]
    with pytest.raises(DSLError, match="funding"):
        stream.step(*columns)
    assert stream.bars == 0


def test_state_is_bounded_by_the_windows_not_the_history():
    node = parse("(ts_zscore (ts_corr close (ema volume 30) 50) 100)")
    rng = np.random.default_rng(0)
    evaluator = StreamEvaluator([node], 2)
    sizes = {}
    for bar in range(1, 3_001):
        evaluator.step({"close": rng.random((1, 2)) + 1.0, "volume": rng.random((1, 2))})
        if bar in (1_000, 3_000):
            sizes[bar] = evaluator.to_state().nbytes
    assert sizes[1_000] == sizes[3_000] < 20_000


def test_long_windows_equal_the_batch():
    """Windows beyond the direct ts_rank and scanned-extreme paths, long moment windows."""
    series = {name: np.asfortranarray(np.where(np.isnan(v), 1e5, v))
              for name, v in synthetic(bars=2_500, symbols=2, seed=9).items()}
    nodes = [parse("(ts_rank (ts_max close 900) 800)"), parse("(ts_zscore vwap 1000)"),
             parse("(ts_corr (decay_linear close 1200) (ema high 700) 1000)")]
    data = AlphaData(np.arange(2_500), ("a", "b"), series)
    for got, want in zip(stream_values(nodes, series, [1, 7, 64, 333]), evaluate(nodes, data),
                         strict=True):
        assert same_bits(got, want) and np.isfinite(want).sum() > 500

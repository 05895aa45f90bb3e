from __future__ import annotations

import time

import numpy as np
import pytest

from core.data import (
    Candles,
    Regime,
    SyntheticParams,
    find_gaps,
    generate_synthetic,
    generate_synthetic_with_regimes,
    periods_per_year,
    timeframe_to_ms,
    validate_candles,
)
from core.errors import ConfigError, DataError

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def market() -> tuple[Candles, np.ndarray]:
    return generate_synthetic_with_regimes(bars=50_000, seed=1)


def log_returns(candles: Candles) -> np.ndarray:
    return np.diff(np.log(candles.close))


def excess_kurtosis(values: np.ndarray) -> float:
    centred = values - values.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0)


def test_same_seed_is_bit_identical() -> None:
    first = generate_synthetic(bars=5_000, seed=7)
    second = generate_synthetic(bars=5_000, seed=7)
    for column in COLUMNS:
        assert getattr(first, column).tobytes() == getattr(second, column).tobytes(), column
    assert first.meta == second.meta


def test_different_seeds_differ() -> None:
    first = generate_synthetic(bars=1_000, seed=7)
    second = generate_synthetic(bars=1_000, seed=8)
    assert not np.array_equal(first.close, second.close)
    assert not np.array_equal(first.volume, second.volume)


def test_labelled_as_synthetic() -> None:
    candles = generate_synthetic(symbol="ETH/USDT", timeframe="4h", bars=10, seed=7)
    meta = candles.meta
    assert meta.synthetic is True
    assert meta.venue == "SYNTHETIC"
    assert (meta.symbol, meta.timeframe) == ("ETH/USDT", "4h")
    assert meta.source == "synthetic(seed=7, model=garch-t-regime v1)"
    assert meta.provenance()["synthetic"] is True
    custom = generate_synthetic(bars=10, seed=7, params=SyntheticParams(annual_vol=0.3))
    assert custom.meta.source.startswith("synthetic(seed=7, model=garch-t-regime v1, params=")
    assert not np.array_equal(custom.close, generate_synthetic(bars=10, seed=7).close)


@pytest.mark.parametrize("timeframe", ["1m", "5m", "1h", "1d"])
def test_output_passes_validation_on_the_grid(timeframe: str) -> None:
    candles = generate_synthetic(timeframe=timeframe, bars=20_000, seed=3, start_price=50.0)
    validate_candles(candles)
    assert len(candles) == 20_000
    assert candles.timestamp[0] == 1_577_836_800_000
    assert find_gaps(candles).gap_count == 0
    assert candles.open[0] == 50.0
    np.testing.assert_array_equal(candles.open[1:], candles.close[:-1])
    assert np.all(candles.high > np.maximum(candles.open, candles.close))
    assert np.all(candles.low < np.minimum(candles.open, candles.close))
    assert np.all(candles.volume > 0)


def test_volatility_is_scaled_to_the_timeframe() -> None:
    for timeframe in ("5m", "1h", "1d"):
        candles = generate_synthetic(timeframe=timeframe, bars=40_000, seed=5)
        per_year = periods_per_year(timeframe_to_ms(timeframe))
        annual = float(np.std(log_returns(candles)) * np.sqrt(per_year))
        assert 0.4 < annual < 0.8, (timeframe, annual)


def test_fat_tails(market: tuple[Candles, np.ndarray]) -> None:
    assert excess_kurtosis(log_returns(market[0])) > 1.0


def test_volatility_clusters(market: tuple[Candles, np.ndarray]) -> None:
    magnitude = np.abs(log_returns(market[0]))
    assert np.corrcoef(magnitude[1:], magnitude[:-1])[0, 1] > 0.05


def test_regimes_switch(market: tuple[Candles, np.ndarray]) -> None:
    candles, regimes = market
    assert regimes.shape == (len(candles),)
    assert not regimes.flags.writeable
    assert set(np.unique(regimes).tolist()) == {int(r) for r in Regime}
    switches = int(np.count_nonzero(np.diff(regimes)))
    # Mean regime length is 30 days = 720 bars: ~70 switches in 50k bars, and sticky.
    assert 30 < switches < 150
    bull = regimes == Regime.BULL
    bear = regimes == Regime.BEAR
    step = np.log(candles.close / candles.open)
    assert step[bull].mean() > step[bear].mean()
    assert step[bear].std() > step[bull].std()


def test_volume_rises_with_absolute_return(market: tuple[Candles, np.ndarray]) -> None:
    candles = market[0]
    magnitude = np.abs(np.log(candles.close / candles.open))
    assert np.corrcoef(magnitude, candles.volume)[0, 1] > 0.1


def test_hundred_thousand_bars_are_fast() -> None:
    generate_synthetic(bars=10, seed=0)  # JIT warm-up (cached on disk afterwards)
    started = time.perf_counter()
    candles = generate_synthetic(bars=100_000, seed=0)
    assert time.perf_counter() - started < 0.5
    assert len(candles) == 100_000


def test_zero_bars_give_empty_candles() -> None:
    candles, regimes = generate_synthetic_with_regimes(bars=0, seed=1)
    assert len(candles) == 0 and len(regimes) == 0
    validate_candles(candles)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bars": -1, "seed": 1},
        {"bars": 5, "seed": -1},
        {"bars": 5, "seed": 1, "start_price": 0.0},
        {"bars": 5, "seed": 1, "start_ms": 1_577_836_800_001},
        {"bars": 5, "seed": 1, "timeframe": "7h"},
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, int | float | str]) -> None:
    with pytest.raises(DataError):
        generate_synthetic(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"annual_vol": 0.0},
        {"garch_alpha": 0.2, "garch_beta": 0.8},
        {"t_df": 2.0},
        {"regime_vol": (1.0, 1.0)},
        {"regime_vol": (1.0, 0.0, 1.0)},
        {"regime_days": 0.0},
        {"volume_per_day": 0.0},
    ],
)
def test_invalid_params_are_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="invalid SyntheticParams"):
        SyntheticParams(**changes)  # type: ignore[arg-type]

"""Seeded synthetic market: GARCH(1,1) volatility, Student-t shocks and Markov regimes.

The offline default when no stored data exists. Output is a pure function of
``(symbol, timeframe, bars, seed, start_ms, start_price, params)``: the same inputs give
bit-identical candles. Every series is labelled ``synthetic=True`` and ``venue="SYNTHETIC"``.

Model, per bar ``t`` with regime ``k_t`` (bull / bear / sideways):

* ``k_t`` follows a sticky Markov chain: stay with probability ``1 - 1/d`` where ``d`` is the
  mean regime duration in bars, otherwise jump to one of the other regimes uniformly.
* ``h_t = omega + alpha * e_{t-1}^2 + beta * h_{t-1}``, ``e_t = sqrt(h_t) * z_t`` with ``z_t``
  Student-t(df) scaled to unit variance; ``omega`` targets the long-run per-bar variance.
* log return ``r_t = drift_k / bars_per_year + vol_k * e_t``; close ``= start * exp(cumsum r)``.
* open = previous close; high/low extend beyond max/min(open, close) by exponential amounts
  scaled to the bar's volatility; volume is lognormal and rises with ``|r_t|``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from core.data.candles import Candles, SeriesMeta
from core.data.timeframes import DAY_MS, periods_per_year, timeframe_to_ms
from core.errors import ConfigError, DataError

MODEL = "garch-t-regime v1"


class Regime(IntEnum):
    """Market regimes of the synthetic generator (values used in the regime path)."""

    BULL = 0
    BEAR = 1
    SIDEWAYS = 2


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    """Parameters of the synthetic market, in timeframe-independent units.

    Annualised quantities use a 365-day year and are scaled to the bar length at generation.

    Attributes:
        annual_vol: Long-run annualised volatility of log returns targeted by the GARCH.
        garch_alpha: GARCH(1,1) reaction to the last squared shock (per bar).
        garch_beta: GARCH(1,1) persistence of the conditional variance (per bar).
        t_df: Degrees of freedom of the Student-t innovations (> 2; ~4 gives fat tails).
        regime_drift: Annualised log drift per regime, ordered as :class:`Regime`.
        regime_vol: Volatility multiplier per regime (mean square about 1).
        regime_days: Mean regime duration in days (sets how sticky the chain is).
        wick_scale: Mean wick length beyond the body, as a fraction of the bar's volatility.
        volume_per_day: Median traded volume per day in the base asset.
        volume_sigma: Standard deviation of the log-volume noise.
        volume_beta: Log-volume increase per unit of ``|return| / long-run bar vol``.
    """

    annual_vol: float = 0.60
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    t_df: float = 4.0
    regime_drift: tuple[float, float, float] = (0.80, -0.80, 0.0)
    regime_vol: tuple[float, float, float] = (0.85, 1.25, 0.80)
    regime_days: float = 30.0
    wick_scale: float = 0.5
    volume_per_day: float = 24_000.0
    volume_sigma: float = 0.4
    volume_beta: float = 0.3

    def __post_init__(self) -> None:
        problems = []
        if not self.annual_vol > 0:
            problems.append("annual_vol must be > 0")
        if not (self.garch_alpha >= 0 and self.garch_beta >= 0):
            problems.append("garch_alpha and garch_beta must be >= 0")
        if not self.garch_alpha + self.garch_beta < 1:
            problems.append("garch_alpha + garch_beta must be < 1 (stationary variance)")
        if not self.t_df > 2:
            problems.append("t_df must be > 2 (finite variance)")
        if len(self.regime_drift) != len(Regime) or len(self.regime_vol) != len(Regime):
            problems.append(f"regime_drift and regime_vol need {len(Regime)} entries")
        elif not all(v > 0 for v in self.regime_vol):
            problems.append("regime_vol entries must be > 0")
        if not self.regime_days > 0:
            problems.append("regime_days must be > 0")
        if not (self.wick_scale >= 0 and self.volume_per_day > 0 and self.volume_sigma >= 0):
            problems.append("wick_scale, volume_sigma must be >= 0 and volume_per_day > 0")
        if problems:
            raise ConfigError("invalid SyntheticParams: " + "; ".join(problems))

    def fingerprint(self) -> str:
        """Short stable hash of the parameters, for provenance of non-default settings."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]


@njit(cache=True)
def _simulate(
    z: np.ndarray,
    u: np.ndarray,
    first_regime: int,
    stay: float,
    omega: float,
    alpha: float,
    beta: float,
    drift: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regime chain and GARCH recursion: (log returns, bar sigmas, regimes)."""
    n = z.shape[0]
    returns = np.empty(n)
    sigmas = np.empty(n)
    regimes = np.empty(n, dtype=np.int8)
    regime = first_regime
    h = omega / (1.0 - alpha - beta)
    shock = 0.0
    for t in range(n):
        if t > 0:
            h = omega + alpha * shock * shock + beta * h
            if u[t] >= stay:  # leave: pick one of the other two regimes uniformly
                regime = (regime + 1 + int((u[t] - stay) / (1.0 - stay) * 2.0) % 2) % 3
        sigma = np.sqrt(h)
        shock = sigma * z[t]
        returns[t] = drift[regime] + vol[regime] * shock
        sigmas[t] = vol[regime] * sigma
        regimes[t] = regime
    return returns, sigmas, regimes


def generate_synthetic_with_regimes(
    *,
    symbol: str = "BTC/USDT",
    timeframe: str = "1h",
    bars: int,
    seed: int,
    start_ms: int = 1_577_836_800_000,
    start_price: float = 10_000.0,
    params: SyntheticParams | None = None,
) -> tuple[Candles, np.ndarray]:
    """Generate a synthetic series together with its hidden regime path.

    Args:
        symbol: Symbol to label the series with.
        timeframe: Bar length, e.g. ``"1h"``; annualised parameters are scaled to it.
        bars: Number of bars (>= 0).
        seed: Seed of the ``PCG64`` generator (>= 0).
        start_ms: Open time of the first bar, aligned to the timeframe (default 2020-01-01).
        start_price: Open of the first bar (> 0).
        params: Model parameters; defaults to :class:`SyntheticParams()`.

    Returns:
        ``(candles, regimes)`` where ``regimes`` is a read-only int8 array of
        :class:`Regime` values, one per bar.

    Raises:
        DataError: On a negative bar count or seed, a non-positive start price, an unknown
            timeframe or a start time off the timeframe grid.
    """
    p = params if params is not None else SyntheticParams()
    step = timeframe_to_ms(timeframe)
    if bars < 0 or seed < 0 or not start_price > 0:
        raise DataError(
            f"need bars >= 0, seed >= 0 and start_price > 0; "
            f"got bars={bars}, seed={seed}, start_price={start_price}"
        )
    if start_ms % step != 0:
        raise DataError(f"start_ms {start_ms} is not aligned to the {timeframe} grid")

    per_year = periods_per_year(step)
    bar_var = p.annual_vol**2 / per_year
    regime_bars = max(p.regime_days * DAY_MS / step, 1.0)
    rng = np.random.Generator(np.random.PCG64(seed))
    z = rng.standard_t(p.t_df, bars) * np.sqrt((p.t_df - 2.0) / p.t_df)
    u = rng.random(bars)
    first_regime = int(rng.integers(len(Regime)))
    returns, sigmas, regimes = _simulate(
        z, u, first_regime, 1.0 - 1.0 / regime_bars,
        bar_var * (1.0 - p.garch_alpha - p.garch_beta), p.garch_alpha, p.garch_beta,
        np.asarray(p.regime_drift, dtype=np.float64) / per_year,
        np.asarray(p.regime_vol, dtype=np.float64),
    )

    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.empty(bars)
    open_[:1] = start_price
    open_[1:] = close[:-1]
    wick_up = rng.exponential(1.0, bars) * p.wick_scale * sigmas
    wick_down = rng.exponential(1.0, bars) * p.wick_scale * sigmas
    high = np.maximum(open_, close) * np.exp(wick_up)
    low = np.minimum(open_, close) * np.exp(-wick_down)
    log_volume = (
        np.log(p.volume_per_day * step / DAY_MS)
        + p.volume_beta * np.abs(returns) / np.sqrt(bar_var)
        + p.volume_sigma * rng.standard_normal(bars)
    )

    source = f"synthetic(seed={seed}, model={MODEL}"
    if p != SyntheticParams():
        source += f", params={p.fingerprint()}"
    meta = SeriesMeta(
        venue="SYNTHETIC", symbol=symbol, timeframe=timeframe, source=source + ")",
        synthetic=True,
    )
    candles = Candles(
        timestamp=start_ms + np.arange(bars, dtype=np.int64) * step,
        open=open_, high=high, low=low, close=close, volume=np.exp(log_volume), meta=meta,
    )
    regimes.setflags(write=False)
    return candles, regimes


def generate_synthetic(
    *,
    symbol: str = "BTC/USDT",
    timeframe: str = "1h",
    bars: int,
    seed: int,
    start_ms: int = 1_577_836_800_000,
    start_price: float = 10_000.0,
    params: SyntheticParams | None = None,
) -> Candles:
    """Generate a seeded synthetic candle series (see the module docstring for the model).

    Same arguments give bit-identical output; the result passes
    :func:`core.data.validation.validate_candles` and is labelled ``meta.synthetic=True``,
    ``meta.venue="SYNTHETIC"``, ``meta.source="synthetic(seed=<seed>, model=garch-t-regime v1)"``
    (plus a parameter fingerprint when ``params`` differ from the defaults).

    Args:
        symbol: Symbol to label the series with.
        timeframe: Bar length, e.g. ``"1h"``; annualised parameters are scaled to it.
        bars: Number of bars (>= 0).
        seed: Seed of the ``PCG64`` generator (>= 0).
        start_ms: Open time of the first bar, aligned to the timeframe (default 2020-01-01).
        start_price: Open of the first bar (> 0).
        params: Model parameters; defaults to :class:`SyntheticParams()`.

    Returns:
        The synthetic candles.

    Raises:
        DataError: On invalid arguments (see :func:`generate_synthetic_with_regimes`).
    """
    candles, _ = generate_synthetic_with_regimes(
        symbol=symbol, timeframe=timeframe, bars=bars, seed=seed, start_ms=start_ms,
        start_price=start_price, params=params,
    )
    return candles

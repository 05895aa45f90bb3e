"""Built-in strategies producing target positions: momentum, mean reversion, pairs.

Target convention (what the backtester consumes): one float64 array per symbol, one value per
bar, computed from data up to and including that bar's close (strictly causal). A value is the
desired signed position as a fraction of the sizing unit (+1 full long, -1 full short, 0 flat,
fractions allowed); NaN means "no instruction, keep what you have" and fills the warm-up. The
backtester executes a change of target at the next bar's open, so nothing here is shifted.

The names below are imported on first use (PEP 562): an actor that runs a built-in strategy
never loads what it does not need (the DSL's numba kernels, for one).
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "STRATEGIES": "core.strategies.registry",
    "BuiltinStream": "core.strategies.stream",
    "BuiltinStreamState": "core.strategies.stream",
    "MeanReversionStream": "core.strategies.stream",
    "MomentumStream": "core.strategies.stream",
    "PairsStream": "core.strategies.stream",
    "MeanReversionParams": "core.strategies.mean_reversion",
    "MomentumParams": "core.strategies.momentum",
    "PairsParams": "core.strategies.pairs",
    "StrategySpec": "core.strategies.registry",
    "HistoryEngine": "core.strategies.engines",
    "HistoryEngineState": "core.strategies.engines",
    "StreamEngine": "core.strategies.engines",
    "StreamEngineState": "core.strategies.engines",
    "alpha_engine": "core.strategies.engines",
    "builtin_engine": "core.strategies.engines",
    "compute_mean_reversion": "core.strategies.mean_reversion",
    "compute_momentum": "core.strategies.momentum",
    "compute_pairs": "core.strategies.pairs",
    "ema": "core.strategies.indicators",
    "get_strategy": "core.strategies.registry",
    "hysteresis_positions": "core.strategies.mean_reversion",
    "mean_reversion_targets": "core.strategies.mean_reversion",
    "momentum_targets": "core.strategies.momentum",
    "pairs_targets": "core.strategies.pairs",
    "parse_params": "core.strategies.registry",
    "rolling_mean": "core.strategies.indicators",
    "rolling_ols": "core.strategies.indicators",
    "rolling_residual_zscore": "core.strategies.indicators",
    "rolling_std": "core.strategies.indicators",
    "rolling_zscore": "core.strategies.indicators",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

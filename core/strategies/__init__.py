"""Built-in strategies producing target positions: momentum, mean reversion, pairs.

Target convention (what the backtester consumes): one float64 array per symbol, one value per
bar, computed from data up to and including that bar's close (strictly causal). A value is the
desired signed position as a fraction of the sizing unit (+1 full long, -1 full short, 0 flat,
fractions allowed); NaN means "no instruction, keep what you have" and fills the warm-up. The
backtester executes a change of target at the next bar's open, so nothing here is shifted.
"""

from core.strategies.engines import (
    HistoryEngine,
    HistoryEngineState,
    StreamEngine,
    StreamEngineState,
    alpha_engine,
    builtin_engine,
)
from core.strategies.indicators import (
    ema,
    rolling_mean,
    rolling_ols,
    rolling_residual_zscore,
    rolling_std,
    rolling_zscore,
)
from core.strategies.mean_reversion import (
    MeanReversionParams,
    compute_mean_reversion,
    hysteresis_positions,
    mean_reversion_targets,
)
from core.strategies.momentum import MomentumParams, compute_momentum, momentum_targets
from core.strategies.pairs import PairsParams, compute_pairs, pairs_targets
from core.strategies.registry import STRATEGIES, StrategySpec, get_strategy, parse_params
from core.strategies.stream import (
    BuiltinStream,
    BuiltinStreamState,
    MeanReversionStream,
    MomentumStream,
    PairsStream,
)

__all__ = [
    "STRATEGIES",
    "BuiltinStream",
    "BuiltinStreamState",
    "MeanReversionStream",
    "MomentumStream",
    "PairsStream",
    "MeanReversionParams",
    "MomentumParams",
    "PairsParams",
    "StrategySpec",
    "HistoryEngine",
    "HistoryEngineState",
    "StreamEngine",
    "StreamEngineState",
    "alpha_engine",
    "builtin_engine",
    "compute_mean_reversion",
    "compute_momentum",
    "compute_pairs",
    "ema",
    "get_strategy",
    "hysteresis_positions",
    "mean_reversion_targets",
    "momentum_targets",
    "pairs_targets",
    "parse_params",
    "rolling_mean",
    "rolling_ols",
    "rolling_residual_zscore",
    "rolling_std",
    "rolling_zscore",
]

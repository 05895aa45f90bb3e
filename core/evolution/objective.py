"""Score one genome: out-of-sample performance after costs by purged walk-forward CV.

:func:`score_genome` is pure and self-contained (plain arguments in, a plain record out) so a
Ray task can call it as is. It never raises: any failure becomes ``Evaluation(ok=False)``.

Pipeline: evaluate the expression on every bar (operators are causal, so a bar's signal only
sees the past) -> map it to target positions (``ObjectiveConfig.mapping``) -> one backtest
with costs over the whole market (next-open fills; **no risk caps** unless ``risk`` is passed)
-> per-bar portfolio returns (every symbol a sleeve of one account) -> walk-forward folds.

The expression has no fitted parameters, so the walk-forward "training" windows are not used
for fitting: the split (:func:`core.validation.walk_forward`, horizon 1 — a position decided
at bar ``i`` earns bar ``i + 1`` — and the configured embargo) decides which bars are scored
out of sample. The first of ``folds + 1`` blocks is never scored (it also absorbs the
signal's warm-up); each later block is one OOS fold.

Objective (``ObjectiveConfig.metric``):

* ``oos_sharpe`` — the mean over folds of the annualised Sharpe of the fold's per-bar
  returns; a fold with no variance (flat throughout) counts as 0.0.
* ``dsr`` — the deflated Sharpe ratio of the concatenated OOS returns given ``n_trials``
  (the number of distinct expressions tried so far) and ``var_trials_sr``, the variance of the
  trials' per-bar Sharpes; by default ``1 / (n_oos - 1)``, the sampling variance of the
  Sharpe of an unskilled strategy over the same track (the null the deflation tests).

Measures: see :mod:`core.evolution.descriptors`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from configs.backtest import BacktestConfig
from configs.evolution import ObjectiveConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays, Targets, run_backtest
from core.backtest.layout import S_FEES, T_ENTRY_BAR
from core.data.timeframes import periods_per_year
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.nodes import Node
from core.dsl.positions import map_positions
from core.dsl.typecheck import typecheck
from core.evolution.descriptors import (
    annual_turnover,
    average_holding_bars,
    buy_and_hold_correlation,
    column_returns,
    portfolio_returns,
)
from core.evolution.genome import Evaluation, failure
from core.metrics import sharpe_ratio
from core.validation import (
    ValidationError,
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    walk_forward,
)

__all__ = ["fold_scores", "oos_dsr", "score_genome"]


class _RejectedError(Exception):
    """The genome is well formed but does not qualify (no signal, too few trades)."""


def score_genome(node: Node, data: AlphaData, market: MarketArrays, config: ObjectiveConfig,
                 backtest: BacktestConfig, *, n_trials: int = 1, genome_id: int = -1,
                 risk: RiskLimits | None = None, var_trials_sr: float | None = None
                 ) -> Evaluation:
    """Score ``node`` out of sample after costs; never raises.

    Args:
        node: The expression (type-checked here).
        data: Its terminal series (``AlphaData.from_market(market)``).
        market: Prices for the backtest, bar for bar the same as ``data``.
        config: Metric, folds, embargo, minimum trades and signal mapping.
        backtest: Costs, sizing and direction.
        n_trials: Distinct expressions tried so far (only the ``dsr`` metric uses it).
        genome_id: Copied into the result.
        risk: Risk caps for the backtest; None = uncapped.
        var_trials_sr: Variance of the trials' per-bar Sharpes for the DSR (see module doc).

    Returns:
        The evaluation. ``ok=False`` (objective and measures NaN, ``error`` set) when the
        expression raises, has no finite signal, trades fewer than ``max(1, min_trades)``
        times, or its objective is not finite. Same inputs give bit-identical output.
    """
    try:
        return _score(node, data, market, config, backtest, n_trials, genome_id, risk,
                      var_trials_sr)
    except _RejectedError as exc:
        return failure(genome_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - a genome must never crash the search
        return failure(genome_id, f"{type(exc).__name__}: {exc}")


def _score(node: Node, data: AlphaData, market: MarketArrays, config: ObjectiveConfig,
           backtest: BacktestConfig, n_trials: int, genome_id: int,
           risk: RiskLimits | None, var_trials_sr: float | None) -> Evaluation:
    (signal,) = evaluate([typecheck(node)], data)
    if not np.isfinite(signal).any():
        raise _RejectedError("no finite signal")
    result = run_backtest(market, Targets(map_positions(signal, config.mapping)), backtest,
                          risk)
    n_trades = len(result.trades)
    minimum = max(1, config.min_trades)
    if n_trades < minimum:
        raise _RejectedError(f"{n_trades} trades, fewer than the minimum {minimum}")
    per_column = column_returns(result)
    returns = portfolio_returns(result)
    ppy = periods_per_year(market.timeframe_ms)
    folds = fold_scores(returns, result.trades[:, 1 + T_ENTRY_BAR], config, ppy)
    oos = np.concatenate([returns[int(f["start"]):int(f["stop"])] for f in folds])
    dsr = oos_dsr(oos, n_trials, var_trials_sr)
    moments = oos_moments(oos)
    sharpes = [f["sharpe"] for f in folds]
    holding = average_holding_bars(result)
    metrics = {
        "oos_sharpe": float(np.mean(sharpes)),
        "oos_sharpe_min": float(np.min(sharpes)),
        "oos_return": float(np.prod(1.0 + np.nan_to_num(oos)) - 1.0),
        "oos_bars": float(len(oos)),
        "dsr": dsr,
        "n_trials": float(n_trials),
        "sharpe": sharpe_ratio(returns, ppy),
        "total_return": float(np.prod(1.0 + np.nan_to_num(returns)) - 1.0),
        "trades": float(n_trades),
        "fees": float(result.stats[:, S_FEES].sum()),
        "turnover": annual_turnover(result),
        "holding_bars": holding,
        "correlation": buy_and_hold_correlation(result, per_column),
        **moments,
    }
    objective = metrics["oos_sharpe"] if config.metric == "oos_sharpe" else dsr
    if not math.isfinite(objective):
        return failure(genome_id, f"objective {config.metric} is not finite", metrics)
    measures = (math.log1p(metrics["turnover"]), math.log1p(holding), metrics["correlation"])
    if not all(math.isfinite(m) for m in measures):
        return failure(genome_id, f"measures are not finite: {measures}", metrics)
    return Evaluation(genome_id=genome_id, ok=True, objective=float(objective),
                      measures=measures, metrics=metrics, folds=tuple(folds), error=None)


def fold_scores(returns: np.ndarray, entry_bars: np.ndarray, config: ObjectiveConfig,
                ppy: float) -> list[dict[str, float]]:
    """Per walk-forward test fold: Sharpe, return, bars, bounds and trades entered.

    Args:
        returns: Per-bar portfolio returns (row ``i`` = bar ``i``).
        entry_bars: Entry bar of every trade.
        config: Folds and embargo.
        ppy: Periods per year (annualisation).

    Returns:
        One dict per fold in time order: ``sharpe`` (annualised; 0.0 without variance),
        ``return`` (compounded), ``bars``, ``start``, ``stop`` (half-open) and ``trades``.
    """
    splits = walk_forward(len(returns), config.folds, horizon=1, embargo=config.embargo)
    out = []
    for split in splits:
        start, stop = int(split.test[0]), int(split.test[-1]) + 1
        chunk = returns[start:stop]
        sharpe = sharpe_ratio(chunk, ppy)
        entered = int(np.count_nonzero((entry_bars >= start) & (entry_bars < stop)))
        out.append({
            "sharpe": 0.0 if math.isnan(sharpe) else sharpe,
            "return": float(np.prod(1.0 + np.nan_to_num(chunk)) - 1.0),
            "bars": float(stop - start),
            "start": float(start),
            "stop": float(stop),
            "trades": float(entered),
        })
    return out


def oos_moments(returns: np.ndarray) -> dict[str, float]:
    """Per-bar Sharpe, skewness, kurtosis, PSR(SR > 0) and its p-value of the OOS returns.

    These let the gates recompute the deflated Sharpe with the final number of trials and run
    a false-discovery correction over every trial. NaN where undefined.
    """
    x = np.asarray(returns, dtype=np.float64)
    x = x[~np.isnan(x)]
    nan = {"oos_sr": math.nan, "oos_skew": math.nan, "oos_kurtosis": math.nan,
           "oos_psr": math.nan, "p_value": math.nan}
    if len(x) < 3:
        return nan
    sr = sharpe_ratio(x, 1.0)
    if math.isnan(sr):
        return nan
    skew = float(stats.skew(x, bias=True))
    kurtosis = float(stats.kurtosis(x, fisher=False, bias=True))
    try:
        psr = probabilistic_sharpe_ratio(sr, 0.0, len(x), skew, kurtosis)
    except ValidationError:
        return {**nan, "oos_sr": sr}
    return {"oos_sr": sr, "oos_skew": skew, "oos_kurtosis": kurtosis, "oos_psr": psr,
            "p_value": 1.0 - psr}


def oos_dsr(returns: np.ndarray, n_trials: int, var_trials_sr: float | None = None) -> float:
    """Deflated Sharpe ratio of out-of-sample per-bar returns; NaN where undefined.

    Args:
        returns: The OOS returns (NaN entries skipped).
        n_trials: Number of trials behind the selection (values below 1 count as 1).
        var_trials_sr: Variance of the trials' per-bar Sharpes; None = ``1 / (n - 1)``.

    Returns:
        DSR in ``[0, 1]``, or NaN with fewer than three observations or no variance.
    """
    x = np.asarray(returns, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) < 3:
        return math.nan
    sr = sharpe_ratio(x, 1.0)
    if math.isnan(sr):
        return math.nan
    skew = float(stats.skew(x, bias=True))
    kurtosis = float(stats.kurtosis(x, fisher=False, bias=True))
    variance = 1.0 / (len(x) - 1) if var_trials_sr is None else float(var_trials_sr)
    try:
        return deflated_sharpe_ratio(sr, len(x), skew, kurtosis, max(1, int(n_trials)),
                                     variance)
    except ValidationError:
        return math.nan

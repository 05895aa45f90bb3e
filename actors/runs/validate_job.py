"""Validate alphas on market data: folds, PSR/DSR, bootstrap CI, bias check, PBO and FDR.

One expression gives the per-fold in-sample and out-of-sample Sharpe ratios (purged,
embargoed), the probabilistic and deflated Sharpe ratios, a block-bootstrap confidence
interval and the look-ahead/recursion verdict. A family (several expressions, each one a
trial) adds the probability of backtest overfitting (CSCV) and Benjamini-Hochberg / Holm
corrections over the family's p-values. Every statistic is computed on the strategy's
per-bar returns after costs, over the requested window; the history before the window only
warms the indicators up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from actors.runs.market_data import load_series, span_text, window_bounds
from actors.runs.window import WindowRequest
from configs.alpha import MappingConfig
from configs.app import AppConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.data.timeframes import periods_per_year
from core.dsl import parse, structural_hash, to_text, warmup_bars
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate, evaluate_stream
from core.dsl.nodes import Node
from core.dsl.positions import map_positions
from core.errors import DSLError, UsageError
from core.metrics import sharpe_ratio, simple_returns
from core.validation import (
    benjamini_hochberg,
    deflated_sharpe_ratio,
    detect_bias,
    holm,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    purged_kfold,
    sharpe_bootstrap_ci,
    walk_forward,
)

Scheme = Literal["kfold", "walk_forward"]


@dataclass(frozen=True)
class Expression:
    """One alpha of the run: where it came from, its text and its tree."""

    label: str
    text: str
    node: Node


@dataclass(frozen=True)
class ValidateJob:
    """A validation request (expressions already parsed)."""

    config: AppConfig
    expressions: tuple[Expression, ...]
    symbols: tuple[str, ...]
    window: WindowRequest
    mapping: MappingConfig
    folds: int = 6
    embargo: int = 24
    scheme: Scheme = "kfold"
    trials: int | None = None
    bootstrap_samples: int = 2000
    pbo_blocks: int = 16
    fdr_alpha: float = 0.05
    dsr_gate: float = 0.95


def parse_expression(text: str, label: str) -> Expression:
    """Parse one expression; the parser's message is kept and prefixed with ``label``."""
    try:
        node = parse(text)
    except DSLError as error:
        raise DSLError(f"{label}: {error}", position=error.position) from None
    return Expression(label, to_text(node), node)


def parse_family(text: str, source: str) -> tuple[Expression, ...]:
    """One expression per non-empty line (``#`` or ``;`` start a comment line)."""
    family = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        family.append(parse_expression(stripped, f"{source}:{number}"))
    if not family:
        raise UsageError(f"{source} holds no expression (one per line)")
    return tuple(family)


def _strategy_returns(job: ValidateJob) -> tuple[np.ndarray, np.ndarray, MarketArrays,
                                                  AlphaData, int, list[dict[str, Any]]]:
    """Per-bar returns after costs of every expression over the window (T x N)."""
    loaded = load_series(job.config, job.symbols, job.window)
    start_ms, end_ms = window_bounds(job.window, loaded.candles[0])
    history = MarketArrays.from_candles([c.between(None, end_ms) for c in loaded.candles])
    first = int(np.searchsorted(history.timestamp, start_ms))
    bars = history.n_bars - first
    if bars < 4 * max(job.folds, 2):
        raise UsageError(f"the window {job.window.label} holds {bars} bar(s); at least "
                         f"{4 * max(job.folds, 2)} are needed for {job.folds} folds (data spans "
                         f"{span_text(loaded.candles[0])})")
    data = AlphaData.from_market(history)
    market = MarketArrays.from_candles([c.take(slice(first, None)) for c in
                                        (c.between(None, end_ms) for c in loaded.candles)])
    returns = np.empty((bars - 1, len(job.expressions)))
    exposure = np.empty(len(job.expressions))

    def consume(index: int, signal: np.ndarray) -> None:
        targets = map_positions(signal, job.mapping)[first:]
        result = run_backtest(market, Targets(targets), job.config.backtest,
                              job.config.risk.effective())
        returns[:, index] = simple_returns(result.portfolio_equity())
        exposure[index] = float(result.stats[:, 0].mean()) / bars

    evaluate_stream([e.node for e in job.expressions], data, consume)
    provenance = [c.meta.provenance() for c in loaded.candles]
    return returns, exposure, market, data, first, provenance


def _folds(job: ValidateJob, n: int) -> list[Any]:
    make = purged_kfold if job.scheme == "kfold" else walk_forward
    return make(n, job.folds, horizon=1, embargo=job.embargo)


def _moments(returns: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe, skewness and (non-excess) kurtosis.

    A flat series (an alpha that never trades) has no skill and no shape: SR 0 with the
    moments of a normal distribution, so PSR is exactly 0.5 rather than undefined.
    """
    std = returns.std(ddof=1)
    if not std > 0:
        return 0.0, 0.0, 3.0
    sr = float(returns.mean() / std)
    return sr, float(stats.skew(returns)), float(stats.kurtosis(returns, fisher=False))


def _bias(expression: Expression, data: AlphaData) -> dict[str, Any]:
    def signal(start: int, stop: int) -> np.ndarray:
        return evaluate([expression.node], data.window(start, stop))[0]

    warm = warmup_bars(expression.node)
    starts = tuple(s for s in (warm + 1, 2 * warm + 50, 500, 2000) if s < data.n_bars // 2)
    report = detect_bias(signal, data.n_bars, n_cuts=12, warmups=starts or (1,))
    return {"lookahead": report.lookahead, "recursive": report.recursive,
            "recursive_converges": report.recursive_converges,
            "max_recursive_diff": report.max_recursive_diff, "checks": report.checks_run,
            "verdict": report.verdict, "summary": report.summary()}


def _single(job: ValidateJob, expression: Expression, returns: np.ndarray, ppy: float,
            n_trials: int, var_sr: float, data: AlphaData, exposure: float) -> dict[str, Any]:
    folds = []
    for number, split in enumerate(_folds(job, len(returns)), start=1):
        folds.append({"fold": number, "is_bars": len(split.train), "oos_bars": len(split.test),
                      "is_sharpe": sharpe_ratio(returns[split.train], ppy),
                      "oos_sharpe": sharpe_ratio(returns[split.test], ppy)})
    sr, skew, kurt = _moments(returns)
    n = len(returns)
    psr = probabilistic_sharpe_ratio(sr, 0.0, n, skew, kurt)
    dsr = deflated_sharpe_ratio(sr, n, skew, kurt, n_trials, var_sr)
    low, high, point = sharpe_bootstrap_ci(returns, ppy, n_boot=job.bootstrap_samples,
                                           seed=job.config.app.seed)
    bias = _bias(expression, data)
    oos = [f["oos_sharpe"] for f in folds if np.isfinite(f["oos_sharpe"])]
    passes = dsr >= job.dsr_gate and not bias["lookahead"]
    return {
        "label": expression.label, "expression": expression.text,
        "hash": structural_hash(expression.node), "warmup_bars": warmup_bars(expression.node),
        "bars": n, "sharpe": sharpe_ratio(returns, ppy), "sharpe_ci": [low, high],
        "sharpe_ci_point": point, "total_return": float(np.prod(1 + returns) - 1),
        "exposure": exposure, "skew": skew, "kurtosis": kurt, "psr": psr, "dsr": dsr,
        "p_value": 1.0 - psr, "n_trials": n_trials, "var_trials_sr": var_sr,
        "folds": folds, "oos_sharpe_mean": float(np.mean(oos)) if oos else None,
        "bias": bias, "passes_gates": bool(passes),
    }


def run_validation(job: ValidateJob) -> dict[str, Any]:
    """Every statistic of the job as a JSON-serialisable report (no file is written here)."""
    returns, exposure, market, data, first, provenance = _strategy_returns(job)
    ppy = periods_per_year(market.timeframe_ms)
    family = len(job.expressions)
    per_period = np.array([_moments(returns[:, i])[0] for i in range(family)])
    n_trials = max(job.trials or 1, family)
    # Variance of the trials' Sharpe ratios: across the family when there is one; otherwise
    # the variance of the estimator under the null of zero skill, 1 / T.
    var_sr = float(per_period.var(ddof=1)) if family > 1 else 1.0 / len(returns)
    alphas = [_single(job, expression, returns[:, i], ppy, n_trials, var_sr, data,
                      float(exposure[i])) for i, expression in enumerate(job.expressions)]
    report: dict[str, Any] = {"alphas": alphas, "family_size": family, "n_trials": n_trials,
                              "mapping": job.mapping.model_dump(), "folds": job.folds,
                              "direction": job.config.backtest.direction,
                              "costs": job.config.backtest.costs.model_dump(),
                              "embargo": job.embargo, "scheme": job.scheme,
                              "window": {"requested": job.window.label, "bars": len(returns) + 1,
                                         "warmup_bars": first},
                              "data": provenance, "synthetic": bool(market.synthetic)}
    if family > 1:
        pbo = pbo_cscv(returns, n_blocks=min(job.pbo_blocks, _even_blocks(len(returns))))
        p_values = np.array([a["p_value"] for a in alphas])
        bh_reject, bh_adjusted = benjamini_hochberg(p_values, job.fdr_alpha)
        holm_reject, holm_adjusted = holm(p_values, job.fdr_alpha)
        for alpha, rejected, adjusted, h_rejected in zip(alphas, bh_reject, bh_adjusted,
                                                         holm_reject, strict=True):
            alpha["fdr_q"] = float(adjusted)
            alpha["fdr_reject"] = bool(rejected)
            alpha["holm_reject"] = bool(h_rejected)
            alpha["passes_gates"] = bool(alpha["passes_gates"] and rejected)
        report["pbo"] = {"pbo": pbo.pbo, "combinations": pbo.n_combinations,
                         "prob_oos_loss": pbo.prob_oos_loss,
                         "degradation_slope": pbo.degradation_slope,
                         "logits": [float(x) for x in pbo.logits]}
        report["fdr"] = {"alpha": job.fdr_alpha, "bh_rejections": int(bh_reject.sum()),
                         "holm_rejections": int(holm_reject.sum()),
                         "holm_adjusted": [float(x) for x in holm_adjusted]}
    return report


def _even_blocks(n: int) -> int:
    blocks = max(2, min(16, n // 50))
    return blocks - blocks % 2

"""A backtest run from the command line: validate everything, simulate, then write artifacts.

Nothing is written until every input has been checked, so a bad window, symbol or parameter
leaves no run folder behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from actors.runs.market_data import load_series, span_text, window_bounds
from actors.runs.window import WindowRequest
from configs.app import AppConfig
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest import BacktestResult, MarketArrays, Targets, run_backtest
from core.backtest.summary import buy_and_hold, summarize, summarize_equity
from core.data import Candles, find_gaps
from core.errors import UsageError
from core.strategies import StrategySpec, get_strategy, parse_params
from core.validation import detect_bias


@dataclass(frozen=True)
class BacktestJob:
    """Everything a backtest run needs, as given by the user (not yet validated).

    Attributes:
        config: The effective application config (file + environment + CLI overrides).
        strategy: Registry name of the strategy.
        params: ``k=v,k=v`` text or a mapping of strategy parameters.
        symbols: One symbol, or two for pairs.
        window: The requested window.
        allow_synthetic: Fall back to the seeded synthetic market when no data is stored.
    """

    config: AppConfig
    strategy: str
    params: str | Mapping[str, Any]
    symbols: tuple[str, ...]
    window: WindowRequest
    allow_synthetic: bool = False


@dataclass(frozen=True)
class PreparedBacktest:
    """A validated run: data cut to the window, targets computed, engine settings resolved."""

    job: BacktestJob
    candles: tuple[Candles, ...]
    targets: np.ndarray
    market: MarketArrays
    backtest: BacktestConfig
    risk: RiskLimits
    params: dict[str, Any]
    warmup_bars: int
    notes: tuple[str, ...]
    bias: dict[str, Any]


@dataclass(frozen=True)
class BacktestOutcome:
    """The simulation and its metrics."""

    prepared: PreparedBacktest
    result: BacktestResult
    metrics: dict[str, float]
    column_metrics: dict[str, dict[str, float]]
    benchmark_equity: np.ndarray
    benchmark_metrics: dict[str, float]


def prepare(job: BacktestJob) -> PreparedBacktest:
    """Validate the job and compute its targets; raises before anything is written.

    Raises:
        UsageError: Unknown strategy or parameters, wrong number of symbols, no data for a
            symbol, or a window without bars.
        DataError: Corrupt data.
    """
    spec = get_strategy(job.strategy)
    params = parse_params(spec, job.params)
    if len(job.symbols) != spec.symbols:
        raise UsageError(f"strategy {spec.name!r} takes {spec.symbols} symbol(s), got "
                         f"{len(job.symbols)}: {', '.join(job.symbols)}")
    loaded = load_series(job.config, job.symbols, job.window,
                         allow_synthetic=job.allow_synthetic)
    series = list(loaded.candles)
    notes = list(loaded.notes)
    start_ms, end_ms = window_bounds(job.window, series[0])
    # Targets see every bar before the window (warm-up) but nothing after its end.
    history = [c.between(None, end_ms) for c in series]
    targets = np.column_stack(spec.compute(history, params))
    bias = check_bias(spec, params, history)
    first = int(np.searchsorted(history[0].timestamp, start_ms))
    in_window = [c.take(slice(first, None)) for c in history]
    if len(in_window[0]) < 2:
        raise UsageError(f"the window {job.window.label} holds {len(in_window[0])} bar(s) of "
                         f"{'/'.join(job.symbols)} {job.config.data.timeframe}; the data spans "
                         f"{span_text(series[0])}")
    direction = spec.direction_for(params)
    backtest = job.config.backtest
    if direction != backtest.direction:
        notes.append(f"direction set to {direction}: strategy {spec.name} with these "
                     "parameters trades short")
        backtest = BacktestConfig.model_validate({**backtest.model_dump(),
                                                  "direction": direction})
    return PreparedBacktest(
        job=job, candles=tuple(in_window), targets=targets[first:],
        market=MarketArrays.from_candles(in_window), backtest=backtest,
        risk=job.config.risk.effective(), params=params.model_dump(), warmup_bars=first,
        notes=tuple(notes), bias=bias,
    )


def check_bias(spec: StrategySpec, params: BaseModel, history: list[Candles]) -> dict[str, Any]:
    """Run the look-ahead/recursion detector on the strategy's targets over ``history``."""
    def targets_on(start: int, stop: int) -> np.ndarray:
        return np.column_stack(spec.compute([c.take(slice(start, stop)) for c in history],
                                            params))

    report = detect_bias(targets_on, len(history[0]), n_cuts=12)
    return {"verdict": report.verdict, "lookahead": report.lookahead,
            "recursive": report.recursive, "recursive_converges": report.recursive_converges,
            "checks": report.checks_run, "summary": report.summary()}


def execute(prepared: PreparedBacktest) -> BacktestOutcome:
    """Run the engine and compute the metrics of the strategy and of buy-and-hold."""
    result = run_backtest(prepared.market, Targets(prepared.targets), prepared.backtest,
                          prepared.risk)
    close = prepared.market.close
    cash = prepared.backtest.initial_cash
    benchmark = np.sum([buy_and_hold(close[:, j], cash) for j in range(close.shape[1])], axis=0)
    anchored = np.concatenate([[cash * close.shape[1]], benchmark])
    benchmark_metrics = summarize_equity(anchored, result.timeframe_ms,
                                         trade_pnl=np.empty(0), traded_notional=0.0,
                                         bars_in_market=float(len(benchmark)))
    return BacktestOutcome(
        prepared=prepared, result=result, metrics=summarize(result),
        column_metrics={name: summarize(result, j) for j, name in enumerate(result.columns)},
        benchmark_equity=benchmark, benchmark_metrics=benchmark_metrics,
    )


def gap_reports(prepared: PreparedBacktest) -> dict[str, dict[str, Any]]:
    """Gaps inside the window per symbol: reported, never filled."""
    return {c.meta.symbol: find_gaps(c).to_dict() for c in prepared.candles}

"""What an evolution run found: elites, the gates, holdout results, and the run folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actors.adapters.sqlite_registry import TrialRegistry
from actors.research.evolve_job import EvolveOutcome
from actors.research.report_plots import archive_heatmap
from configs.app import AppConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.data.timeframes import periods_per_year
from core.dsl import parse, structural_hash
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.positions import map_positions
from core.evolution import apply_gates
from core.metrics import max_drawdown, sharpe_ratio, simple_returns

HOLDOUT_TOP = 5
"""Elites evaluated on the holdout besides the survivors (for an honest comparison)."""


def elite_rows(outcome: EvolveOutcome, registry: TrialRegistry, layer: str, *,
               fdr_alpha: float, dsr_gate: float) -> list[dict[str, Any]]:
    """Every elite with its stored metrics and gate results, best objective first."""
    elites = outcome.engine.elites()
    records = {e.genome_id: registry.trial(structural_hash(e.text), layer) for e in elites}
    metrics = {gid: (r.metrics if r is not None else {}) for gid, r in records.items()}
    trials = [r.metrics if r.ok else None for r in registry.trials(layer)]
    gates = {g.genome_id: g for g in apply_gates(metrics, trials, fdr_alpha=fdr_alpha,
                                                 dsr_gate=dsr_gate)}
    rows = []
    for elite in elites:
        gate = gates[elite.genome_id]
        stored = metrics[elite.genome_id]
        rows.append({
            "genome_id": elite.genome_id, "hash": structural_hash(elite.text),
            "expression": elite.text, "objective": elite.objective,
            "log_turnover": elite.measures[0], "log_holding": elite.measures[1],
            "correlation": elite.measures[2], "oos_sharpe": stored.get("oos_sharpe"),
            "sharpe": stored.get("sharpe"), "trades": stored.get("trades"),
            "p_value": gate.p_value, "q_value": gate.q_value, "dsr": gate.dsr,
            "passes_fdr": gate.passes_fdr, "passes_dsr": gate.passes_dsr,
            "survives": gate.survives,
        })
    rows.sort(key=lambda row: -row["objective"])
    return rows


def holdout_results(rows: list[dict[str, Any]], outcome: EvolveOutcome, config: AppConfig,
                    holdout_from_ms: int | None) -> list[dict[str, Any]]:
    """Survivors and the best elites scored on the bars the search never saw."""
    if holdout_from_ms is None or not outcome.holdout:
        return []
    chosen = [r for r in rows if r["survives"]]
    chosen += [r for r in rows[:HOLDOUT_TOP] if not r["survives"]]
    market = MarketArrays.from_candles(list(outcome.holdout))
    data = AlphaData.from_market(market)
    first = int(np.searchsorted(market.timestamp, holdout_from_ms))
    window = MarketArrays.from_candles([c.take(slice(first, None)) for c in outcome.holdout])
    ppy = periods_per_year(market.timeframe_ms)
    signals = evaluate([parse(r["expression"]) for r in chosen], data)
    results = []
    for row, signal in zip(chosen, signals, strict=True):
        targets = map_positions(signal, config.evolution.objective.mapping)[first:]
        result = run_backtest(window, Targets(targets), config.backtest)
        equity = result.portfolio_equity()
        results.append({"genome_id": row["genome_id"], "expression": row["expression"],
                        "survives": row["survives"], **_performance(equity, ppy),
                        "trades": int(len(result.trades))})
    hold = np.mean(window.close / window.close[0], axis=1) * config.backtest.initial_cash
    results.append({"genome_id": None, "expression": "buy and hold (equal weight)",
                    "survives": None, **_performance(hold, ppy), "trades": 0})
    return results


def _performance(equity: np.ndarray, ppy: float) -> dict[str, float]:
    returns = simple_returns(equity)
    return {"total_return": float(equity[-1] / equity[0] - 1.0),
            "sharpe": sharpe_ratio(returns, ppy), "max_drawdown": max_drawdown(equity)}


def write_report(folder: Path, outcome: EvolveOutcome, rows: list[dict[str, Any]],
                 holdout: list[dict[str, Any]], *, config: AppConfig, summary: dict[str, Any]
                 ) -> None:
    """Write archive.png, elites.csv, holdout.csv, report.json and session.md."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = config.evolution.archive
    axes = (archive.turnover, archive.holding, archive.correlation)
    measures = np.array([[r["log_turnover"], r["log_holding"], r["correlation"]] for r in rows]
                        ).reshape(-1, 3)
    archive_heatmap(folder / "archive.png", measures,
                    np.array([r["objective"] for r in rows], dtype=float),
                    bins=[a.bins for a in axes], ranges=[(a.low, a.high) for a in axes],
                    names=["log(1 + turnover per year)", "log(1 + holding bars)",
                           "correlation to buy & hold"],
                    title=f"MAP-Elites archive, layer {summary['layer']}: best "
                          f"{config.evolution.objective.metric} per cell")
    pd.DataFrame(rows).to_csv(folder / "elites.csv", index=False)
    pd.DataFrame(holdout).to_csv(folder / "holdout.csv", index=False)
    document = {**summary, "elites": rows, "holdout": holdout,
                "history": [vars(h) for h in outcome.history]}
    (folder / "report.json").write_text(json.dumps(_strict(document), indent=2) + "\n")
    (folder / "session.md").write_text(_markdown(summary, rows, holdout))


def _markdown(summary: dict[str, Any], rows: list[dict[str, Any]],
              holdout: list[dict[str, Any]]) -> str:
    survivors = [r for r in rows if r["survives"]]
    lines = [f"# Evolution run {summary['run_id']}", "",
             f"- layer `{summary['layer']}` ({summary['timeframe']}), symbols "
             f"{', '.join(summary['symbols'])}, seed {summary['seed']}, "
             f"{summary['generations']} generations, {summary['workers']} worker(s)",
             f"- search bars: {summary['search_span']}; holdout: {summary['holdout_span']}",
             f"- trials recorded in the layer: {summary['trials_in_layer']} (this run: "
             f"{summary['trials_this_run']}); archive coverage {summary['coverage']:.1%}, "
             f"QD score {summary['qd_score']:.2f}",
             f"- gates: Benjamini-Hochberg at {summary['fdr_alpha']} over every trial, DSR >= "
             f"{summary['dsr_gate']} with the final trial count", "",
             f"**{len(survivors)} of {len(rows)} elites pass the gates.**", ""]
    if not survivors:
        lines += ["Nothing survives: the best out-of-sample scores are what a search of this "
                  "size finds by chance. The best elites are still shown below, on the "
                  "holdout too, for comparison.", ""]
    lines += ["| expression | objective | p | q | DSR | survives |",
              "|---|---:|---:|---:|---:|---|"]
    for row in rows[:15]:
        lines.append(f"| `{row['expression']}` | {row['objective']:.3f} | "
                     f"{row['p_value']:.2g} | {row['q_value']:.2g} | {_fmt(row['dsr'])} | "
                     f"{'yes' if row['survives'] else 'no'} |")
    if holdout:
        lines += ["", "## Holdout (bars the search never saw)", "",
                  "| expression | total return | Sharpe | max drawdown | trades |",
                  "|---|---:|---:|---:|---:|"]
        for row in holdout:
            lines.append(f"| {row['expression']} | {row['total_return']:.2%} | "
                         f"{_fmt(row['sharpe'])} | {row['max_drawdown']:.2%} | {row['trades']} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

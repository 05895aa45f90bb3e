"""Write a backtest run folder: metrics.json, trades.csv, equity.csv, equity.png, session.md.

The folder is assembled under a temporary name and renamed into place at the end, so a run
folder either holds every artifact or does not exist.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actors.runs.backtest_job import BacktestOutcome, gap_reports
from actors.runs.plotting import plot_equity
from actors.runs.provenance import git_state, software_versions
from configs.identity import config_id
from core.backtest.summary import clean
from core.data.naming import symbol_token


def run_name(created: dt.datetime, symbols: tuple[str, ...], strategy: str) -> str:
    """``<UTC time>_<symbol>[+<symbol>]_<strategy>``: ``20261121T200000Z_BTC-USDT_momentum``."""
    stamp = created.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}_{'+'.join(symbol_token(s) for s in symbols)}_{strategy}"


def _iso(timestamps_ms: np.ndarray) -> list[str]:
    return [str(t) + "Z" for t in np.asarray(timestamps_ms).astype("datetime64[ms]")]


def provenance(outcome: BacktestOutcome, *, run_id: str, created: dt.datetime,
               sources: tuple[str, ...]) -> dict[str, Any]:
    """Everything needed to reproduce or audit the run."""
    prepared = outcome.prepared
    job = prepared.job
    ts = prepared.market.timestamp
    return {
        "run_id": run_id,
        "created_utc": created.astimezone(dt.UTC).isoformat(),
        "config_id": config_id(job.config),
        "config_sources": list(sources),
        "git": git_state(),
        "seed": job.config.app.seed,
        "synthetic": bool(prepared.market.synthetic),
        "data": [c.meta.provenance() for c in prepared.candles],
        "gaps": gap_reports(prepared),
        "window": {
            "requested": job.window.label,
            "first_bar_utc": _iso(ts[:1])[0],
            "last_bar_utc": _iso(ts[-1:])[0],
            "bars": int(len(ts)),
            "warmup_bars": prepared.warmup_bars,
        },
        "strategy": {"name": job.strategy, "params": prepared.params},
        "backtest": prepared.backtest.model_dump(mode="json"),
        "risk_limits": prepared.risk.model_dump(mode="json"),
        "notes": list(prepared.notes),
        "bias_check": prepared.bias,
        "software": software_versions(),
    }


def _trades_frame(outcome: BacktestOutcome) -> pd.DataFrame:
    frame = outcome.result.trades_frame()
    for column in ("entry_time", "exit_time"):
        frame.insert(frame.columns.get_loc(column) + 1, column + "_utc", _iso(frame[column]))
    return frame


def _equity_frame(outcome: BacktestOutcome) -> pd.DataFrame:
    result = outcome.result
    equity = result.portfolio_equity()
    frame = pd.DataFrame({
        "timestamp": result.timestamp,
        "time_utc": _iso(result.timestamp),
        "equity": equity,
        "drawdown": equity / np.maximum.accumulate(equity) - 1.0,
        "buy_and_hold": outcome.benchmark_equity,
    })
    if result.n_columns > 1:
        for j, name in enumerate(result.columns):
            frame[f"equity_{symbol_token(name)}"] = result.equity[:, j]
    return frame


def _fmt(value: float | None, kind: str = "num") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:,.3f}"


ROWS = (
    ("total_return", "Total return", "pct"), ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility (ann.)", "pct"), ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"), ("calmar", "Calmar", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_duration_days", "Max drawdown duration (days)", "num"),
    ("turnover", "Turnover (per year)", "num"), ("exposure", "Exposure", "pct"),
    ("trades", "Trades", "int"), ("hit_rate", "Hit rate", "pct"),
    ("profit_factor", "Profit factor", "num"), ("average_trade", "Average trade (quote)", "num"),
    ("cvar_95", "CVaR 95% (per bar)", "pct"), ("fees", "Fees paid (quote)", "num"),
)


def session_markdown(outcome: BacktestOutcome, prov: dict[str, Any]) -> str:
    """A human summary of the run with its provenance."""
    metrics, bench = outcome.metrics, outcome.benchmark_metrics
    window = prov["window"]
    synthetic = " — **SYNTHETIC DATA** (generated, not a market)" if prov["synthetic"] else ""
    lines = [
        f"# Backtest {prov['run_id']}{synthetic}",
        "",
        f"- strategy: `{prov['strategy']['name']}` with `{prov['strategy']['params']}`",
        f"- symbols: {', '.join(outcome.result.columns)} "
        f"({outcome.prepared.job.config.data.timeframe})",
        f"- window: {window['requested']} -> {window['first_bar_utc']} .. {window['last_bar_utc']}"
        f" ({window['bars']} bars, {window['warmup_bars']} warm-up bars before)",
        f"- costs: {prov['backtest']['costs']}",
        f"- risk limits: max position {prov['risk_limits']['max_position_pct']}%, max trade "
        f"{prov['risk_limits']['max_trade_pct']}%, per-trade risk "
        f"{prov['risk_limits']['per_trade_risk_pct']}%",
        f"- look-ahead/recursion check of the strategy: {prov['bias_check']['summary']}",
        f"- config id `{prov['config_id']}`, commit `{prov['git']['commit']}`"
        f"{' (uncommitted changes)' if prov['git']['dirty'] else ''}, seed {prov['seed']}",
        "",
        "| metric | strategy | buy & hold |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {_fmt(metrics.get(key), kind)} | {_fmt(bench.get(key), kind)} |"
              for key, label, kind in ROWS]
    lines += ["", "## Data", ""]
    for item in prov["data"]:
        files = ", ".join(f"`{f['path']}` (sha256 `{f['sha256'][:16]}`)" for f in item["files"])
        paths = [f["path"] for f in item["files"]]
        origin = "" if item["source"] in paths else f"{item['source']}; "
        lines.append(f"- {item['symbol']} {item['timeframe']}: {origin}{files}".rstrip("; "))
    for symbol, gaps in prov["gaps"].items():
        lines.append(f"- gaps in {symbol} within the window: {gaps['description']}")
    if prov["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in prov["notes"]]
    return "\n".join(lines) + "\n"


def write_run(outcome: BacktestOutcome, run_root: Path, *, created: dt.datetime,
              sources: tuple[str, ...]) -> Path:
    """Write every artifact of the run and return the run folder."""
    job = outcome.prepared.job
    base = run_name(created, job.symbols, job.strategy)
    run_root.mkdir(parents=True, exist_ok=True)
    name, suffix = base, 1
    while (run_root / name).exists():
        suffix += 1
        name = f"{base}-{suffix}"
    staging = run_root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        prov = provenance(outcome, run_id=name, created=created, sources=sources)
        document = {
            "metrics": clean(outcome.metrics),
            "columns": {k: clean(v) for k, v in outcome.column_metrics.items()},
            "buy_and_hold": clean(outcome.benchmark_metrics),
            "provenance": prov,
        }
        (staging / "metrics.json").write_text(json.dumps(document, indent=2) + "\n")
        _trades_frame(outcome).to_csv(staging / "trades.csv", index=False)
        equity = _equity_frame(outcome)
        equity.to_csv(staging / "equity.csv", index=False)
        cap = outcome.prepared.risk.max_position_pct
        title = (f"{job.strategy} on {', '.join(job.symbols)} "
                 f"(positions capped at {cap:g}% of equity)")
        if prov["synthetic"]:
            title += " (SYNTHETIC DATA)"
        plot_equity(staging / "equity.png", outcome.result.timestamp,
                    equity["equity"].to_numpy(), outcome.benchmark_equity, title)
        (staging / "session.md").write_text(session_markdown(outcome, prov))
        final = run_root / name
        staging.rename(final)
        return final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

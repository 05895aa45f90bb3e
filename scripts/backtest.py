r"""Backtest a built-in strategy on stored candles and write a run folder.

Example::

    python scripts/backtest.py --data ../shared/data --symbol BTC/USDT --timeframe 1h \
        --strategy momentum --params fast=20,slow=50 --start 2022-01-01 --end 2024-01-01 \
        --fee-bps 10 --slip-bps 5

Writes ``runs/<UTC timestamp>_<symbol>_<strategy>/`` with ``metrics.json`` (metrics and
provenance: data files and hashes, config id, git commit, seed, synthetic flag),
``trades.csv``, ``equity.csv``, ``equity.png`` and ``session.md``. Orders fill at the next
bar's open; costs and the risk profile's caps apply. Every input is checked first: a bad
window, timezone, symbol, strategy or parameter exits with code 2 and creates no folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from actors.cli import run_command
from actors.runs.artifacts import write_run
from actors.runs.backtest_job import BacktestJob, execute, prepare
from actors.runs.console import print_summary
from actors.runs.market_data import parse_symbols
from actors.runs.window import parse_window
from configs.loader import LoadedConfig, load_config, with_overrides
from core.strategies import STRATEGIES


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="backtest.py",
        description="Backtest a built-in strategy (next-bar execution, costs, risk caps).",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="TOML config (default: configs/default.toml)")
    parser.add_argument("--data", help="data: a Parquet store (ohlcv/...), a freqtrade folder "
                                       "or a CSV file (default: data.dir of the config)")
    parser.add_argument("--venue", help="venue token of the stored series (default: config)")
    parser.add_argument("--symbol", required=True,
                        help="symbol, e.g. BTC/USDT; two comma-separated for pairs")
    parser.add_argument("--timeframe", help="bar length, e.g. 1h (default: config)")
    parser.add_argument("--strategy", required=True, choices=sorted(STRATEGIES),
                        help="built-in strategy")
    parser.add_argument("--params", default="", help="strategy parameters, e.g. fast=20,slow=50")
    parser.add_argument("--start", help="window start (inclusive), YYYY-MM-DD[THH:MM]")
    parser.add_argument("--end", help="window end (exclusive), YYYY-MM-DD[THH:MM]")
    parser.add_argument("--window", help="trailing window ending at the last bar, e.g. P90D")
    parser.add_argument("--tz", default="UTC", help="timezone of --start/--end (default UTC)")
    parser.add_argument("--fee-bps", type=float, help="maker and taker fee, bps")
    parser.add_argument("--slip-bps", type=float, help="half-spread slippage, bps")
    parser.add_argument("--initial-cash", type=float, help="starting quote cash")
    parser.add_argument("--stop-loss-pct", type=float, help="stop-loss distance, %%")
    parser.add_argument("--take-profit-pct", type=float, help="take-profit distance, %%")
    parser.add_argument("--time-stop-bars", type=int, help="close positions after N bars")
    parser.add_argument("--risk-profile", help="risk profile from configs/risk.toml "
                                               "(default: conservative)")
    parser.add_argument("--seed", type=int, help="seed (recorded; drives synthetic data)")
    parser.add_argument("--out", help="root of run folders (default: app.run_dir, 'runs')")
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration values the command line sets."""
    tree: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is None:
            return
        node = tree
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value

    put("data.dir", args.data)
    put("data.venue", args.venue)
    put("data.timeframe", args.timeframe)
    put("data.symbols", list(parse_symbols(args.symbol)))
    if args.fee_bps is not None:
        put("backtest.costs.maker_fee_bps", args.fee_bps)
        put("backtest.costs.taker_fee_bps", args.fee_bps)
    put("backtest.costs.half_spread_bps", args.slip_bps)
    put("backtest.initial_cash", args.initial_cash)
    put("backtest.stops.stop_loss_pct", args.stop_loss_pct)
    put("backtest.stops.take_profit_pct", args.take_profit_pct)
    put("backtest.stops.time_stop_bars", args.time_stop_bars)
    put("risk.profile", args.risk_profile)
    put("app.seed", args.seed)
    put("app.run_dir", args.out)
    put("strategy.name", args.strategy)
    return tree


def run(args: argparse.Namespace) -> int:
    """Validate, simulate, write the run folder and print the summary."""
    window = parse_window(args.start, args.end, args.window, args.tz)
    loaded: LoadedConfig = with_overrides(load_config(args.config), overrides_from(args))
    job = BacktestJob(config=loaded.config, strategy=args.strategy, params=args.params,
                      symbols=tuple(loaded.config.data.symbols), window=window)
    prepared = prepare(job)
    outcome = execute(prepared)
    folder = write_run(outcome, Path(loaded.config.app.run_dir),
                       created=dt.datetime.now(dt.UTC), sources=loaded.sources)
    for note in prepared.notes:
        print(f"note: {note}")
    print_summary(folder, outcome.metrics, outcome.benchmark_metrics)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())

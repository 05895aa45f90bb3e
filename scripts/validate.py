r"""Validate an alpha expression (or a family of them) on market data.

Example::

    python scripts/validate.py --expr "(ts_zscore (delta close 24) 168)" --data ../shared/data \
        --symbol BTC/USDT --timeframe 1h --folds 6 --embargo 24 --trials 50
    python scripts/validate.py --family alphas.txt --symbol BTC/USDT --timeframe 1h

Prints per-fold in-sample and out-of-sample Sharpe ratios (purged, embargoed), PSR, DSR
(counting ``--trials`` or the family size, whichever is larger), a block-bootstrap Sharpe
confidence interval and the look-ahead/recursion check, and writes ``report.json`` to
``runs/validations/<time>_<hash>/``. ``--family FILE`` (one expression per line) adds the
probability of backtest overfitting (CSCV) and Benjamini-Hochberg/Holm over the family.
A malformed expression prints the parser's message and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from actors.cli import run_command
from actors.runs.market_data import parse_symbols
from actors.runs.validate_job import (
    Expression,
    ValidateJob,
    parse_expression,
    parse_family,
    run_validation,
)
from actors.runs.validate_report import render, write_report
from actors.runs.window import WindowRequest, parse_window
from configs.alpha import MappingConfig
from configs.loader import load_config, with_overrides
from core.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="validate.py", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--expr", help="one alpha expression, e.g. "
                                       "'(ts_zscore (delta close 24) 168)'")
    source.add_argument("--family", type=Path, help="file with one expression per line")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML config (default: configs/default.toml)")
    parser.add_argument("--data", help="data folder or file (default: data.dir of the config)")
    parser.add_argument("--venue", help="venue token (default: config)")
    parser.add_argument("--symbol", required=True, help="symbol(s), comma-separated")
    parser.add_argument("--timeframe", help="bar length (default: config)")
    parser.add_argument("--start", help="window start (inclusive), YYYY-MM-DD[THH:MM]")
    parser.add_argument("--end", help="window end (exclusive)")
    parser.add_argument("--window", help="trailing window, e.g. P730D (default: all data)")
    parser.add_argument("--tz", default="UTC", help="timezone of --start/--end")
    parser.add_argument("--folds", type=int, default=6, help="number of folds (default 6)")
    parser.add_argument("--embargo", type=int, default=24, help="embargo in bars (default 24)")
    parser.add_argument("--scheme", choices=("kfold", "walk_forward"), default="kfold",
                        help="purged k-fold or walk-forward (default kfold)")
    parser.add_argument("--trials", type=int, help="number of expressions tried in the search "
                                                   "that produced this one (for DSR)")
    parser.add_argument("--mapping", default="sign", choices=("sign", "threshold", "zscore",
                                                              "cs_rank"),
                        help="signal -> position mapping (default sign)")
    parser.add_argument("--direction", choices=("long_only", "long_short"),
                        help="long_only turns short signals flat (default: the config's)")
    parser.add_argument("--fee-bps", type=float, help="maker and taker fee, bps")
    parser.add_argument("--slip-bps", type=float, help="half-spread slippage, bps")
    parser.add_argument("--risk-profile", help="risk profile (default conservative)")
    parser.add_argument("--out", help="root of report folders (default runs/validations)")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    tree: dict[str, Any] = {"data": {"symbols": list(parse_symbols(args.symbol))}}
    for key, value in (("dir", args.data), ("venue", args.venue),
                       ("timeframe", args.timeframe)):
        if value is not None:
            tree["data"][key] = value
    costs: dict[str, float] = {}
    if args.fee_bps is not None:
        costs.update(maker_fee_bps=args.fee_bps, taker_fee_bps=args.fee_bps)
    if args.slip_bps is not None:
        costs["half_spread_bps"] = args.slip_bps
    if costs:
        tree["backtest"] = {"costs": costs}
    if args.direction:
        tree.setdefault("backtest", {})["direction"] = args.direction
    if args.risk_profile:
        tree["risk"] = {"profile": args.risk_profile}
    return tree


def run(args: argparse.Namespace) -> int:
    """Parse, validate, print the report and write report.json."""
    if args.folds < 2 or args.embargo < 0 or (args.trials is not None and args.trials < 1):
        raise UsageError("--folds must be >= 2, --embargo >= 0 and --trials >= 1")
    expressions: tuple[Expression, ...]
    if args.expr is not None:
        expressions = (parse_expression(args.expr, "--expr"),)
    else:
        try:
            text = args.family.read_text()
        except OSError as error:
            raise UsageError(f"cannot read --family {args.family}: {error}") from None
        expressions = parse_family(text, str(args.family))
    if args.window or args.start or args.end:
        window = parse_window(args.start, args.end, args.window, args.tz)
    else:
        window = WindowRequest.everything()
    loaded = with_overrides(load_config(args.config), _overrides(args))
    job = ValidateJob(config=loaded.config, expressions=expressions,
                      symbols=tuple(loaded.config.data.symbols), window=window,
                      mapping=MappingConfig(kind=args.mapping), folds=args.folds,
                      embargo=args.embargo, scheme=args.scheme, trials=args.trials)
    report = run_validation(job)
    print(render(report))
    root = Path(args.out) if args.out else Path(loaded.config.app.run_dir) / "validations"
    folder = write_report(report, root, config_id=loaded.config_id, seed=loaded.config.app.seed)
    print(f"report: {folder / 'report.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())

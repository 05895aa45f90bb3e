r"""Import candles you already have (freqtrade folder, CSV file, other store) into a Parquet store.

Example::

    python scripts/import_data.py --from ~/ft/user_data/data/binance --to ./data \\
        --symbol BTC/USDT,ETH/USDT --timeframe 1h

The source layout is detected (see :mod:`actors.adapters.data_source`). Bars are validated
and merged into ``<to>/ohlcv/<VENUE>_<BASE>-<QUOTE>_<TF>.parquet``: new bars are added, bars
already stored identically are skipped, and a bar that differs from the stored one stops the
import with an error naming its timestamp (stored data is never overwritten).

``--venue`` defaults to the freqtrade folder's name upper-cased (``binance`` -> ``BINANCE``),
``CSV`` for a CSV file, and ``BINANCE`` for a Parquet store source.

Exit codes: 0 success; 2 bad usage or bad/missing data.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from actors.adapters.data_source import detect_layout, load_candles
from actors.adapters.parquet_store import ParquetStore
from actors.cli import run_command
from core.data.naming import parse_symbol
from core.data.timeframes import TIMEFRAME_MS, timeframe_to_ms
from core.data.times import parse_time_ms
from core.errors import DataError, UsageError


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="import_data.py",
        description="Import freqtrade/CSV/Parquet-store candles into a Parquet store.",
    )
    parser.add_argument("--from", dest="source", type=Path, required=True,
                        help="freqtrade exchange folder, .csv file or Parquet store directory")
    parser.add_argument("--to", dest="target", type=Path, required=True,
                        help="target Parquet store directory (created when missing)")
    parser.add_argument("--symbol", required=True, help="symbol(s), comma-separated")
    parser.add_argument("--timeframe", required=True,
                        help=f"bar length, one of {', '.join(TIMEFRAME_MS)}")
    parser.add_argument("--venue", help="venue token (default: see the module docstring)")
    parser.add_argument("--start", help="first open time to import (date, ISO-8601 or ms)")
    parser.add_argument("--end", help="exclusive end of open times to import")
    return parser


def default_venue(source: Path, layout: str) -> str:
    """The venue used when ``--venue`` is not given."""
    if layout == "freqtrade" and re.fullmatch(r"[A-Za-z0-9]{1,30}", source.name):
        return source.name.upper()
    return "CSV" if layout == "csv" else "BINANCE"


def run(args: argparse.Namespace) -> int:
    """Import every symbol; returns the number of bars added."""
    try:
        symbols = [s.strip().upper() for s in args.symbol.split(",") if s.strip()]
        for symbol in symbols:
            parse_symbol(symbol)
        timeframe_to_ms(args.timeframe)
        start = None if args.start is None else parse_time_ms(args.start)
        end = None if args.end is None else parse_time_ms(args.end)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if not symbols:
        raise UsageError("--symbol is empty")
    if args.source.resolve() == args.target.resolve():
        raise UsageError("--from and --to are the same store")
    layout = detect_layout(args.source)
    venue = (args.venue or default_venue(args.source, layout)).upper()
    store = ParquetStore(args.target)
    total = 0
    for symbol in symbols:
        candles = load_candles(args.source, venue=venue, symbol=symbol, timeframe=args.timeframe,
                               start_ms=start, end_ms=end)
        candles = candles.replace(meta=dataclasses.replace(candles.meta, venue=venue))
        result = store.append(candles)
        total += result.added
        print(f"{venue} {symbol} {args.timeframe}: {len(candles)} bars read from "
              f"{candles.meta.source} ({layout}), +{result.added} added, "
              f"{result.skipped_duplicates} already stored -> {result.path}", flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    def work() -> int:
        run(args)
        return 0

    return run_command(work)


if __name__ == "__main__":
    sys.exit(main())

r"""Download OHLCV candles from an exchange into a Parquet store, resuming where it stopped.

Example::

    python scripts/fetch_data.py --exchange binance --symbols BTC/USDT,ETH/USDT \\
        --timeframe 1h --since 2024-01-01

Bars go to ``<data>/ohlcv/<VENUE>_<BASE>-<QUOTE>_<TF>.parquet`` (``--data`` defaults to
``./data``; the shared folder ``../shared/data`` is read-only and never a target). A rerun
continues after the last stored bar; temporary errors (timeouts, 5xx, 429) are retried with
backoff; the still-forming candle is never stored.

Exit codes: 0 success; 1 exchange error (e.g. unknown symbol, retries exhausted);
2 bad usage or bad data; 130 interrupted (fetched bars are kept; rerun to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actors.adapters.ccxt_ohlcv import DownloadReport, OhlcvDownloader, make_exchange
from actors.adapters.parquet_store import ParquetStore
from actors.adapters.retry import RetryPolicy
from actors.cli import run_command
from core.data.naming import parse_symbol
from core.data.timeframes import TIMEFRAME_MS, timeframe_to_ms
from core.data.times import parse_time_ms
from core.errors import DataError, UsageError


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="fetch_data.py",
        description="Download OHLCV candles through ccxt into a Parquet store (resumable).",
    )
    parser.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    parser.add_argument("--symbols", required=True,
                        help="comma-separated symbols, e.g. BTC/USDT,ETH/USDT")
    parser.add_argument("--timeframe", required=True,
                        help=f"bar length, one of {', '.join(TIMEFRAME_MS)}")
    parser.add_argument("--since", required=True,
                        help="first open time: YYYY-MM-DD, ISO-8601 (UTC unless offset) or ms")
    parser.add_argument("--until", help="exclusive end of open times (default: now)")
    parser.add_argument("--data", type=Path, default=Path("data"),
                        help="store directory (default ./data; ../shared/data is read-only)")
    parser.add_argument("--venue", help="venue token in file names (default: EXCHANGE upper-cased)")
    parser.add_argument("--api-url", help="send requests to this base URL (tests, proxies)")
    parser.add_argument("--retries", type=int, default=5,
                        help="attempts per request on temporary errors (default 5)")
    parser.add_argument("--retry-delay", type=float, default=1.0,
                        help="first backoff delay in seconds, doubling per retry (default 1)")
    parser.add_argument("--max-retry-delay", type=float, default=60.0,
                        help="cap of the backoff delay in seconds (default 60)")
    parser.add_argument("--page-limit", type=int, default=1000, help="bars per request")
    parser.add_argument("--timeout-ms", type=int, default=10_000, help="HTTP timeout per request")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise UsageError("--symbols is empty; pass e.g. BTC/USDT,ETH/USDT")
    for symbol in symbols:
        try:
            parse_symbol(symbol)
        except DataError as exc:
            raise UsageError(str(exc)) from None
    return list(dict.fromkeys(symbols))


def _checked_args(args: argparse.Namespace) -> tuple[list[str], int, int | None]:
    """Validate usage before any network call: symbols, timeframe, dates, numbers."""
    symbols = _symbols(args.symbols)
    try:
        timeframe_to_ms(args.timeframe)
        since = parse_time_ms(args.since)
        until = None if args.until is None else parse_time_ms(args.until)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    try:
        ParquetStore(args.data).path_for(args.venue or args.exchange, symbols[0], args.timeframe)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    if until is not None and until <= since:
        raise UsageError(f"--until ({args.until}) must be after --since ({args.since})")
    if args.retries < 1 or args.page_limit < 1 or args.timeout_ms < 1:
        raise UsageError("--retries, --page-limit and --timeout-ms must be positive")
    if args.retry_delay < 0 or args.max_retry_delay < args.retry_delay:
        raise UsageError("need 0 <= --retry-delay <= --max-retry-delay")
    return symbols, since, until


def run(args: argparse.Namespace) -> list[DownloadReport]:
    """Download every symbol; the first error stops the run (fetched bars stay stored)."""
    symbols, since, until = _checked_args(args)
    exchange = make_exchange(args.exchange, api_url=args.api_url, timeout_ms=args.timeout_ms)
    downloader = OhlcvDownloader(
        exchange,
        ParquetStore(args.data),
        page_limit=args.page_limit,
        retry=RetryPolicy(attempts=args.retries, base_delay_s=args.retry_delay,
                          max_delay_s=args.max_retry_delay),
        progress=False if args.no_progress else None,
        log=lambda line: print(line, file=sys.stderr),
    )
    for symbol in symbols:  # unknown symbols and timeframes fail before any download
        downloader.prepare(symbol, args.timeframe)
    reports = []
    for symbol in symbols:
        report = downloader.download(symbol, args.timeframe, since, until, venue=args.venue)
        print(report.summary(), flush=True)
        reports.append(report)
    return reports


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    def work() -> int:
        run(args)
        return 0

    return run_command(work, interrupted="interrupted; fetched bars are stored, rerun to resume")


if __name__ == "__main__":
    sys.exit(main())

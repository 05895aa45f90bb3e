"""``python -m actors.emulator``: serve a Binance spot emulator until SIGINT or SIGTERM.

Prints one line with its URL once it listens, then serves; a signal ends it with exit code
0. Bad arguments, a missing data file or an unknown symbol exit 2 with an ``error:`` line
(never a traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from actors.cli import run_command
from actors.emulator.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, EmulatorConfig
from actors.emulator.faults import load_fault_file
from configs.backtest import CostsConfig
from core.data.times import parse_time_ms
from core.errors import DataError, UsageError

KEY_ENV = "EVOTRADER_EMULATOR_API_KEY"
SECRET_ENV = "EVOTRADER_EMULATOR_API_SECRET"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m actors.emulator",
        description="A local Binance spot exchange emulator replaying stored candles, for "
                    "tests, demos and benchmarks. Point ccxt (or --exchange-url) at the URL "
                    "it prints.")
    parser.add_argument("--data", required=True, type=Path,
                        help="candle source: a Parquet store like ../shared/data, a freqtrade "
                             "folder or a CSV file")
    parser.add_argument("--symbols", required=True,
                        help="comma-separated ccxt symbols, e.g. BTC/USDT,ETH/USDT")
    parser.add_argument("--timeframe", default="1m", help="bar length served (default 1m)")
    parser.add_argument("--venue", default="BINANCE",
                        help="venue token of the stored series (default BINANCE)")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port (default 0: a free one, printed)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="venue ms per wall ms (default 1: real time); 0 = manual clock "
                             "moved by POST /emulator/clock")
    parser.add_argument("--start", help="venue time at start: a date, ISO-8601 time or epoch "
                                        "ms (default: after --warmup-bars bars)")
    parser.add_argument("--warmup-bars", type=int, default=1000,
                        help="closed bars of history before the default start (default 1000)")
    parser.add_argument("--faults", type=Path, help="fault rules, a JSON or TOML file")
    parser.add_argument("--seed", type=int, default=0, help="seed of random faults (default 0)")
    parser.add_argument("--balances", default="USDT=10000",
                        help="starting free balances, e.g. USDT=10000,BTC=0.5")
    parser.add_argument("--api-key", help=f"accepted API key (default ${KEY_ENV} or a test key)")
    parser.add_argument("--api-secret",
                        help=f"its secret (default ${SECRET_ENV} or a test secret)")
    parser.add_argument("--timestamp-check", choices=("venue", "wall", "off"), default="venue",
                        help="clock a signed request's timestamp is checked against (default "
                             "venue; 'wall' for clients signing with their own clock)")
    parser.add_argument("--config", type=Path,
                        help="project config whose [backtest.costs] set fees and slippage")
    parser.add_argument("--buy-fee-in-base", action="store_true",
                        help="charge buy commissions in the base asset (Binance's default)")
    return parser


def _balances(text: str) -> dict[str, float]:
    balances: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        asset, sep, amount = item.partition("=")
        try:
            if not sep:
                raise ValueError
            balances[asset.strip().upper()] = float(amount)
        except ValueError:
            raise UsageError(f"bad --balances item {item!r}; expected ASSET=AMOUNT") from None
    return balances


def make_config(args: argparse.Namespace) -> EmulatorConfig:
    """The :class:`EmulatorConfig` the arguments describe.

    Raises:
        UsageError: For a bad value.
    """
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    if not symbols:
        raise UsageError("--symbols needs at least one symbol, e.g. BTC/USDT")
    try:
        start = parse_time_ms(args.start) if args.start else None
    except DataError as exc:
        raise UsageError(f"--start: {exc}") from None
    costs = CostsConfig()
    if args.config is not None:
        from configs.loader import load_config

        costs = load_config(args.config).config.backtest.costs
    try:
        return EmulatorConfig(
            data_dir=args.data, data_venue=args.venue.upper(), symbols=symbols,
            timeframe=args.timeframe, start_ms=start, warmup_bars=args.warmup_bars,
            speed=args.speed, seed=args.seed, balances=_balances(args.balances),
            api_key=args.api_key or os.environ.get(KEY_ENV) or DEFAULT_API_KEY,
            api_secret=args.api_secret or os.environ.get(SECRET_ENV) or DEFAULT_API_SECRET,
            timestamp_check=args.timestamp_check, costs=costs,
            buy_fee_in_base=args.buy_fee_in_base,
            faults=load_fault_file(args.faults) if args.faults else ())
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise UsageError(f"bad emulator settings: {problems}") from None


def serve(args: argparse.Namespace) -> int:
    """Start the emulator, print its URL, serve until a signal."""
    from actors.emulator.server import EmulatorServer

    config = make_config(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    server = EmulatorServer(config, host=args.host, port=args.port)
    try:
        server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state = server.clock.state()
    print(f"emulator listening on {server.url} ({','.join(config.symbols)} {config.timeframe},"
          f" venue time {state['now_ms']}, speed {config.speed:g})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    print("emulator stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())

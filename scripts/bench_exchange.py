r"""Benchmark the venue path against the local Binance emulator (loopback HTTP, real ccxt).

``python scripts/bench_exchange.py [--quick] [--json PATH] [--data DIR]``

What is measured, in one run:

* ``ccxt_overhead_ms``: median time of ``fetch_time`` through ccxt minus the median of the
  same request as a raw ``http.client`` GET on a kept-alive connection (``raw_request_ms``),
  and their ratio
  (``ccxt_overhead_ratio``): what ccxt adds per call.
* ``orders_per_s``: market orders placed one after the other through the ccxt execution
  client (shaping, salted id, create with the ``FULL`` answer, events), and
  ``ccxt_orders_per_s``: the same orders as bare ``create_order`` calls.
* ``reconcile_1000_s``: one reconciliation of the venue with the book while 1,000 of our
  orders are open (the emulator answers them NEW: a ``delayed_fill`` fault): balances, open
  orders, the comparison. ``poll_1000_s``: asking the venue about each of those orders by
  client id (what a restart does).
* ``venue_ack_p50_ms``, ``venue_ack_p99_ms``: a TESTNET session against a paced emulator (60
  venue seconds per second: one 1m bar per second) with a strategy that trades often: from
  each bar's close to its order's arrival at the venue (which accepts it synchronously), in
  wall milliseconds, over every order sent. The same session's feed requests, counted at the
  emulator: ``venue_feed_requests_per_bar`` (klines and time requests within half a bar of
  each close), ``venue_feed_requests_after_close`` (those after the close: 1 is a single
  ``klines`` request, the time sample it is proven closed from being taken before the
  close) and ``venue_bar_read_ms`` (median, close -> the first ``klines`` request's
  arrival, wall ms).

The session runs on its own local Ray in its own namespace (``[ray] address = "local"``):
never on another cluster running on the machine.

Goals (issue 11): venue ack p50 <= 15 ms, p99 <= 50 ms on loopback; reconcile with 1,000 open
orders <= 2 s. Figures go to ``--json`` with ``goal_<key>_met`` flags; ``--quick`` uses fewer
calls and a shorter session (not the figures to record).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.adapters.ccxt_errors import make_exchange  # noqa: E402
from actors.adapters.ccxt_execution import CcxtExecutionClient, VenueClientPolicy  # noqa: E402
from actors.adapters.parquet_store import ParquetStore  # noqa: E402
from actors.emulator import EmulatorConfig, EmulatorServer, LoggedRequest, MarketSpec  # noqa: E402
from actors.emulator import RateLimits as VenueLimits  # noqa: E402
from core.trading.messages import OrderRequest, Side  # noqa: E402
from core.trading.rate_limits import RateLimits  # noqa: E402
from core.trading.venue_ids import venue_client_order_id  # noqa: E402
from core.trading.venue_reconcile import reconcile_venue  # noqa: E402

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
SYMBOL = "BTC/USDT"
AHEAD_BARS = 15
GOALS = {"venue_ack_p50_ms": 15.0, "venue_ack_p99_ms": 50.0, "reconcile_1000_s": 2.0}


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` prints it (else the platform's processor)."""
    try:
        done = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                              check=False)
        for line in done.stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return platform.processor() or platform.machine()


def feed_requests(requests: list[LoggedRequest], closes: list[int], speed: float
                  ) -> dict[str, float]:
    """What the feed asked the venue around each close (see the module doc).

    Args:
        requests: The emulator's request log.
        closes: The session's bar closes (venue ms).
        speed: Venue ms per wall ms.

    Returns:
        ``venue_feed_requests_per_bar``, ``venue_feed_requests_after_close`` and
        ``venue_bar_read_ms`` (NaN when no bar was read).
    """
    feed = [r for r in requests if r.path in ("/api/v3/klines", "/api/v3/time")]
    around = after = 0
    reads: list[float] = []
    for close in closes:
        near = [r for r in feed if close - MINUTE // 2 <= r.venue_ms < close + MINUTE // 2]
        later = [r for r in near if r.venue_ms >= close]
        around, after = around + len(near), after + len(later)
        read = next((r for r in later if r.path == "/api/v3/klines"), None)
        if read is not None:
            reads.append((read.venue_ms - close) / speed)
    bars = max(1, len(closes))
    return {"venue_feed_requests_per_bar": around / bars,
            "venue_feed_requests_after_close": after / bars,
            "venue_bar_read_ms": statistics.median(reads) if reads else float("nan")}


def _candles(data: Path, bars: int) -> dict[str, Any]:
    store = ParquetStore(data)
    return {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + bars * MINUTE)
            for s in (SYMBOL, "ETH/USDT")}


def _emulator(candles: dict[str, Any], **settings: Any) -> EmulatorServer:
    settings.setdefault("start_ms", FIRST_BAR + 600 * MINUTE + 30_000)
    # throughput is measured, not Binance's limits (100 orders per 10 s would cap it)
    settings.setdefault("rate_limits", VenueLimits(weight_per_minute=10**9,
                                                   orders_per_10s=10**9, orders_per_day=10**9))
    config = EmulatorConfig(symbols=tuple(candles), timeframe="1m", **settings)
    return EmulatorServer(config, candles).start()


def _client(emulator: EmulatorServer, salt: str) -> CcxtExecutionClient:
    exchange = make_exchange("binance", api_url=emulator.url, rate_limit=False)
    exchange.apiKey, exchange.secret = emulator.config.api_key, emulator.config.api_secret
    limits = RateLimits(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)
    return CcxtExecutionClient(exchange, salt, [SYMBOL], MINUTE,
                               VenueClientPolicy(limits=limits),
                               clock_ms=emulator.clock.now_ms)


def _request(i: int, ts: int) -> OrderRequest:
    side = Side.BUY if i % 2 == 0 else Side.SELL
    return OrderRequest(f"B{i:08d}", "bench", SYMBOL, "core", ts, side, 0.0002, 100_000.0,
                        1.0, 20.0, False)


def measure_overhead(emulator: EmulatorServer, calls: int) -> dict[str, float]:
    exchange = make_exchange("binance", api_url=emulator.url, rate_limit=False)
    parts = urllib.parse.urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    raw, wrapped = [], []
    for _ in range(calls):
        started = time.perf_counter()
        connection.request("GET", "/api/v3/time")  # kept alive, as ccxt's session is
        connection.getresponse().read()
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        exchange.fetch_time()
        wrapped.append(time.perf_counter() - started)
    connection.close()
    raw_ms, ccxt_ms = statistics.median(raw) * 1e3, statistics.median(wrapped) * 1e3
    return {"raw_request_ms": raw_ms, "ccxt_request_ms": ccxt_ms,
            "ccxt_overhead_ms": ccxt_ms - raw_ms, "ccxt_overhead_ratio": ccxt_ms / raw_ms}


def measure_orders(candles: dict[str, Any], orders: int) -> dict[str, float]:
    emulator = _emulator(candles, balances={"USDT": 1e9, "BTC": 1e3})
    try:
        client = _client(emulator, "bench-orders")
        client.start()
        ts = emulator.clock.now_ms() // MINUTE * MINUTE - MINUTE
        started = time.perf_counter()
        for i in range(orders):
            client.submit([_request(i, ts)])
        ours = orders / (time.perf_counter() - started)
        exchange = make_exchange("binance", api_url=emulator.url, rate_limit=False)
        exchange.apiKey, exchange.secret = emulator.config.api_key, emulator.config.api_secret
        exchange.nonce = emulator.clock.now_ms
        exchange.load_markets()
        started = time.perf_counter()
        for i in range(orders):
            exchange.create_order(SYMBOL, "market", "buy" if i % 2 == 0 else "sell", 0.0002,
                                  None, {"newClientOrderId": f"raw{i}"})
        bare = orders / (time.perf_counter() - started)
        return {"orders_per_s": ours, "ccxt_orders_per_s": bare, "orders_timed": orders}
    finally:
        emulator.stop()


def measure_reconcile(candles: dict[str, Any], open_orders: int) -> dict[str, float]:
    spec = MarketSpec(max_num_orders=max(200, open_orders + 10))
    emulator = _emulator(candles, balances={"USDT": 1e9, "BTC": 1e3},
                         markets={SYMBOL: spec, "ETH/USDT": spec})
    emulator.add_fault({"kind": "delayed_fill", "probability": 1.0})
    try:
        client = _client(emulator, "bench-reconcile")
        client.start()
        ts = emulator.clock.now_ms() // MINUTE * MINUTE - MINUTE
        for i in range(open_orders):
            client.submit([_request(i, ts)])
        assert len(client.orders.working()) == open_orders, "orders did not stay open"
        started = time.perf_counter()
        view = client.venue_view()
        differences = reconcile_venue(
            cash=view.balances.get("USDT", 0.0), positions={}, balances=view.balances,
            rules=[client.rules(SYMBOL)], venue_open=view.open_orders, working=view.working,
            unseen=view.unseen, dust_quote=1e12)
        reconcile_s = time.perf_counter() - started
        kinds = {d.kind for d in differences}
        assert not kinds & {"unknown_open_order", "missing_open_order"}, differences[:3]
        started = time.perf_counter()
        client.poll(trades=False)
        poll_s = time.perf_counter() - started
        return {"reconcile_1000_s": reconcile_s * 1000 / open_orders if open_orders != 1000
                else reconcile_s, "reconcile_open_orders": open_orders,
                "reconcile_measured_s": reconcile_s, "poll_1000_s": poll_s * 1000 / open_orders}
    finally:
        emulator.stop()


def measure_session(data: Path, candles: dict[str, Any], minutes: int) -> dict[str, float]:
    from actors.live.run import run_session
    from configs.loader import load_config

    speed = 60.0
    start_ms = FIRST_BAR + 600 * MINUTE + 30_000
    emulator = _emulator(candles, speed=speed, start_ms=start_ms)
    # the first bar closes after the tree is up (~8 s here), so no step starts late
    first_bar = start_ms - start_ms % MINUTE + AHEAD_BARS * MINUTE
    folder = Path(tempfile.mkdtemp(prefix="bench_exchange_"))
    lines = ['[app]', 'mode = "testnet"', '[data]', f'dir = "{data}"', 'timeframe = "1m"',
             'symbols = ["BTC/USDT"]', 'synthetic_fallback = false',
             '[exchange]', f'api_url = "{emulator.url}"',
             '[strategy]', 'name = "momentum"', 'params = { fast = 2, slow = 3 }',
             '[session]', f'start = "{first_bar}"', f'duration = "{minutes}m"',
             f"speed = {speed}", 'candidates = []',
             f'sessions_dir = "{folder / "sessions"}"',
             '[guardian]', f'kill_switch_file = "{folder / "KILL"}"',
             # its own Ray: joining another cluster on this machine would measure (and
             # disturb) whatever runs there
             '[ray]', 'address = "local"', 'namespace = "evotrader-bench"']
    (folder / "bench.toml").write_text("\n".join(lines) + "\n")
    os.environ.setdefault("EVOTRADER_EXCHANGE_API_KEY", emulator.config.api_key)
    os.environ.setdefault("EVOTRADER_EXCHANGE_API_SECRET", emulator.config.api_secret)
    try:
        loaded = load_config(folder / "bench.toml")
        result = run_session(loaded, session_id="bench", quiet=True)
        import csv
        with open(result.folder / "orders.csv", newline="") as handle:
            decided = {venue_client_order_id("bench", o["client_order_id"]): int(o["ts"])
                       for o in csv.DictReader(handle)}
        arrivals = [r for r in emulator.requests("/api/v3/order") if r.method == "POST"]
        acks = sorted((r.venue_ms - (decided[r.params["newClientOrderId"]] + MINUTE)) / speed
                      for r in arrivals if r.params.get("newClientOrderId") in decided)
        feed = feed_requests(emulator.requests(),
                             [first_bar + (k + 1) * MINUTE for k in range(minutes)], speed)
    finally:
        emulator.stop()
    if not acks:
        raise SystemExit("the session sent no order: no venue latency to report")
    p99 = acks[min(len(acks) - 1, math.ceil(0.99 * len(acks)) - 1)]
    return {"venue_ack_p50_ms": statistics.median(acks), "venue_ack_p99_ms": p99,
            "venue_ack_orders": len(acks), "session_minutes": minutes, **feed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, a short session")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared" / "data", help="the real data folder (../shared/data)")
    args = parser.parse_args(argv)
    if not (args.data / "ohlcv").is_dir():
        print(f"error: real market data not found at {args.data}", file=sys.stderr)
        return 2
    calls, orders, open_orders, minutes = ((50, 50, 200, 15) if args.quick
                                           else (500, 300, 1000, 60))
    candles = _candles(args.data, 3000)
    figures: dict[str, Any] = {"command": " ".join(["python", "scripts/bench_exchange.py",
                                                    *(argv if argv is not None else
                                                      sys.argv[1:])]),
                               "quick": args.quick, "cpu": cpu_model(),
                               "python": platform.python_version(),
                               "load_average_start": os.getloadavg()[0]}
    emulator = _emulator(candles)
    try:
        figures.update(measure_overhead(emulator, calls))
    finally:
        emulator.stop()
    figures.update(measure_orders(candles, orders))
    figures.update(measure_reconcile(candles, open_orders))
    figures.update(measure_session(args.data, candles, minutes))
    figures["load_average_end"] = os.getloadavg()[0]  # 1-minute: what else ran meanwhile
    for key, goal in GOALS.items():
        figures[f"goal_{key}_met"] = bool(figures[key] <= goal)
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        goal = f"  (goal <= {GOALS[key]:g}: {'met' if figures[f'goal_{key}_met'] else 'NOT met'})" \
            if key in GOALS else ""
        print(f"{key}: {shown}{goal}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

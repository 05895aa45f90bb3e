r"""Benchmark the backtester against vectorbt 1.2 on equal workloads.

Usage::

    python scripts/bench_backtest.py [--quick] [--json PATH] [--data DIR]

What is measured, in one run:

* **(a) sparse**: a seeded random-walk OHLCV matrix of 1,000,000 bars x 8 columns (built once)
  with sparse random entry/exit signals tuned to ~1,400 fills per column; taker fee 10 bps,
  half-spread slippage 5 bps. Our ``run_backtest`` on one core and with
  ``n_threads=os.cpu_count()``, and vectorbt's ``Portfolio.from_signals`` (single-threaded)
  on the same prices and signals.
* **(b) real**: the Binance BTC/USDT 1m series (``<data>/ohlcv/BINANCE_BTC-USDT_1m.parquet``)
  with moving-average-cross targets from :func:`core.strategies.momentum_targets`. One column
  is only 130,708 bars, so the timed workload is a grid of 8 (fast, slow) pairs run as 8
  columns over the one shared price column (column 0 is the issue's fast=20/slow=50); the
  single (20, 50) column is also timed on its own as an extra figure.
* **start-up**: the time to import ``core.backtest`` and of the first ``run_backtest`` call
  in a fresh process whose numba cache is already populated (``warm_start_s``), plus (not
  with ``--quick``) one cold compile into an empty temporary ``NUMBA_CACHE_DIR``
  (``cold_start_s``).

What is timed: ``run_backtest`` (simulation producing order/trade records and statistics)
against ``vbt.Portfolio.from_signals`` (simulation producing order records); data and signal
generation, input conversion and validation are excluded for both. Both engines compute the
equity curve lazily, so it is also timed separately (``result.equity`` vs ``pf.value()``)
in the ``*_with_equity`` figures. Every figure is the median of several repeats measured with
``time.perf_counter`` after a warm-up (JIT compile) call; the operations of a workload are
timed round-robin (one sample of each per round) so that background load on a shared machine
hits them alike and the ratios stay meaningful.

vectorbt semantics: it fills at the price of the bar carrying the signal, so its signals
are shifted forward by one bar and ``price=open`` is passed, which reproduces our next-bar
open execution; ``fees=0.001``, ``slippage=0.0005``, same ``init_cash``, ``size=inf``
(all-in, like our fixed fraction 1.0 capped by cash), ``accumulate=False``, long only,
``engine="numba"`` (vectorbt 1.2 would pick its optional Rust engine when
``vectorbt-rust`` is installed). The per-column fill and trade counts of both engines are
printed to show the workloads match, together with the largest relative difference of the
final equity.

``--data DIR`` defaults to ``$EVOTRADER_SHARED_DATA`` when set, else ``../shared/data``
relative to the repository root. Options ``--bars``, ``--repeats`` and ``--no-cold`` are
meant for tests (tiny smoke runs). Exit codes: 0 done, 2 bad usage or missing data.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from configs.backtest import BacktestConfig
from core.backtest import BacktestResult, MarketArrays, Signals, Targets, run_backtest
from core.strategies import momentum_targets

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_FILE = Path("ohlcv") / "BINANCE_BTC-USDT_1m.parquet"
MINUTE_MS = 60_000

INIT_CASH = 10_000.0
TAKER_FEE_BPS = 10.0
HALF_SPREAD_BPS = 5.0
SEED = 20261121

FULL_BARS = 1_000_000
QUICK_BARS = 250_000
N_COLUMNS = 8
FILLS_PER_MILLION_BARS = 1_400
FULL_REPEATS = 7
QUICK_REPEATS = 3
# Fast calls are batched so that one timing sample lasts at least this long (s).
MIN_SAMPLE_S = 0.2
QUICK_MIN_SAMPLE_S = 0.1

# (fast, slow) pairs of the real-data grid; the first is the MA cross.
MA_GRID: tuple[tuple[int, int], ...] = (
    (20, 50), (10, 30), (5, 20), (50, 200), (30, 100), (15, 60), (40, 120), (100, 300),
)

# (comparison, threshold, shown goal) per figure with a goal in the issue.
GOALS: dict[str, tuple[str, float, str]] = {
    "ratio_vs_vectorbt": (">=", 20.0, ">= 20x"),
    "sparse_bars_per_s_1core": (">=", 150e6, ">= 150 M bars/s"),
    "scaling_all_cores": (">=", 1.7, ">= 1.7x (2 cores)"),
    "warm_start_s": ("<", 2.0, "< 2 s"),
}

REQUIRED_KEYS = (
    "sparse_bars_per_s_1core",
    "sparse_bars_per_s_all_cores",
    "scaling_all_cores",
    "real_bars_per_s_1core",
    "vectorbt_sparse_bars_per_s",
    "ratio_vs_vectorbt",
    "warm_start_s",
)

# Runs in a fresh interpreter: import time, then the first call (numba cache load + run).
_START_SNIPPET = """
import json, time
t0 = time.perf_counter()
import core.backtest as bt
t1 = time.perf_counter()
import numpy as np
from configs.backtest import BacktestConfig
n = 2_000
close = 100.0 + np.sin(np.arange(n) / 50.0)
ts = np.arange(n, dtype=np.int64) * 60_000
market = bt.MarketArrays.from_arrays(ts, close, close * 1.001, close * 0.999, close,
                                     np.ones(n), timeframe_ms=60_000)
entries = np.zeros(n, dtype=bool)
exits = np.zeros(n, dtype=bool)
entries[10::200] = True
exits[110::200] = True
signals = bt.Signals(entries, exits)
config = BacktestConfig(costs={"taker_fee_bps": 10, "half_spread_bps": 5}, min_notional=0.0)
t2 = time.perf_counter()
result = bt.run_backtest(market, signals, config)
t3 = time.perf_counter()
result.equity
t4 = time.perf_counter()
assert len(result.orders) > 0
print(json.dumps({"import_s": t1 - t0, "warm_start_s": t3 - t2, "first_equity_s": t4 - t3}))
"""


class UsageError(Exception):
    """Bad command line or missing input data (exit code 2)."""


@dataclass(frozen=True)
class Timing:
    """Per-call seconds of one measured operation.

    Attributes:
        samples: Seconds per call of every repeat (each repeat may average a batch of calls).
        batch: Calls per repeat.
    """

    samples: tuple[float, ...]
    batch: int

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples)

    def describe(self, bar_columns: int) -> str:
        """One line: median rate and the spread of the repeats."""
        rates = sorted(bar_columns / s for s in self.samples)
        return (f"{_fmt_rate(bar_columns / self.median)} bars/s median of {len(self.samples)} "
                f"x {self.batch} call(s); range {_fmt_rate(rates[0])} .. {_fmt_rate(rates[-1])}")


@dataclass(frozen=True)
class Workload:
    """The inputs of one benchmark, prepared for both engines.

    Attributes:
        name: Short label.
        market: Our market arrays.
        instructions: Our signals or targets.
        vbt_close: Closes for vectorbt (valuation).
        vbt_open: Opens for vectorbt (fill price).
        vbt_entries: Entries shifted one bar forward (vectorbt fills on the signal's bar).
        vbt_exits: Exits shifted one bar forward.
        bar_columns: Bars x columns simulated per call.
    """

    name: str
    market: MarketArrays
    instructions: Signals | Targets
    vbt_close: np.ndarray
    vbt_open: np.ndarray
    vbt_entries: np.ndarray
    vbt_exits: np.ndarray
    bar_columns: int


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bench_backtest.py",
        description="Benchmark run_backtest against vectorbt's Portfolio.from_signals.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPEATS} repeats, {QUICK_BARS:,} bars for (a), no cold "
                             "compile: finishes in under a minute")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as a flat JSON object to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="shared data folder holding ohlcv/ (default: "
                             "$EVOTRADER_SHARED_DATA, else ../shared/data next to the repo)")
    # Test-only knobs (tiny smoke runs); hidden from --help.
    parser.add_argument("--bars", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-cold", action="store_true", help=argparse.SUPPRESS)
    return parser


def resolve_data_dir(given: Path | None) -> Path:
    """The data folder: ``--data``, else ``$EVOTRADER_SHARED_DATA``, else ``../shared/data``.

    Args:
        given: The ``--data`` argument, if any.

    Returns:
        The folder (not checked).
    """
    if given is not None:
        return given
    configured = os.environ.get("EVOTRADER_SHARED_DATA")
    if configured:
        return Path(configured)
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def time_interleaved(ops: dict[str, Callable[[], object]], repeats: int,
                     min_sample_s: float = MIN_SAMPLE_S) -> dict[str, Timing]:
    """Warm every operation up, then time ``repeats`` rounds that run each of them in turn.

    Interleaving makes background load on a shared machine hit every operation alike, so
    ratios between them (ours/vectorbt, all cores/one core) are steadier than timing one
    operation after the other. Calls faster than ``min_sample_s`` are batched (the batch size
    is calibrated on a second untimed call) so timer resolution and scheduling matter less.

    Args:
        ops: Named operations; their results are dropped.
        repeats: Timed rounds.
        min_sample_s: Target duration of one sample.

    Returns:
        The per-call seconds of every sample, by operation name.
    """
    batches = {}
    for name, fn in ops.items():
        fn()  # warm-up: JIT compile, caches, page faults
        gc.collect()
        start = time.perf_counter()
        fn()
        single = time.perf_counter() - start
        batches[name] = max(1, math.ceil(min_sample_s / max(single, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(batches[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / batches[name])
    return {name: Timing(samples=tuple(samples[name]), batch=batches[name]) for name in ops}


def random_walk_ohlcv(n_bars: int, n_cols: int, rng: np.random.Generator
                      ) -> dict[str, np.ndarray]:
    """Seeded random-walk OHLCV matrices, shape ``(n_bars, n_cols)``, column-major.

    Args:
        n_bars: Bars per column.
        n_cols: Columns.
        rng: Random generator.

    Returns:
        ``open``, ``high``, ``low``, ``close``, ``volume`` (consistent: low <= open, close
        <= high, all positive).
    """
    shape = (n_bars, n_cols)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, shape), axis=0))
    open_ = np.empty(shape)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 1e-4, (n_bars - 1, n_cols)))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, shape)))
    volume = rng.lognormal(3.0, 1.0, shape)
    return {name: np.asfortranarray(values) for name, values in
            (("open", open_), ("high", high), ("low", low), ("close", close),
             ("volume", volume))}


def sparse_signals(n_bars: int, n_cols: int, fills_per_million: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Independent random entries and exits giving about ``fills_per_million`` fills per 1M bars.

    With entry and exit probability ``p`` per bar, a flat -> long -> flat cycle lasts about
    ``2 / p`` bars and makes 2 fills, so a column of ``n`` bars gets about ``n * p`` fills.

    Args:
        n_bars: Bars per column.
        n_cols: Columns.
        fills_per_million: Wanted fills per million bars and column.
        rng: Random generator.

    Returns:
        Column-major boolean ``(entries, exits)``.
    """
    p = fills_per_million / 1e6
    entries = np.asfortranarray(rng.random((n_bars, n_cols)) < p)
    exits = np.asfortranarray(rng.random((n_bars, n_cols)) < p)
    return entries, exits


def shift_forward(signals: np.ndarray) -> np.ndarray:
    """Move signals one bar later (a signal at the close of bar i acts at bar i + 1)."""
    out = np.zeros_like(signals, order="F")
    out[1:] = signals[:-1]
    return out


def target_changes(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries/exits equivalent to long-only targets in {NaN, 0, 1}, as our kernel reads them.

    Our kernel acts when a non-NaN target differs from the last non-NaN one: a change to 1
    opens a long, a change to 0 closes it.

    Args:
        targets: ``(n_bars, n_cols)`` float targets.

    Returns:
        Boolean ``(entries, exits)`` on the decision bars (not shifted).
    """
    held = pd.DataFrame(targets).ffill().to_numpy()
    previous = np.full_like(held, np.nan)
    previous[1:] = held[:-1]
    entries = (targets == 1.0) & (previous != 1.0)
    exits = (targets == 0.0) & (previous == 1.0)
    return np.asfortranarray(entries), np.asfortranarray(exits)


def sparse_workload(n_bars: int) -> Workload:
    """Workload (a): random-walk prices and sparse random signals, 8 columns."""
    rng = np.random.default_rng(SEED)
    prices = random_walk_ohlcv(n_bars, N_COLUMNS, rng)
    entries, exits = sparse_signals(n_bars, N_COLUMNS, FILLS_PER_MILLION_BARS, rng)
    timestamp = np.arange(n_bars, dtype=np.int64) * MINUTE_MS
    market = MarketArrays.from_arrays(timestamp, prices["open"], prices["high"], prices["low"],
                                      prices["close"], prices["volume"],
                                      timeframe_ms=MINUTE_MS, synthetic=True)
    return Workload(name="sparse", market=market, instructions=Signals(entries, exits),
                    vbt_close=market.close, vbt_open=market.open,
                    vbt_entries=shift_forward(entries), vbt_exits=shift_forward(exits),
                    bar_columns=n_bars * N_COLUMNS)


def load_real(path: Path) -> MarketArrays:
    """The real BTC/USDT 1m series as one shared price column."""
    frame = pd.read_parquet(path)
    return MarketArrays.from_arrays(
        frame["timestamp"].to_numpy(), frame["open"].to_numpy(), frame["high"].to_numpy(),
        frame["low"].to_numpy(), frame["close"].to_numpy(), frame["volume"].to_numpy(),
        timeframe_ms=MINUTE_MS, symbols=("BTC/USDT",),
    )


def real_workload(market: MarketArrays, pairs: Sequence[tuple[int, int]], name: str
                  ) -> Workload:
    """Workload (b): MA-cross targets of ``pairs`` as columns over the shared BTC column."""
    close = market.close[:, 0]
    targets = np.column_stack([momentum_targets(close, fast, slow) for fast, slow in pairs])
    entries, exits = target_changes(targets)
    return Workload(name=name, market=market, instructions=Targets(targets),
                    vbt_close=market.close, vbt_open=market.open,
                    vbt_entries=shift_forward(entries), vbt_exits=shift_forward(exits),
                    bar_columns=market.n_bars * len(pairs))


def our_config() -> BacktestConfig:
    """Fees 10 bps taker, 5 bps half-spread, all-in long only, no minimum notional."""
    return BacktestConfig(initial_cash=INIT_CASH,
                          costs={"taker_fee_bps": TAKER_FEE_BPS,
                                 "half_spread_bps": HALF_SPREAD_BPS},
                          min_notional=0.0)


def run_vectorbt(work: Workload) -> Any:
    """Run ``vbt.Portfolio.from_signals`` with our semantics (see the module docstring)."""
    import vectorbt as vbt

    return vbt.Portfolio.from_signals(
        work.vbt_close, work.vbt_entries, work.vbt_exits, price=work.vbt_open,
        fees=TAKER_FEE_BPS * 1e-4, slippage=HALF_SPREAD_BPS * 1e-4, init_cash=INIT_CASH,
        size=np.inf, accumulate=False, direction="longonly", engine="numba",
    )


def per_column_counts(records: np.ndarray, n_cols: int) -> np.ndarray:
    """Rows per column of our order or trade records (first field = column index)."""
    return np.bincount(records[:, 0].astype(np.int64), minlength=n_cols)


def compare_engines(work: Workload, ours: BacktestResult, pf: Any) -> dict[str, Any]:
    """Fill/trade counts per column of both engines and their final-equity agreement."""
    k = work.instructions.shape[1]
    vbt_orders = np.asarray(pf.orders.count(), dtype=np.int64).reshape(-1)
    vbt_trades = np.asarray(pf.trades.count(), dtype=np.int64).reshape(-1)
    our_final = ours.equity[-1]
    vbt_final = np.asarray(pf.value(), dtype=np.float64).reshape(ours.equity.shape)[-1]
    return {
        "orders_ours": per_column_counts(ours.orders, k),
        "orders_vbt": vbt_orders,
        "trades_ours": per_column_counts(ours.trades, k),
        "trades_vbt": vbt_trades,
        "final_equity_max_rel_diff": float(np.max(np.abs(our_final / vbt_final - 1.0))),
    }


def _fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.1f} M"
    return f"{value / 1e3:,.1f} k"


def _counts(values: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in values)


def bench_workload(work: Workload, repeats: int, n_all: int, prefix: str, vbt_prefix: str,
                   all_cores: bool = True, min_sample_s: float = MIN_SAMPLE_S
                   ) -> tuple[dict[str, Any], list[str]]:
    """Time one workload on both engines.

    Args:
        work: The prepared inputs.
        repeats: Timed samples per figure.
        n_all: Threads for the all-cores figure.
        prefix: Key prefix of our figures (e.g. ``sparse``).
        vbt_prefix: Key prefix of the vectorbt figures (e.g. ``vectorbt_sparse``).
        all_cores: Whether to time the all-cores run too.
        min_sample_s: Shortest timing sample (fast calls are batched up to it).

    Returns:
        The figures (flat keys) and human-readable detail lines.
    """
    config = our_config()
    n = work.bar_columns
    lines = [f"[{work.name}] {work.market.n_bars:,} bars x {work.instructions.shape[1]} "
             f"columns = {n:,} bar-columns per call"]
    figures: dict[str, Any] = {}

    def ours(threads: int) -> Callable[[], BacktestResult]:
        return lambda: run_backtest(work.market, work.instructions, config, n_threads=threads)

    ops: dict[str, Callable[[], object]] = {"ours 1 core": ours(1)}
    if all_cores:
        ops[f"ours {n_all} threads"] = ours(n_all)
    ops["ours 1 core + equity"] = lambda: ours(1)().equity
    ops["vectorbt"] = lambda: run_vectorbt(work)
    ops["vectorbt + value()"] = lambda: run_vectorbt(work).value()
    timings = time_interleaved(ops, repeats, min_sample_s)
    for name, timing in timings.items():
        lines.append(f"  {name:<24}: {timing.describe(n)}")
    one = timings["ours 1 core"]
    figures[f"{prefix}_bars_per_s_1core"] = n / one.median
    if all_cores:
        many = timings[f"ours {n_all} threads"]
        figures[f"{prefix}_bars_per_s_all_cores"] = n / many.median
        figures[f"{prefix}_scaling_all_cores"] = one.median / many.median
    figures[f"{prefix}_bars_per_s_1core_with_equity"] = n / timings["ours 1 core + equity"].median
    figures[f"{vbt_prefix}_bars_per_s"] = n / timings["vectorbt"].median
    figures[f"{vbt_prefix}_bars_per_s_with_equity"] = n / timings["vectorbt + value()"].median

    check = compare_engines(work, ours(1)(), run_vectorbt(work))
    figures[f"{prefix}_orders_per_column_ours"] = _counts(check["orders_ours"])
    figures[f"{prefix}_orders_per_column_vectorbt"] = _counts(check["orders_vbt"])
    figures[f"{prefix}_trades_per_column_ours"] = _counts(check["trades_ours"])
    figures[f"{prefix}_trades_per_column_vectorbt"] = _counts(check["trades_vbt"])
    figures[f"{prefix}_orders_match"] = bool(
        np.array_equal(check["orders_ours"], check["orders_vbt"]))
    figures[f"{prefix}_trades_match"] = bool(
        np.array_equal(check["trades_ours"], check["trades_vbt"]))
    figures[f"{prefix}_final_equity_max_rel_diff"] = check["final_equity_max_rel_diff"]
    lines += [
        f"  fills per column  ours  : {_counts(check['orders_ours'])}",
        f"  fills per column  vbt   : {_counts(check['orders_vbt'])}",
        f"  trades per column ours  : {_counts(check['trades_ours'])}",
        f"  trades per column vbt   : {_counts(check['trades_vbt'])}",
        f"  final equity, max |ours/vbt - 1| = {check['final_equity_max_rel_diff']:.2e}",
    ]
    return figures, lines


def _run_start_snippet(env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _START_SNIPPET], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"start-up probe failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_start(repeats: int, cold: bool) -> tuple[dict[str, float], list[str]]:
    """Import and first-call times of ``core.backtest`` in fresh interpreters.

    A first probe populates the numba cache (wherever this environment puts it), then
    ``repeats`` fresh probes are timed. With ``cold``, one more probe compiles from an empty
    temporary ``NUMBA_CACHE_DIR``.

    Args:
        repeats: Warm probes to take the median of.
        cold: Whether to measure one cold compile as well.

    Returns:
        ``import_s``, ``warm_start_s``, ``warm_first_equity_s`` (and ``cold_start_s``), and
        detail lines.
    """
    env = dict(os.environ)
    _run_start_snippet(env)  # make sure the cache is populated
    probes = [_run_start_snippet(env) for _ in range(repeats)]
    figures = {
        "import_s": statistics.median(p["import_s"] for p in probes),
        "warm_start_s": statistics.median(p["warm_start_s"] for p in probes),
        "warm_first_equity_s": statistics.median(p["first_equity_s"] for p in probes),
    }
    lines = [
        f"[start-up] {repeats} fresh process(es), numba cache populated: import core.backtest "
        f"{figures['import_s']:.3f} s, first run_backtest {figures['warm_start_s']:.3f} s, "
        f"first equity {figures['warm_first_equity_s']:.3f} s (medians; first-call samples "
        + ", ".join(f"{p['warm_start_s']:.3f}" for p in probes) + ")"
    ]
    if cold:
        with tempfile.TemporaryDirectory(prefix="bench_numba_cache_") as cache:
            probe = _run_start_snippet({**env, "NUMBA_CACHE_DIR": cache})
        figures["cold_start_s"] = probe["warm_start_s"] + probe["first_equity_s"]
        lines.append(f"  cold (empty NUMBA_CACHE_DIR): first run_backtest "
                     f"{probe['warm_start_s']:.2f} s + first equity "
                     f"{probe['first_equity_s']:.2f} s")
    return figures, lines


def machine_info() -> dict[str, Any]:
    """CPU count, CPU model, load and library versions."""
    import vectorbt as vbt

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpu_count": os.cpu_count() or 1,
        "cpu_model": model,
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "vectorbt": vbt.__version__,
        "platform": platform.platform(),
    }


def goal_met(key: str, value: float) -> bool:
    """Whether ``value`` meets the issue's goal for figure ``key``."""
    op, threshold, _ = GOALS[key]
    return bool(value >= threshold if op == ">=" else value < threshold)


def goal_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, PASS/FAIL) rows for the summary table."""
    rows = []
    for key in REQUIRED_KEYS + (
        "sparse_bars_per_s_1core_with_equity", "vectorbt_sparse_bars_per_s_with_equity",
        "ratio_vs_vectorbt_with_equity", "real_bars_per_s_all_cores", "real_scaling_all_cores",
        "vectorbt_real_bars_per_s", "ratio_vs_vectorbt_real",
        "real_single_bars_per_s_1core", "vectorbt_real_single_bars_per_s",
        "ratio_vs_vectorbt_real_single", "import_s", "cold_start_s",
    ):
        if key not in figures:
            continue
        value = figures[key]
        if "bars_per_s" in key:
            shown = f"{_fmt_rate(value)} bars/s"
        elif key.endswith("_s"):
            shown = f"{value:.3f} s"
        else:
            shown = f"{value:.2f}x"
        goal, verdict = "", ""
        if key in GOALS:
            goal = GOALS[key][2]
            verdict = "PASS" if goal_met(key, value) else "FAIL"
        rows.append((key, shown, goal, verdict))
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Print the summary table."""
    header = ("figure", "value", "goal", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every benchmark and return the flat figures.

    Raises:
        UsageError: On bad sizes or missing data.
    """
    data_dir = resolve_data_dir(args.data)
    real_path = data_dir / REAL_FILE
    if not real_path.is_file():
        raise UsageError(f"real data file not found: {real_path} "
                         "(use --data DIR or set EVOTRADER_SHARED_DATA)")
    bars = args.bars or (QUICK_BARS if args.quick else FULL_BARS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    if bars < 1_000 or repeats < 1:
        raise UsageError("--bars must be >= 1000 and --repeats >= 1")
    n_all = os.cpu_count() or 1

    figures: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "quick": bool(args.quick),
        "date": time.strftime("%Y-%m-%d"),
    }
    info = machine_info()
    figures.update(info)
    figures.update({"sparse_bars": bars, "sparse_columns": N_COLUMNS,
                    "real_bars": 0, "real_columns": len(MA_GRID), "repeats": repeats,
                    "threads_all_cores": n_all, "vectorbt_threads": 1,
                    "vectorbt_engine": "numba"})
    print(f"command: {figures['command']}")
    print(f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), "
          f"load {info['load_avg_1m_at_start']}; python {info['python']}, "
          f"numba {info['numba']}, numpy {info['numpy']}, pandas {info['pandas']}, "
          f"vectorbt {info['vectorbt']} (numba engine, 1 thread)")
    mode = "--quick" if args.quick else "--bars"
    note = f" ({mode}: {bars:,} bars instead of {FULL_BARS:,})" if bars != FULL_BARS else ""
    print(f"(a) sparse: {bars:,} bars x {N_COLUMNS} columns{note}, ~{FILLS_PER_MILLION_BARS:,} "
          f"fills per column per 1M bars; medians of {repeats} repeats", flush=True)

    sample_s = QUICK_MIN_SAMPLE_S if args.quick or args.bars else MIN_SAMPLE_S
    clock = time.perf_counter()

    def section(found: dict[str, Any], lines: list[str]) -> None:
        figures.update(found)
        lines[0] += f"  (section took {time.perf_counter() - clock:.1f} s)"
        print("\n".join(lines), flush=True)

    sparse = sparse_workload(bars)
    section(*bench_workload(sparse, repeats, n_all, "sparse", "vectorbt_sparse",
                            min_sample_s=sample_s))
    del sparse

    clock = time.perf_counter()
    market = load_real(real_path)
    figures["real_bars"] = market.n_bars
    grid = real_workload(market, MA_GRID, "real MA grid " + " ".join(
        f"{fast}/{slow}" for fast, slow in MA_GRID))
    section(*bench_workload(grid, repeats, n_all, "real", "vectorbt_real",
                            min_sample_s=sample_s))
    clock = time.perf_counter()
    single = real_workload(market, MA_GRID[:1], "real single MA 20/50")
    section(*bench_workload(single, repeats, n_all, "real_single", "vectorbt_real_single",
                            all_cores=False, min_sample_s=sample_s))

    clock = time.perf_counter()
    cold = not (args.no_cold or args.quick)
    section(*measure_start(2 if args.quick else min(repeats, 5), cold=cold))

    figures["scaling_all_cores"] = figures.pop("sparse_scaling_all_cores")
    figures["ratio_vs_vectorbt"] = (figures["sparse_bars_per_s_1core"]
                                    / figures["vectorbt_sparse_bars_per_s"])
    figures["ratio_vs_vectorbt_with_equity"] = (
        figures["sparse_bars_per_s_1core_with_equity"]
        / figures["vectorbt_sparse_bars_per_s_with_equity"])
    figures["ratio_vs_vectorbt_real"] = (figures["real_bars_per_s_1core"]
                                         / figures["vectorbt_real_bars_per_s"])
    figures["ratio_vs_vectorbt_real_with_equity"] = (
        figures["real_bars_per_s_1core_with_equity"]
        / figures["vectorbt_real_bars_per_s_with_equity"])
    figures["ratio_vs_vectorbt_real_single"] = (
        figures["real_single_bars_per_s_1core"] / figures["vectorbt_real_single_bars_per_s"])
    for key in GOALS:
        figures[f"goal_{key}_met"] = goal_met(key, figures[key])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        figures = run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    figures["elapsed_s"] = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print()
    print_table(goal_rows(figures))
    print(f"elapsed {figures['elapsed_s']:.1f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

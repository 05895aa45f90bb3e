r"""Benchmark the live actor system in SIM: throughput, bar-to-ack latency, restarts, memory.

Usage::

    python scripts/bench_actors.py [--quick] [--json PATH] [--data DIR] [--address ADDR]
                                   [--repeats N] [--soak-minutes M] [--steps-per-s R]
                                   [--kills N] [--history-bars N] [--cost-steps N]

Sessions run through the real entry point :func:`actors.live.run.run_session` (the whole
supervision tree, the session actor that steps it, the session folder); this script is only
their client, as the CLI is. They run one after another in ONE Ray instance: a local one the
script starts (loopback, ``num_cpus=2``, 256 MB object store, no dashboard, actor logs kept
out of this output) and stops at the end, or the cluster given with ``--address``. Its
actors live in a Ray namespace of their own (``evotrader-bench-<pid>``); a no-op actor call is
timed as the reference hop (``ray_call_ms_p50``/``_p99``). Data: Binance BTC/USDT + ETH/USDT 1m
(``<data>/ohlcv/BINANCE_{BTC,ETH}-USDT_1m.parquet``), the live momentum 20/50 and the default
three candidates (momentum 10/30, momentum 50/200, mean reversion).

Figures (JSON keys; every goal figure is measured in the same run):

* ``per_bar_cost_ratio`` (in process, no Ray, before Ray starts;
  :mod:`scripts.bench_step_cost`). Everything a paced step computes: the slot's runners, and
  for the live strategy and each of the three candidates a full trading step (runners, order
  planner, risk engine with its breakers, portfolio from events, paper venue) through a
  :class:`~core.trading.book.PaperBook` gated by :class:`~core.trading.risk.RiskEngine`, on
  synthetic 1m data (:func:`core.data.generate_synthetic`, seeds 1 and 2). One stack is fed
  1,000 bars, the other ``--history-bars`` (default 1,000,000) in 100,000-bar batches; then
  ``--cost-steps`` one-bar steps alternate between the two. Ratio = median step time of the
  long history / of the short one.
* ``sim_bars_per_s``. Unpaced sessions (as fast as possible) with the 3 candidates,
  ``--batch-bars`` bars per step, over the whole file (the last 32,768 minutes with
  ``--quick``): ``result.bars / result.elapsed_s`` (bars = timeline bars x symbols; the
  session actor's stepping time, without start-up), median over ``--repeats`` sessions.
* ``latency_p50_ms``, ``latency_p99_ms``. One paced session (``[session] speed``, so one bar
  per step) at ``--steps-per-s`` steps/s, with the 3 candidates. After ``--warmup-steps``
  steps, and once the session no longer catches up on its pacing plan (a session whose actors
  were slow to start steps back to back until it is on schedule), the ``ack`` stage (step
  start -> the feeds publish -> the slot pushes its signals -> the guardian trades through the
  executor and journals the step -> its answer, as the session loop records it) of every step
  of the soak, read back from the session's SQLite store (``SessionStore.latencies("live")``).
  The guardian's own stages (signal: waiting for the slot's signals; risk: the trading loop
  without the executor; order: the exchanges with the executor; journal: the fsynced
  write-ahead record) are given as medians to show where the time goes; the rest of the ack is
  the publish calls and the session -> guardian call's transport.
* ``soak_rss_growth_fraction``, ``soak_p99_drift``. The same session goes on for
  ``--soak-minutes`` after the warm-up. A thread samples the summed RSS of the Ray processes
  (every descendant of this process: GCS, raylet, every worker, when the script started Ray;
  the session's actor workers when it joined a cluster) and the session's progress. Growth =
  median RSS of the last window / of the first - 1; drift = ack p99 of the steps of the last
  window / of the first. A window is 5 minutes (a third of the soak if that is shorter).
* ``session_restart_s``. Then ``--kills`` times the session actor is killed
  (``ray.kill(handle, no_restart=True)`` and ``SIGKILL`` of its worker, ``pid()``,
  alternating); its supervisor starts a new one, which resumes from its checkpoint. The time
  from the kill until a new session actor reports more completed ``steps`` than before the
  kill (``status()`` polled every 20 ms); median over the kills. Then the session is asked to
  stop (``benchmark done``).

``--quick``: the last 32,768 bars for one throughput session, 100 warm-up steps, a 0.4-minute
soak, 2 kills, 200 cost steps after the full 1,000,000-bar history (a few seconds): 1-2
minutes in all. ``--data DIR`` defaults to ``$EVOTRADER_SHARED_DATA``, else ``../shared/data``
next to the repository. ``--sim-bars`` and ``--warmup-steps`` are test knobs. Exit codes: 0
done, 2 bad usage or missing data, 1 a session failed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

try:  # imported as scripts.bench_actors (tests) or run as a file (scripts/ on sys.path)
    from scripts.bench_common import Goal, git_state, machine_info, print_table, write_json
    from scripts.bench_step_cost import measure as measure_step_cost
except ModuleNotFoundError:  # pragma: no cover - depends on how the script is started
    from bench_common import (  # type: ignore[no-redef]
        Goal,
        git_state,
        machine_info,
        print_table,
        write_json,
    )
    from bench_step_cost import measure as measure_step_cost  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parents[1]
VENUE = "BINANCE"
SYMBOLS = ("BTC/USDT", "ETH/USDT")
TIMEFRAME = "1m"
BAR_MS = 60_000

RAY_CPUS = 2
RAY_OBJECT_STORE_BYTES = 256 * 1024 * 1024

DEFAULT_BATCH_BARS = 8192
FULL_REPEATS, QUICK_REPEATS = 3, 1
QUICK_SIM_BARS = 32_768
DEFAULT_STEPS_PER_S = 20.0
FULL_WARMUP_STEPS, QUICK_WARMUP_STEPS = 300, 100
FULL_SOAK_MINUTES, QUICK_SOAK_MINUTES = 30.0, 0.4
FULL_KILLS, QUICK_KILLS = 5, 2
EDGE_WINDOW_S = 300.0
"""First / last window of the soak compared for growth and drift (or a third of the soak)."""
DEFAULT_HISTORY_BARS = 1_000_000
SHORT_HISTORY_BARS = 1_000
DEFAULT_COST_STEPS = 200
FEED_BATCH_BARS = 100_000
RETRY_TIMEOUT_S = 120.0
POLL_S = 0.02
PROGRESS_EVERY_S = 0.25
RESTART_TIMEOUT_S = 90.0
DATA_HEADROOM_STEPS = 3000
STAGES = ("signal", "risk", "order", "journal", "ack")
"""Latency stages the session records every step (``core.trading.latency.STAGES``), ack last."""
AHEAD_STAGE = "ahead"
"""The stage recorded only by steps whose first exchange went before their signals (it
overlaps ``signal``: not part of the ack's sum)."""
STOP_REASON = "benchmark done"

CANDIDATES = (("mom-fast", "momentum", {"fast": 10, "slow": 30}),
              ("mom-slow", "momentum", {"fast": 50, "slow": 200}),
              ("meanrev", "mean_reversion", {}))
LIVE = ("live", "momentum", {"fast": 20, "slow": 50})

GOALS: dict[str, Goal] = {
    "latency_p50_ms": Goal("<=", 5.0, "<= 5 ms"),
    "latency_p99_ms": Goal("<=", 20.0, "<= 20 ms"),
    "per_bar_cost_ratio": Goal("<=", 1.2, "<= 1.2"),
    "session_restart_s": Goal("<=", 2.0, "<= 2 s"),
    "sim_bars_per_s": Goal(">=", 24_000.0, ">= 24,000 bars/s (previous figure)"),
    "soak_rss_growth_fraction": Goal("<", 0.02, "< 2%"),
    "soak_p99_drift": Goal("<=", 1.2, "<= 1.2"),
}
REQUIRED_KEYS = tuple(GOALS)


class UsageError(Exception):
    """Bad command line or missing input data (exit code 2)."""


class BenchError(Exception):
    """A session failed (exit code 1)."""


# --- command line ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bench_actors.py",
        description="Benchmark the live actor system in SIM: replay throughput, paced "
                    "bar-to-ack latency, per-bar strategy cost vs history, session actor "
                    "restart, RSS and latency drift over a paced soak.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SIM_BARS:,} bars of throughput, {QUICK_SOAK_MINUTES:g}-"
                             f"minute soak, {QUICK_KILLS} kills: 1-2 minutes")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as a flat JSON object to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="shared data folder holding ohlcv/ (default: "
                             "$EVOTRADER_SHARED_DATA, else ../shared/data next to the repo)")
    parser.add_argument("--address", metavar="ADDR",
                        help="join this Ray cluster (host:port or auto) instead of starting "
                             "a local one")
    parser.add_argument("--batch-bars", type=int, default=DEFAULT_BATCH_BARS, metavar="N",
                        help=f"bars per step of the unpaced sessions (default "
                             f"{DEFAULT_BATCH_BARS})")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help=f"unpaced sessions (default {FULL_REPEATS}, {QUICK_REPEATS} "
                             "with --quick); the figure is their median")
    parser.add_argument("--soak-minutes", type=float, metavar="M",
                        help=f"paced soak after the warm-up (default {FULL_SOAK_MINUTES:g}, "
                             f"{QUICK_SOAK_MINUTES:g} with --quick)")
    parser.add_argument("--steps-per-s", type=float, default=DEFAULT_STEPS_PER_S, metavar="R",
                        help=f"pace, one-bar steps per second (default "
                             f"{DEFAULT_STEPS_PER_S:g}: speed {DEFAULT_STEPS_PER_S * 60:g})")
    parser.add_argument("--kills", type=int, metavar="N",
                        help=f"session actor kills (default {FULL_KILLS}, {QUICK_KILLS} with "
                             "--quick)")
    parser.add_argument("--history-bars", type=int, default=DEFAULT_HISTORY_BARS, metavar="N",
                        help=f"long history of the per-bar cost figure (default "
                             f"{DEFAULT_HISTORY_BARS:,})")
    parser.add_argument("--cost-steps", type=int, default=DEFAULT_COST_STEPS, metavar="N",
                        help=f"timed one-bar steps per history (default {DEFAULT_COST_STEPS})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the session folders (printed) instead of deleting them")
    parser.add_argument("--sim-bars", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup-steps", type=int, help=argparse.SUPPRESS)
    return parser


@dataclass(frozen=True)
class Settings:
    """Resolved sizes of one run (see :func:`build_parser` for each)."""

    quick: bool
    data_dir: Path
    address: str | None
    batch_bars: int
    repeats: int
    sim_bars: int | None
    steps_per_s: float
    warmup_steps: int
    soak_s: float
    kills: int
    history_bars: int
    cost_steps: int
    keep: bool

    @property
    def window_s(self) -> float:
        """Length of the first and the last soak window."""
        return min(EDGE_WINDOW_S, self.soak_s / 3.0)

    @property
    def paced_bars(self) -> int:
        """Timeline bars of the paced session (warm-up, soak, kills, headroom)."""
        return int(self.warmup_steps + self.soak_s * self.steps_per_s * 1.3
                   + DATA_HEADROOM_STEPS)


def resolve_data_dir(given: Path | None) -> Path:
    """``--data``, else ``$EVOTRADER_SHARED_DATA``, else ``../shared/data``."""
    if given is not None:
        return given
    configured = os.environ.get("EVOTRADER_SHARED_DATA")
    return Path(configured) if configured else (REPO_ROOT.parent / "shared" / "data").resolve()


def data_bars(data_dir: Path) -> int:
    """Rows of the shortest 1m series.

    Raises:
        UsageError: A data file is missing or unreadable.
    """
    import pyarrow.parquet as pq

    rows = []
    for symbol in SYMBOLS:
        path = data_dir / "ohlcv" / f"{VENUE}_{symbol.replace('/', '-')}_{TIMEFRAME}.parquet"
        if not path.is_file():
            raise UsageError(f"data file not found: {path} "
                             "(use --data DIR or set EVOTRADER_SHARED_DATA)")
        try:
            rows.append(pq.ParquetFile(path).metadata.num_rows)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise UsageError(f"cannot read {path}: {exc}") from exc
    return min(rows)


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Sizes from the command line and ``--quick``; checks the data files.

    Raises:
        UsageError: On out-of-range sizes or missing data.
    """
    quick = bool(args.quick)

    def pick(given: Any, full: Any, short: Any) -> Any:
        return given if given is not None else (short if quick else full)

    settings = Settings(
        quick=quick, data_dir=resolve_data_dir(args.data), address=args.address,
        batch_bars=args.batch_bars, repeats=pick(args.repeats, FULL_REPEATS, QUICK_REPEATS),
        sim_bars=pick(args.sim_bars, None, QUICK_SIM_BARS), steps_per_s=args.steps_per_s,
        warmup_steps=pick(args.warmup_steps, FULL_WARMUP_STEPS, QUICK_WARMUP_STEPS),
        soak_s=60.0 * pick(args.soak_minutes, FULL_SOAK_MINUTES, QUICK_SOAK_MINUTES),
        kills=pick(args.kills, FULL_KILLS, QUICK_KILLS), history_bars=args.history_bars,
        cost_steps=args.cost_steps, keep=bool(args.keep))
    if settings.batch_bars < 1 or settings.repeats < 1:
        raise UsageError("--batch-bars and --repeats must be >= 1")
    if settings.sim_bars is not None and settings.sim_bars < 2:
        raise UsageError("--sim-bars must be >= 2")
    if not (math.isfinite(settings.steps_per_s) and 0.1 <= settings.steps_per_s <= 1000.0):
        raise UsageError("--steps-per-s must be between 0.1 and 1000")
    if settings.warmup_steps < 1:
        raise UsageError("--warmup-steps must be >= 1")
    if not (math.isfinite(settings.soak_s) and settings.soak_s >= 6.0):
        raise UsageError("--soak-minutes must be >= 0.1")
    if settings.kills < 1:
        raise UsageError("--kills must be >= 1")
    if settings.history_bars < 10 * SHORT_HISTORY_BARS or settings.cost_steps < 20:
        raise UsageError(f"--history-bars must be >= {10 * SHORT_HISTORY_BARS:,} and "
                         "--cost-steps >= 20")
    available = data_bars(settings.data_dir)
    if settings.paced_bars > available:
        raise UsageError(f"the paced session needs about {settings.paced_bars:,} bars at "
                         f"{settings.steps_per_s:g} steps/s but the data has {available:,}: "
                         "lower --soak-minutes or --steps-per-s")
    return settings


# --- statistics and processes ---------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear), NaN for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


def median(values: Sequence[float]) -> float:
    """Median, NaN for no values."""
    return percentile(values, 50.0)


def tree_rss_mb() -> float:
    """Summed RSS (MB) of every descendant of this process (the Ray instance it started)."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 1e6


def pids_rss_mb(pids: Sequence[int]) -> float:
    """Summed RSS (MB) of the given processes (those gone count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total / 1e6


# --- per-bar cost (in process) --------------------------------------------------------------

def bench_per_bar_cost(settings: Settings, figures: dict[str, Any]) -> None:
    """One-bar step cost of the whole trading stack: long history / short one."""
    from actors.live.plan import strategy_choice
    choices = [strategy_choice(label, name, params) for label, name, params in
               (LIVE, *CANDIDATES)]
    figures.update(measure_step_cost(choices, SYMBOLS, TIMEFRAME, BAR_MS, SHORT_HISTORY_BARS,
                           settings.history_bars, settings.cost_steps, FEED_BATCH_BARS))
    short = figures["per_bar_cost_ms_short_history"]
    long = figures["per_bar_cost_ms_long_history"]
    print(f"[cost] slot + {figures['per_bar_cost_books']} books, one-bar step: {short:.2f} ms "
          f"after {SHORT_HISTORY_BARS:,} bars, {long:.2f} ms after {settings.history_bars:,} "
          f"(fed in {figures['per_bar_cost_feed_s']:.1f} s) -> ratio {long / short:.2f} "
          f"({figures['per_bar_cost_elapsed_s']:.0f} s)", flush=True)


# --- sessions -------------------------------------------------------------------------------

def write_config(work: Path, data_dir: Path, name: str, *, batch_bars: int,
                 speed: float | None, duration: str) -> Any:
    """Write a session TOML file in ``work`` and load it (``configs.loader.load_config``)."""
    from configs.loader import load_config

    symbols = ", ".join(f'"{s}"' for s in SYMBOLS)
    live_params = ", ".join(f"{k} = {v}" for k, v in LIVE[2].items())
    lines = [
        "[app]", 'mode = "sim"',
        "[data]", f'dir = "{data_dir}"', f'venue = "{VENUE}"', f"symbols = [{symbols}]",
        f'timeframe = "{TIMEFRAME}"', "synthetic_fallback = false",
        "[strategy]", f'name = "{LIVE[1]}"', f"params = {{ {live_params} }}",
        "[session]", f'duration = "{duration}"', f'sessions_dir = "{work / "sessions"}"',
        f"batch_bars = {batch_bars}", f"retry_timeout_s = {RETRY_TIMEOUT_S}",
    ]
    if speed is not None:
        lines.append(f"speed = {speed}")
    for label, strategy, params in CANDIDATES:
        body = ", ".join(f"{k} = {v}" for k, v in params.items())
        lines += ["[[session.candidates]]", f'name = "{label}"', f'strategy = "{strategy}"',
                  f"params = {{ {body} }}"]
    lines += ["[guardian]", f'kill_switch_file = "{work / "KILL"}"']
    path = work / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={})


def session_names(loaded: Any) -> Any:
    """The :class:`actors.live.tree.SessionNames` of a configuration."""
    from actors.live.tree import SessionNames

    config = loaded.config
    return SessionNames.build(config.data.symbols, [c.name for c in config.session.candidates])


def run_one(loaded: Any, session_id: str) -> Any:
    """``run_session`` (quiet), a failure turned into :class:`BenchError`."""
    from actors.live.run import run_session
    from core.errors import EvotraderError

    try:
        result = run_session(loaded, session_id=session_id, quiet=True)
    except EvotraderError as exc:
        raise BenchError(f"session {session_id} failed: {exc}") from exc
    if result is None or result.steps == 0:
        raise BenchError(f"session {session_id} made no step")
    return result


def bench_throughput(work: Path, settings: Settings, figures: dict[str, Any]) -> None:
    """Unpaced sessions with the 3 candidates; median bars/s over ``repeats``."""
    duration = f"{settings.sim_bars}m" if settings.sim_bars is not None else "120d"
    rates, startups, acks = [], [], []
    for r in range(settings.repeats):
        loaded = write_config(work, settings.data_dir, f"sim-{r}", batch_bars=settings.batch_bars,
                              speed=None, duration=duration)
        called = time.perf_counter()
        result = run_one(loaded, f"sim-{r}")
        wall = time.perf_counter() - called
        rates.append(result.bars / result.elapsed_s)
        startups.append(wall - result.elapsed_s)
        acks.append(result.latency_ms.get("ack", {}).get("p50", math.nan))
        print(f"[sim] #{r + 1}: {result.bars:,} bars in {result.steps} steps, "
              f"{result.elapsed_s:.2f} s -> {rates[-1]:,.0f} bars/s (session wall {wall:.1f} s, "
              f"ack p50 {acks[-1]:.0f} ms per {settings.batch_bars}-bar step)", flush=True)
        figures["sim_bars"], figures["sim_steps"] = result.bars, result.steps
    figures.update({
        "sim_bars_per_s": median(rates), "sim_bars_per_s_min": min(rates),
        "sim_bars_per_s_max": max(rates), "sim_batch_bars": settings.batch_bars,
        "sim_repeats": settings.repeats, "sim_session_overhead_s": median(startups),
        "sim_ack_ms_p50_per_step": median(acks),
    })


@dataclass
class Kill:
    """One kill of the session actor."""

    method: str
    steps_before: int
    seconds: float = math.nan
    up_s: float = math.nan
    """From the kill to the first answer of the new session actor."""


@dataclass
class PacedProbe:
    """Background thread of the paced session: progress, RSS, then kills, then stop.

    Attributes:
        settings: The run's settings.
        names: The session's actor names.
        namespace: Its Ray namespace.
        own_ray: This process started the Ray instance (RSS of its whole process tree).
        progress: ``(monotonic time, steps)`` samples.
        rss: ``(monotonic time, MB)`` samples of the Ray processes.
        rss_actors: ``(monotonic time, MB)`` samples of the session's actor workers.
        soak_start: When the warm-up ended; ``soak_end`` when the soak ended.
        soak_status: The session actor's ``status()`` at the end of the soak.
        on_schedule: The session kept to its pace before the soak began.
        kills: The kills made.
        error: Why the probe gave up, if it did.
    """

    settings: Settings
    names: Any
    namespace: str
    own_ray: bool
    progress: list[tuple[float, int]] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    rss_actors: list[tuple[float, float]] = field(default_factory=list)
    soak_start: float = math.nan
    soak_end: float = math.nan
    soak_status: dict[str, Any] = field(default_factory=dict)
    on_schedule: bool = False
    kills: list[Kill] = field(default_factory=list)
    error: str = ""
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (before ``run_session`` blocks the caller)."""
        self._thread = threading.Thread(target=self._main, name="bench-probe", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the thread."""
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _status(self, timeout: float = 5.0) -> dict[str, Any] | None:
        import ray

        try:
            session = ray.get_actor(self.names.session, namespace=self.namespace)
            return dict(ray.get(session.status.remote(), timeout=timeout))
        except Exception:  # noqa: BLE001 - not started yet, restarting, or finished
            return None

    def _actor_pids(self) -> list[int]:
        import ray

        pids = []
        for name in (*self.names.all(), self.names.session):
            with contextlib.suppress(Exception):
                handle = ray.get_actor(name, namespace=self.namespace)
                pids.append(int(ray.get(handle.pid.remote(), timeout=10)))
        return pids

    def _main(self) -> None:
        try:
            self._soak()
            for i in range(self.settings.kills):
                self.kills.append(self._kill(i))
        except Exception as exc:  # noqa: BLE001 - reported, and the session is stopped
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._stop()

    def _soak(self) -> None:
        deadline = time.monotonic() + 300.0
        while True:  # the tree starts, then the warm-up steps
            status = self._status()
            if status is not None and status["steps"] >= self.settings.warmup_steps:
                break
            if time.monotonic() > deadline:
                raise BenchError("the paced session did not finish its warm-up in 300 s")
            time.sleep(PROGRESS_EVERY_S)
        self._wait_on_schedule(int(status["steps"]))
        status = self._status() or status
        self.soak_start = time.monotonic()
        self.progress.append((self.soak_start, int(status["steps"])))
        pids = self._actor_pids()
        every = min(5.0, max(0.5, self.settings.window_s / 10.0))
        next_rss = self.soak_start
        end = self.soak_start + self.settings.soak_s
        while (now := time.monotonic()) < end:
            if now >= next_rss:
                self.rss.append((now, tree_rss_mb() if self.own_ray else pids_rss_mb(pids)))
                self.rss_actors.append((now, pids_rss_mb(pids)))
                next_rss += every
            status = self._status()
            if status is not None:
                self.progress.append((time.monotonic(), int(status["steps"])))
            time.sleep(PROGRESS_EVERY_S)
        self.soak_end = time.monotonic()
        status = self._status()
        if status is not None:
            self.progress.append((self.soak_end, int(status["steps"])))
            self.soak_status = status

    def _wait_on_schedule(self, steps: int) -> None:
        """Wait until the session no longer catches up (steps as fast as it can).

        A session whose actors were slow to start is behind its pacing plan and steps back to
        back until it is on schedule again; those steps are not paced one-bar steps. Waits
        for a 1-second interval at no more than 1.15x the asked pace (at most 120 s).
        """
        deadline = time.monotonic() + 120.0
        before, since = steps, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            status = self._status()
            if status is None:
                continue
            now, steps = time.monotonic(), int(status["steps"])
            if (steps - before) / (now - since) <= 1.15 * self.settings.steps_per_s:
                self.on_schedule = True
                return
            before, since = steps, now

    def _kill(self, i: int) -> Kill:
        import ray

        method = "ray.kill" if i % 2 == 0 else "SIGKILL"
        session = ray.get_actor(self.names.session, namespace=self.namespace)
        status = ray.get(session.status.remote(), timeout=30)
        old_pid = int(status["pid"])
        kill = Kill(method, int(status["steps"]))
        start = time.monotonic()
        if method == "ray.kill":
            ray.kill(session, no_restart=True)
        else:
            os.kill(old_pid, signal.SIGKILL)
        while time.monotonic() - start < RESTART_TIMEOUT_S:
            status = self._status(timeout=2.0)
            if status is not None and int(status["pid"]) != old_pid:
                if math.isnan(kill.up_s):
                    kill.up_s = time.monotonic() - start
                if int(status["steps"]) > kill.steps_before:
                    kill.seconds = time.monotonic() - start
                    break
            time.sleep(POLL_S)
        print(f"[restart] {method} of the session actor at step {kill.steps_before:,}: new "
              f"actor answers after {kill.up_s:.2f} s, next step after {kill.seconds:.2f} s",
              flush=True)
        time.sleep(0.5)  # let the new instance settle before the next kill
        return kill

    def _stop(self) -> None:
        import ray

        for name in (self.names.control, self.names.session):
            with contextlib.suppress(Exception):
                actor = ray.get_actor(name, namespace=self.namespace)
                ray.get(actor.request_stop.remote(STOP_REASON), timeout=30)


def steps_at(progress: Sequence[tuple[float, int]], t: float) -> int:
    """Steps completed at time ``t`` (the last progress sample at or before it)."""
    before = [s for when, s in progress if when <= t]
    return before[-1] if before else progress[0][1]


def bench_paced(work: Path, settings: Settings, figures: dict[str, Any]) -> None:
    """The paced session: latency, soak (RSS, p99 drift), session actor restarts."""
    import ray

    from actors.adapters.session_store import SessionStore

    speed = settings.steps_per_s * BAR_MS / 1000.0
    loaded = write_config(work, settings.data_dir, "paced", batch_bars=1, speed=speed,
                          duration=f"{settings.paced_bars}m")
    probe = PacedProbe(settings, session_names(loaded), ray.get_runtime_context().namespace,
                       own_ray=settings.address is None)
    print(f"[paced] {settings.steps_per_s:g} steps/s (speed {speed:g}), "
          f"{settings.warmup_steps} warm-up steps, {settings.soak_s / 60:g}-minute soak, "
          f"{settings.kills} kills of the session actor", flush=True)
    probe.start()
    result = run_one(loaded, "paced")
    probe.join()
    if probe.error:
        raise BenchError(f"paced session probe failed: {probe.error}")
    store = SessionStore(Path(result.folder) / "session.sqlite")
    try:
        samples = store.latencies("live")
    finally:
        store.close()
    stages = {s: np.array([x.ms for x in samples if x.stage == s]) for s in STAGES}
    n = len(stages["ack"])
    if any(len(v) != n for v in stages.values()):
        raise BenchError("the store's latency samples do not have every stage for every step")
    first_step = probe.progress[0][1]
    last_step = steps_at(probe.progress, probe.soak_end)
    ack = stages["ack"][first_step:last_step]
    w = settings.window_s
    a = stages["ack"][first_step:steps_at(probe.progress, probe.soak_start + w)]
    b = stages["ack"][steps_at(probe.progress, probe.soak_end - w):last_step]
    soak = slice(first_step, last_step)
    residual = stages["ack"][soak] - sum(stages[s][soak] for s in STAGES[:-1])
    ahead = np.array([x.ms for x in samples if x.stage == AHEAD_STAGE])
    hdr = probe.soak_status.get("latency_ms", {}).get("ack", {})
    figures.update({
        "latency_p50_ms": median(ack), "latency_p90_ms": percentile(ack, 90),
        "latency_p99_ms": percentile(ack, 99), "latency_max_ms": float(ack.max()),
        "latency_steps": len(ack),
        **{f"latency_{s}_p50_ms": median(stages[s][soak]) for s in STAGES[:-1]},
        "latency_rest_p50_ms": median(residual),
        "latency_ahead_steps": len(ahead),
        "latency_ahead_p50_ms": median(ahead) if len(ahead) else math.nan,
        # Cross-check: the session actor's HdrHistogram at the end of the soak (every step of
        # this actor instance, warm-up included; the histogram restarts with the actor).
        "latency_hdr_ack_p50_ms": hdr.get("p50", math.nan),
        "latency_hdr_ack_p99_ms": hdr.get("p99", math.nan),
        "paced_steps_per_s_asked": settings.steps_per_s,
        "paced_steps_per_s_achieved": len(ack) / (probe.soak_end - probe.soak_start),
        "paced_on_schedule_at_soak_start": probe.on_schedule, "paced_steps": result.steps,
        "paced_stop_reason": result.stop_reason,
        "paced_retries": sum(result.retries.values()),
        "soak_s": probe.soak_end - probe.soak_start, "soak_window_s": w,
        "soak_p99_ms_first": percentile(a, 99), "soak_p99_ms_last": percentile(b, 99),
        "soak_p50_ms_first": median(a), "soak_p50_ms_last": median(b),
    })
    figures["soak_p99_drift"] = figures["soak_p99_ms_last"] / figures["soak_p99_ms_first"]
    for key, rss in (("", probe.rss), ("_actors", probe.rss_actors)):
        first = median([mb for t, mb in rss if t <= probe.soak_start + w])
        last = median([mb for t, mb in rss if t >= probe.soak_end - w])
        figures[f"soak_rss_mb_first{key}"], figures[f"soak_rss_mb_last{key}"] = first, last
        figures[f"soak_rss_growth_fraction{key}"] = last / first - 1.0
    figures["soak_rss_scope"] = "ray process tree" if probe.own_ray else "actor workers"
    times = [k.seconds for k in probe.kills]
    figures.update({
        "session_restart_s": median([t for t in times if math.isfinite(t)]),
        "session_restart_max_s": max(times), "session_restart_kills": len(times),
        "session_restart_failed": sum(not math.isfinite(t) for t in times),
        "session_restart_up_s": median([k.up_s for k in probe.kills if math.isfinite(k.up_s)]),
        "session_restart_runs": ",".join(f"{k.method}:{k.seconds:.2f}" for k in probe.kills),
    })
    print(f"[paced] {len(ack):,} soak steps ({figures['paced_steps_per_s_achieved']:.1f}/s): ack "
          f"p50 {figures['latency_p50_ms']:.1f} ms = signal {figures['latency_signal_p50_ms']:.1f}"
          f" + risk {figures['latency_risk_p50_ms']:.1f} + order "
          f"{figures['latency_order_p50_ms']:.1f} + journal "
          f"{figures['latency_journal_p50_ms']:.1f} + rest {figures['latency_rest_p50_ms']:.1f}; "
          f"p99 {figures['latency_p99_ms']:.1f} ms;"
          f" first/last {w:.0f} s: p99 {figures['soak_p99_ms_first']:.1f} -> "
          f"{figures['soak_p99_ms_last']:.1f} ms, RSS {figures['soak_rss_mb_first']:,.0f} -> "
          f"{figures['soak_rss_mb_last']:,.0f} MB", flush=True)


# --- run and report -------------------------------------------------------------------------

class RayConnection:
    """This script's Ray connection; :meth:`shutdown` stops Ray only if the script started it."""

    def __init__(self, started: bool) -> None:
        self.started = started

    def shutdown(self) -> None:
        """Disconnect (and stop the local instance this script started)."""
        import ray

        if ray.is_initialized():
            ray.shutdown()


def start_ray(settings: Settings, figures: dict[str, Any]) -> RayConnection:
    """Start a local Ray on loopback (or join ``--address``) in a namespace of its own.

    A local instance gets what the CLI gives one it starts (capped CPUs, object store and GCS
    task events) but no dashboard, and the actors' log lines stay in Ray's log files (they
    would drown this script's output).

    Raises:
        UsageError: Ray cannot be started or joined.
    """
    import ray

    import actors.live.run as live_run

    namespace = f"evotrader-bench-{os.getpid()}"
    clock = time.perf_counter()
    try:
        if settings.address is not None:
            ray.init(address=settings.address, namespace=namespace, log_to_driver=False)
        else:
            os.environ.setdefault(live_run.GCS_TASK_EVENTS_ENV, str(live_run.GCS_TASK_EVENTS))
            ray.init(address="local", num_cpus=RAY_CPUS,
                     object_store_memory=RAY_OBJECT_STORE_BYTES, include_dashboard=False,
                     _node_ip_address="127.0.0.1", namespace=namespace, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError, OSError) as exc:
        raise UsageError(f"cannot start or join Ray: {exc}") from exc
    figures["ray_start_s"] = time.perf_counter() - clock
    figures["ray_namespace"] = namespace
    print(f"[ray] {'joined ' + settings.address if settings.address else 'local instance'} "
          f"({figures['ray_start_s']:.1f} s), namespace {namespace}", flush=True)
    return RayConnection(started=settings.address is None)


def bench_ray_call(figures: dict[str, Any], calls: int = 500) -> None:
    """Median and p99 of a no-op Ray actor call here (what one hop of the ack path costs)."""
    import ray

    @ray.remote(num_cpus=0)
    class Echo:
        def ping(self) -> str:
            return "ok"

    echo = Echo.remote()  # type: ignore[attr-defined]
    ray.get(echo.ping.remote(), timeout=120)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        ray.get(echo.ping.remote())
        times.append((time.perf_counter() - start) * 1e3)
    ray.kill(echo)
    figures["ray_call_ms_p50"] = median(times)
    figures["ray_call_ms_p99"] = percentile(times, 99)
    print(f"[ray] no-op actor call: p50 {figures['ray_call_ms_p50']:.2f} ms, p99 "
          f"{figures['ray_call_ms_p99']:.2f} ms ({calls} calls)", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return the flat figures.

    Raises:
        UsageError: On bad sizes or missing data.
        BenchError: A session failed.
    """
    settings = resolve_settings(args)
    figures: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]), "quick": settings.quick,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "symbols": ",".join(SYMBOLS), "timeframe": TIMEFRAME, "candidates": len(CANDIDATES),
        **machine_info(), **git_state(),
    }
    print(f"command: {figures['command']}")
    print(f"machine: {figures['cpu_count']} CPUs ({figures['cpu_model']}), "
          f"{figures['memory_gb']} GiB, load {figures['load_avg_1m_at_start']}, Python "
          f"{figures['python']}, Ray {figures['ray']}; git {figures['git_head']}", flush=True)
    bench_per_bar_cost(settings, figures)
    work = Path(tempfile.mkdtemp(prefix="bench_actors_"))
    handle = start_ray(settings, figures)
    try:
        bench_ray_call(figures)
        bench_throughput(work, settings, figures)
        bench_paced(work, settings, figures)
    finally:
        handle.shutdown()
        if settings.keep:
            print(f"session folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return figures


def shown(key: str, value: Any) -> str:
    """A figure for the summary table."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    if "bars_per_s" in key:
        return f"{value:,.0f} bars/s"
    if "fraction" in key:
        return f"{value:+.2%}"
    if key.endswith("_ms"):
        return f"{value:.2f} ms"
    if key.endswith("_s"):
        return f"{value:.2f} s"
    return f"{value:.3g}"


def goal_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, PASS/FAIL) rows; a missing figure is a FAIL."""
    return [(key, shown(key, figures.get(key, math.nan)), goal.shown,
             "PASS" if goal.met(figures.get(key, math.nan)) else "FAIL")
            for key, goal in GOALS.items()]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        figures = run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures["elapsed_s"] = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    for key, goal in GOALS.items():
        figures[f"goal_{key}_met"] = goal.met(figures.get(key, math.nan))
    print()
    print_table(goal_rows(figures))
    print(f"elapsed {figures['elapsed_s']:.1f} s")
    if args.json is not None:
        write_json(args.json, figures)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

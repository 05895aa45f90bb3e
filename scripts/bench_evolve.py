r"""Benchmark the discovery engine's evaluation: alphas scored per second, in-process and on Ray.

Usage::

    python scripts/bench_evolve.py [--quick] [--json PATH] [--data DIR] [--batch-size N]

What is measured, in one run, on the Binance BTC/USDT + ETH/USDT 1h series (both symbols as
two columns of one market, ~70,000 common bars, ``<data>/ohlcv/BINANCE_{BTC,ETH}-USDT_1h``):

* **Workload.** A fixed, seeded set of random genomes (``random_genome(SEED + i, ...)``,
  default :class:`~configs.evolution.GPConfig`, the terminals the real loop uses), each scored
  with :func:`core.evolution.score_genome`: evaluation on every bar -> position mapping -> one
  backtest with costs (default :class:`~configs.backtest.BacktestConfig`: taker fee 10 bps,
  half-spread 5 bps, minimum notional 10) -> purged walk-forward CV (default
  :class:`~configs.evolution.ObjectiveConfig`: 5 folds, embargo 24 bars). Random genomes are
  what the first generations of a run are; many of them fail (too few trades, no finite
  signal), which the figures include, as a real run does.
* **In-process baseline.** ``score_genome`` in a loop in this process, after a warm-up pass
  over the same genomes (numba caches loaded, every operator kernel compiled): alphas/s.
* **Ray.** ONE local Ray instance with ``num_cpus=2``
  (:func:`actors.research.ray_runtime.connect`) and two
  :class:`actors.research.farm.EvaluationFarm` objects, ``workers=1`` and ``workers=2`` (tasks
  in flight), same batch size, the data shared through the object store.
  Warm-up: two tasks run at the same time (so on two different worker processes) and each
  scores every genome of the run once; then one untimed ``evaluate`` per farm. The timed rounds
  then check that only those warmed worker processes did the work.
* **Rounds.** Every round times the in-process loop, the 1-worker farm and the 2-worker farm
  (rotating which goes first) plus a free-core probe; figures are medians over rounds
  (``time.perf_counter``), ratios are ratios of medians. Every Ray result list is compared with
  the in-process one (``repr``-equal: same objectives, measures, metrics, folds, errors).
* **Definitions.** ``scaling_2workers`` = 2-worker rate / 1-worker rate.
  ``ray_overhead_fraction`` = 1 - (1-worker Ray rate / in-process rate): the share of
  throughput lost by moving the same serial work into Ray tasks. ``ray_overhead_fraction_cpu``
  = 1 - (in-process CPU seconds / CPU seconds of the whole Ray process tree: driver, workers,
  raylet, GCS) for the 1-worker runs: the same overhead counted in CPU time, which a busy
  neighbour disturbs less than wall time (NaN when either CPU time is under five clock ticks,
  as in a tiny run). ``scaling_bound_2workers`` is the best 2-worker
  scaling the farm's batching allows for this workload: the in-process per-genome times plus
  the measured per-task overhead, list-scheduled in batch order on two idle workers.
* **Memory.** Populations of two sizes (64 and 512 genomes; 32 and 256 with ``--quick``) are
  scored on the 2-worker farm; the peak RSS of each worker process is read from
  ``/proc/<pid>/status`` (``VmHWM``) after resetting it (``/proc/<pid>/clear_refs`` = 5)
  before each population, with psutil sampling every 20 ms as a fallback.
  ``peak_rss_mb_per_worker`` is the larger population's (the largest over the workers that
  did work), ``..._small`` the smaller's, ``memory_vs_population_ratio`` their ratio.
* **Batch size.** ``--batch-size`` (default 8 genomes per task) for every figure above;
  the full run also sweeps batch sizes on the 2-worker farm (``--sweep``).

``--quick`` uses fewer genomes and rounds (the full bars) and finishes in under a minute; the
JSON says so (``quick``, ``genomes``, ``bars``). ``--data DIR`` defaults to
``$EVOTRADER_SHARED_DATA``, else ``../shared/data`` next to the repository. Options
``--genomes``, ``--bars``, ``--repeats``, ``--memory-sizes`` and ``--sweep`` with small values
are meant for tests. Exit codes: 0 done, 2 bad usage or missing data.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from actors.adapters.data_source import load_candles
from configs.backtest import BacktestConfig
from configs.evolution import EvolutionConfig, ObjectiveConfig
from core.backtest import MarketArrays
from core.dsl import structural_hash, to_text
from core.dsl.data import AlphaData
from core.dsl.nodes import Node
from core.errors import EvotraderError
from core.evolution import Candidate, Evaluation, random_genome, score_genome

REPO_ROOT = Path(__file__).resolve().parents[1]
VENUE = "BINANCE"
SYMBOLS = ("BTC/USDT", "ETH/USDT")
TIMEFRAME = "1h"
TERMINALS = ("open", "high", "low", "close", "volume", "returns", "vwap", "funding")
"""Candidate terminals, as in ``actors.research.evolve_job`` (those the data has are used)."""

SEED = 20261122
N_TRIALS = 1
FULL_GENOMES = 256
QUICK_GENOMES = 64
FULL_REPEATS = 7
QUICK_REPEATS = 3
FULL_MEMORY_SIZES = (64, 512)
QUICK_MEMORY_SIZES = (32, 256)
FULL_SWEEP = (1, 2, 4, 8, 16, 32)
SWEEP_MAX_REPEATS = 3
DEFAULT_BATCH_SIZE = 8
RAY_CPUS = 2
RAY_OBJECT_STORE_BYTES = 256 * 1024 * 1024
RAY_NAMESPACE = "evotrader-bench"
RAY_AGENTS = ("Agent",)
"""Title suffixes of ``ray::`` processes that are not workers (``ray::DashboardAgent``, ...)."""
SAMPLE_EVERY_S = 0.02
IDLE_PROBE_S = 2.0
INPROCESS_BLAS_THREADS = 1
"""BLAS threads of the in-process baseline: what a Ray worker gets (Ray sets
``OMP_NUM_THREADS=1`` in a worker running a ``num_cpus=1`` task). The scorer's vector dot
products go through OpenBLAS, whose threads change both the speed and the last bits of the
correlation measure; the default-threads loop is timed too (``..._default_blas``)."""
ACTIVE_WORKER_CPU_S = 0.02
"""A worker process that used less CPU than this during a phase is counted as idle."""
CPU_RESOLUTION_S = 5.0 / os.sysconf("SC_CLK_TCK")
"""CPU times (clock ticks) below this are too coarse for a ratio: the figure is NaN then."""

# (comparison, threshold(s), shown goal) per figure with a goal in the issue.
GOALS: dict[str, tuple[str, tuple[float, ...], str]] = {
    "scaling_2workers": (">=", (1.8,), ">= 1.8x"),
    "ray_overhead_fraction": ("<", (0.10,), "< 10%"),
    "memory_vs_population_ratio": ("within", (0.9, 1.1), "~1 (0.9-1.1)"),
}

REQUIRED_KEYS = (
    "alphas_per_s_inprocess",
    "alphas_per_s_1worker",
    "alphas_per_s_2workers",
    "scaling_2workers",
    "ray_overhead_fraction",
    "peak_rss_mb_per_worker",
    "peak_rss_mb_per_worker_small",
    "memory_vs_population_ratio",
    "cores_available_probe",
)


class UsageError(Exception):
    """Bad command line or missing input data (exit code 2)."""


@dataclass
class Workload:
    """Everything the benchmark scores.

    Attributes:
        market: BTC/USDT and ETH/USDT 1h as two columns.
        data: Terminal series of ``market``.
        objective: Scoring configuration (purged walk-forward CV).
        backtest: Backtest configuration (with costs).
        genomes: Every genome of the run (timing set first, then the rest of the memory set).
        n_timed: The first ``n_timed`` genomes are the timed set.
    """

    market: MarketArrays
    data: AlphaData
    objective: ObjectiveConfig
    backtest: BacktestConfig
    genomes: list[Node]
    n_timed: int

    @property
    def shared(self) -> tuple[AlphaData, MarketArrays, ObjectiveConfig, BacktestConfig]:
        """The tuple the farm shares once: ``Spread(score_genome)`` spreads it."""
        return (self.data, self.market, self.objective, self.backtest)

    def candidates(self, count: int) -> list[Candidate]:
        """The first ``count`` genomes as the engine's candidates (ids 0 .. count - 1)."""
        return [Candidate(genome_id=i, node=node, text=to_text(node), hash=structural_hash(node),
                          parents=(), generation=0, operator="random")
                for i, node in enumerate(self.genomes[:count])]


@dataclass
class Sample:
    """One timed call.

    Attributes:
        seconds: Wall time.
        cpu: CPU seconds used during the call, per process (pid -> seconds).
        roles: pid -> ``driver``, ``worker`` or ``ray`` (other Ray processes).
    """

    seconds: float
    cpu: dict[int, float]
    roles: dict[int, str]

    def cpu_of(self, role: str | None = None) -> float:
        """CPU seconds of the processes with ``role`` (all when None)."""
        return sum(s for pid, s in self.cpu.items() if role is None or self.roles[pid] == role)

    def busy_workers(self) -> set[int]:
        """Worker processes that did work during the call."""
        return {pid for pid, s in self.cpu.items()
                if self.roles[pid] == "worker" and s >= ACTIVE_WORKER_CPU_S}


@dataclass
class Series:
    """Samples of one configuration over the rounds."""

    samples: list[Sample] = field(default_factory=list)
    mismatches: int = 0

    def median_seconds(self) -> float:
        """Median wall time."""
        return statistics.median(s.seconds for s in self.samples)

    def median_cpu(self, role: str | None = None) -> float:
        """Median CPU seconds of ``role`` (all processes when None)."""
        return statistics.median(s.cpu_of(role) for s in self.samples)


# --- command line and data ------------------------------------------------------------------

def _sizes(text: str) -> tuple[int, ...]:
    """Parse ``"64,512"`` (empty = no sizes)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}"
                                         ) from exc


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bench_evolve.py",
        description="Benchmark genome scoring (purged walk-forward CV after costs) in-process "
                    "and on 1 and 2 Ray workers: rate, scaling, Ray overhead, worker memory.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_GENOMES} genomes, {QUICK_REPEATS} rounds, populations "
                             f"{QUICK_MEMORY_SIZES}, no sweep: under a minute")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as a flat JSON object to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="shared data folder holding ohlcv/ (default: "
                             "$EVOTRADER_SHARED_DATA, else ../shared/data next to the repo)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"genomes per Ray task (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--sweep", type=_sizes, metavar="B1,B2,...",
                        help="batch sizes to sweep on 2 workers (default "
                             f"{','.join(map(str, FULL_SWEEP))}; none with --quick; '' = none)")
    # Test-only knobs (tiny smoke runs); hidden from --help.
    parser.add_argument("--genomes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bars", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-sizes", type=_sizes, help=argparse.SUPPRESS)
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


def load_market(data_dir: Path, bars: int | None) -> MarketArrays:
    """BTC/USDT and ETH/USDT 1h on their common bars; the last ``bars`` of them if given.

    Raises:
        UsageError: A data file is missing or unreadable.
    """
    for symbol in SYMBOLS:
        path = data_dir / "ohlcv" / f"{VENUE}_{symbol.replace('/', '-')}_{TIMEFRAME}.parquet"
        if not path.is_file():
            raise UsageError(f"data file not found: {path} "
                             "(use --data DIR or set EVOTRADER_SHARED_DATA)")
    try:
        candles = [load_candles(data_dir, venue=VENUE, symbol=s, timeframe=TIMEFRAME)
                   for s in SYMBOLS]
    except EvotraderError as exc:
        raise UsageError(f"cannot load the data in {data_dir}: {exc}") from exc
    market = MarketArrays.from_candles(candles)
    if bars is not None and bars < market.n_bars:
        start = int(market.timestamp[market.n_bars - bars])
        market = MarketArrays.from_candles([c.between(start, None) for c in candles])
    return market


def build_workload(market: MarketArrays, n_timed: int, n_total: int) -> Workload:
    """Seeded random genomes over the terminals the data has, default configs."""
    data = AlphaData.from_market(market)
    terminals = tuple(name for name in TERMINALS if name in data.series)
    gp = EvolutionConfig().gp
    genomes = [random_genome(SEED + i, gp, terminals) for i in range(n_total)]
    return Workload(market=market, data=data, objective=ObjectiveConfig(),
                    backtest=BacktestConfig(), genomes=genomes, n_timed=n_timed)


# --- processes: CPU time and memory ---------------------------------------------------------

def ray_processes() -> dict[int, tuple[psutil.Process, str]]:
    """This process and every descendant (our Ray instance), with its role.

    Returns:
        pid -> (process, role): ``driver`` (this process), ``worker`` (command line starting
        with ``ray::``, i.e. a Ray worker process: ``ray::IDLE``, ``ray::_score_batch``, ...)
        or ``ray`` (GCS, raylet, log monitor, dashboard and runtime-env agents, ...).
    """
    me = psutil.Process()
    found: dict[int, tuple[psutil.Process, str]] = {me.pid: (me, "driver")}
    for child in me.children(recursive=True):
        try:
            cmdline = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        title = cmdline[0] if cmdline else ""
        role = "worker" if title.startswith("ray::") and not title.endswith(RAY_AGENTS) else "ray"
        found[child.pid] = (child, role)
    return found


def cpu_snapshot(processes: dict[int, tuple[psutil.Process, str]]) -> dict[int, float]:
    """User + system CPU seconds of each process (processes that vanished are left out)."""
    out = {}
    for pid, (proc, _) in processes.items():
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        out[pid] = times.user + times.system
    return out


def timed(call: Callable[[], Any]) -> tuple[Any, Sample]:
    """Run ``call`` once; its wall time and the CPU time of every process of the tree."""
    gc.collect()
    before_procs = ray_processes()
    before = cpu_snapshot(before_procs)
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    after_procs = ray_processes()
    after = cpu_snapshot(after_procs)
    roles = {pid: role for pid, (_, role) in {**before_procs, **after_procs}.items()}
    cpu = {pid: max(0.0, value - before.get(pid, 0.0)) for pid, value in after.items()}
    return result, Sample(seconds, cpu, roles)


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's peak-RSS counter (``VmHWM``) of ``pid``; False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb(pid: int) -> float | None:
    """``VmHWM`` of ``pid`` in MB (10^6 bytes), or None where unavailable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return None


class RssSampler:
    """Samples the RSS of given processes in a background thread; keeps the maximum."""

    def __init__(self, pids: Sequence[int], every_s: float = SAMPLE_EVERY_S) -> None:
        self.every_s = every_s
        self.peak: dict[int, float] = dict.fromkeys(pids, 0.0)
        self._procs = {pid: psutil.Process(pid) for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, proc in self._procs.items():
                try:
                    rss = proc.memory_info().rss / 1e6
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                self.peak[pid] = max(self.peak[pid], rss)
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- machine --------------------------------------------------------------------------------

def parallel_capacity(n_threads: int, rounds: int = 3) -> float:
    """How many cores this process gets right now (a shared machine may lend fewer).

    A GIL-free numba loop runs once on one thread, then once on each of ``n_threads``
    threads at the same time; the capacity is ``n_threads * t_one / t_all`` (median of
    ``rounds``): ``n_threads`` on an idle machine, about 1 when other jobs hold the rest.
    (The same probe as ``scripts/bench_dsl.py``.)
    """
    from numba import njit

    @njit(nogil=True)
    def spin(steps: int) -> float:
        total = 0.0
        for i in range(steps):
            total += math.sqrt(i + 1.0)
        return total

    spin(10)
    steps = 20_000_000
    start = time.perf_counter()
    spin(steps)
    one = time.perf_counter() - start
    samples = []
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            list(pool.map(spin, [steps] * n_threads))
            samples.append(n_threads * one / (time.perf_counter() - start))
    return statistics.median(samples)


def machine_info() -> dict[str, Any]:
    """CPU count, CPU model, load, memory and library versions."""
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
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "ray": importlib.metadata.version("ray"),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def git_state() -> dict[str, Any]:
    """HEAD commit and the engine files (core/, actors/, configs/) with uncommitted changes."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                                  text=True, timeout=30, check=False)
        except OSError:
            return ""
        return done.stdout if done.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "core", "actors",
                                      "configs").splitlines() if line.strip()]
    return {"git_head": git("rev-parse", "--short", "HEAD").strip() or "unknown",
            "git_uncommitted_engine_files": ",".join(dirty)}


# --- scoring --------------------------------------------------------------------------------

def score_inprocess(work: Workload, count: int, per_genome: list[float] | None = None
                    ) -> list[Evaluation]:
    """``score_genome`` in a loop over the first ``count`` genomes (ids 0 .. count - 1).

    The caller decides the BLAS threads (see :data:`INPROCESS_BLAS_THREADS`).

    Args:
        work: The workload.
        count: How many genomes.
        per_genome: If given, receives each genome's wall time (seconds), in order.
    """
    data, market, objective, backtest = work.shared
    out = []
    clock = time.perf_counter
    for i, node in enumerate(work.genomes[:count]):
        start = clock()
        out.append(score_genome(node, data, market, objective, backtest, n_trials=N_TRIALS,
                                genome_id=i))
        if per_genome is not None:
            per_genome.append(clock() - start)
    return out


def _warm_worker(score_fn: Any, data: Any, items: list[tuple[int, Node]],
                 kwargs: dict[str, Any]) -> tuple[int, float, float]:
    """Ray task body: score every genome once in this worker (imports, numba caches).

    Returns:
        (worker pid, seconds, peak RSS in MB so far).
    """
    from actors.research.farm import score_one

    start = time.perf_counter()
    for gid, node in items:
        score_one(score_fn, gid, node, data, kwargs, 600.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    return os.getpid(), time.perf_counter() - start, peak


def warm_up_workers(ray: Any, data_ref: Any, work: Workload, n_workers: int
                    ) -> list[tuple[int, float, float]]:
    """Score every genome once in each of ``n_workers`` worker processes, concurrently.

    Each task asks for one CPU and the instance has ``n_workers`` CPUs, so the tasks run at
    the same time on different worker processes (checked by the caller through the pids).
    """
    from actors.research.farm import Spread

    task = ray.remote(num_cpus=1)(_warm_worker)
    items = list(enumerate(work.genomes))
    refs = [task.remote(Spread(score_genome), data_ref, items, {"n_trials": N_TRIALS})
            for _ in range(n_workers)]
    return list(ray.get(refs))


def noop_score(node: Node, data: Any, *, template: Evaluation, n_trials: int = 1
               ) -> Evaluation:
    """A scorer that does no work and returns ``template``.

    ``template`` is a real evaluation, so results travel back with a realistic size. Timing the
    farm with this scorer isolates Ray's per-task cost (dispatch, deserializing the shared
    data, returning the results) on the same data and batches.
    """
    return template


def same_results(got: Sequence[Evaluation], want: Sequence[Evaluation]) -> int:
    """Number of evaluations whose ``repr`` differs (0 = identical lists)."""
    if len(got) != len(want):
        return max(len(got), len(want))
    return sum(repr(a) != repr(b) for a, b in zip(got, want, strict=True))


def simulate_makespan(batch_seconds: Sequence[float], workers: int) -> float:
    """Finish time of batches list-scheduled in order on ``workers`` idle workers."""
    free = [0.0] * workers
    for seconds in batch_seconds:
        k = min(range(workers), key=free.__getitem__)
        free[k] += seconds
    return max(free)


# --- the benchmark --------------------------------------------------------------------------

@dataclass
class Settings:
    """Resolved sizes of one run."""

    quick: bool
    genomes: int
    bars: int | None
    repeats: int
    batch_size: int
    memory_sizes: tuple[int, int]
    sweep: tuple[int, ...]


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Sizes from the command line and ``--quick``.

    Raises:
        UsageError: On out-of-range sizes.
    """
    genomes = args.genomes or (QUICK_GENOMES if args.quick else FULL_GENOMES)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    memory = args.memory_sizes if args.memory_sizes is not None else (
        QUICK_MEMORY_SIZES if args.quick else FULL_MEMORY_SIZES)
    sweep = args.sweep if args.sweep is not None else (() if args.quick else FULL_SWEEP)
    if min(genomes, repeats, args.batch_size) < 1:
        raise UsageError("--genomes, --repeats and --batch-size must be >= 1")
    if args.bars is not None and args.bars < 500:
        raise UsageError("--bars must be >= 500 (walk-forward folds need bars)")
    if len(memory) != 2 or not 1 <= memory[0] < memory[1]:
        raise UsageError("--memory-sizes needs two sizes SMALL,LARGE with 1 <= SMALL < LARGE")
    if any(b < 1 for b in sweep):
        raise UsageError("--sweep batch sizes must be >= 1")
    return Settings(quick=bool(args.quick), genomes=genomes, bars=args.bars, repeats=repeats,
                    batch_size=args.batch_size, memory_sizes=(memory[0], memory[1]),
                    sweep=tuple(sweep))


def rate(count: int, seconds: float) -> float:
    """Alphas per second."""
    return count / seconds if seconds > 0 else math.nan


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return the flat figures.

    Raises:
        UsageError: On bad sizes or missing data.
    """
    settings = resolve_settings(args)
    data_dir = resolve_data_dir(args.data)
    figures: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "quick": settings.quick,
        "date": time.strftime("%Y-%m-%d"),
    }
    info = machine_info()
    figures.update(info)
    figures.update(git_state())
    print(f"command: {figures['command']}")
    print(f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), {info['memory_gb']} GiB, "
          f"load {info['load_avg_1m_at_start']}; python {info['python']}, ray {info['ray']}, "
          f"numba {info['numba']}, numpy {info['numpy']}")
    print(f"git: HEAD {figures['git_head']}; uncommitted engine files: "
          f"{figures['git_uncommitted_engine_files'] or 'none'}", flush=True)

    clock = time.perf_counter()
    market = load_market(data_dir, settings.bars)
    n_total = max(settings.genomes, settings.memory_sizes[1])
    work = build_workload(market, settings.genomes, n_total)
    n = settings.genomes
    figures.update({
        "data_dir": str(data_dir), "symbols": ",".join(market.symbols), "bars": market.n_bars,
        "bars_full": settings.bars is None, "genomes": n, "seed": SEED,
        "repeats": settings.repeats, "batch_size": settings.batch_size,
        "tasks_per_evaluate": math.ceil(n / settings.batch_size),
        "population_small": settings.memory_sizes[0],
        "population_large": settings.memory_sizes[1],
        "objective": f"{work.objective.metric}, {work.objective.folds} folds, embargo "
                     f"{work.objective.embargo}, min_trades {work.objective.min_trades}",
        "costs": f"taker {work.backtest.costs.taker_fee_bps:g} bps, half-spread "
                 f"{work.backtest.costs.half_spread_bps:g} bps, min notional "
                 f"{work.backtest.min_notional:g}",
    })
    note = "" if settings.bars is None else " (not the full series)"
    print(f"data: {'+'.join(market.symbols)} {TIMEFRAME}, {market.n_bars:,} common bars{note}; "
          f"{n} genomes timed (seed {SEED}), {n_total} for warm-up and memory; batch size "
          f"{settings.batch_size}; medians of {settings.repeats} rounds "
          f"(setup {time.perf_counter() - clock:.1f} s)", flush=True)

    # In-process warm-up: loads numba caches and compiles every kernel the genomes use.
    clock = time.perf_counter()
    with threadpool_limits(limits=INPROCESS_BLAS_THREADS):
        reference = score_inprocess(work, n)
    ok = sum(e.ok for e in reference)
    figures["inprocess_warmup_s"] = time.perf_counter() - clock
    figures["genomes_ok"] = ok
    errors: dict[str, int] = {}
    for e in reference:
        if not e.ok:
            kind = (e.error or "").split(",")[0].split(":")[0]
            kind = "too few trades" if "trades, fewer than" in (e.error or "") else kind
            errors[kind] = errors.get(kind, 0) + 1
    print(f"[warm-up] in-process pass over {n} genomes: "
          f"{figures['inprocess_warmup_s']:.1f} s; {ok} scored ok, {n - ok} rejected "
          f"({', '.join(f'{v} {k}' for k, v in sorted(errors.items(), key=lambda kv: -kv[1]))})",
          flush=True)

    import ray

    from actors.research.farm import EvaluationFarm, Spread
    from actors.research.ray_runtime import connect

    clock = time.perf_counter()
    handle = connect(None, num_cpus=RAY_CPUS, object_store_memory=RAY_OBJECT_STORE_BYTES,
                     namespace=RAY_NAMESPACE, include_dashboard=False)
    try:
        figures["ray_init_s"] = time.perf_counter() - clock
        print(f"[ray] local instance with num_cpus={RAY_CPUS} started in "
              f"{figures['ray_init_s']:.1f} s ({handle.address})", flush=True)
        bench_ray(ray, EvaluationFarm, Spread, work, settings, reference, figures)
    finally:
        clock = time.perf_counter()
        handle.shutdown()
        figures["ray_shutdown_s"] = time.perf_counter() - clock
    for key in GOALS:
        figures[f"goal_{key}_met"] = goal_met(key, figures[key])
    return figures


def bench_ray(ray: Any, farm_cls: Any, spread: Any, work: Workload, settings: Settings,
              reference: list[Evaluation], figures: dict[str, Any]) -> None:
    """Warm-up, timed rounds, batch-size sweep and memory phases (fills ``figures``)."""
    n, batch = settings.genomes, settings.batch_size
    farms = {w: farm_cls(work.shared, spread(score_genome), workers=w, batch_size=batch)
             for w in (1, 2)}
    candidates = work.candidates(n)

    # Worker warm-up: both workers score every genome of the run, at the same time.
    clock = time.perf_counter()
    warm = warm_up_workers(ray, farms[2].data_ref, work, RAY_CPUS)
    warm_pids = {pid for pid, _, _ in warm}
    for w in (1, 2):  # untimed first evaluate of each farm, checked against in-process
        mismatches = same_results(farms[w].evaluate(candidates, n_trials=N_TRIALS), reference)
        if mismatches:
            print(f"[warm-up] WARNING: {w}-worker farm differs from in-process on "
                  f"{mismatches} genomes", flush=True)
    figures["ray_warmup_s"] = time.perf_counter() - clock
    figures["warmed_workers"] = len(warm_pids)
    print(f"[warm-up] Ray workers {sorted(warm_pids)} each scored all {len(work.genomes)} "
          "genomes (" + ", ".join(f"{s:.1f} s" for _, s, _ in warm) + ") + one untimed "
          f"evaluate per farm; {figures['ray_warmup_s']:.1f} s", flush=True)
    if len(warm_pids) < RAY_CPUS:
        print(f"[warm-up] WARNING: only {len(warm_pids)} distinct worker processes warmed",
              flush=True)

    # Ray's own background CPU while nothing runs (GCS, raylet, agents, monitors).
    _, idle = timed(lambda: time.sleep(IDLE_PROBE_S))
    figures["ray_idle_cpu_cores"] = (idle.cpu_of("ray") + idle.cpu_of("worker")) / idle.seconds
    print(f"[ray] idle background CPU of the instance: {figures['ray_idle_cpu_cores']:.3f} "
          f"cores (over {IDLE_PROBE_S:g} s)", flush=True)

    # Timed rounds: in-process, 1 worker, 2 workers (rotating the order) + free-core probe.
    clock = time.perf_counter()
    noop_farm = farm_cls(work.shared, spread(noop_score), workers=1, batch_size=batch)
    template = next((e for e in reference if e.ok), reference[0])
    noop_farm.evaluate(candidates, n_trials=N_TRIALS, template=template)
    per_genome_round: list[float] = []
    calls: dict[str, Callable[[], list[Evaluation]]] = {
        "inprocess": lambda: score_inprocess(work, n, per_genome_round),
        "inprocess_default_blas": lambda: score_inprocess(work, n),
        "1worker": lambda: farms[1].evaluate(candidates, n_trials=N_TRIALS),
        "2workers": lambda: farms[2].evaluate(candidates, n_trials=N_TRIALS),
        "noop_1worker": lambda: noop_farm.evaluate(candidates, n_trials=N_TRIALS,
                                                   template=template),
    }
    series = {name: Series() for name in calls}
    probes: list[float] = []
    per_genome: list[list[float]] = []
    names = list(calls)
    for r in range(settings.repeats):
        probes.append(parallel_capacity(RAY_CPUS))
        for name in names[r % len(names):] + names[:r % len(names)]:
            per_genome_round.clear()
            if name == "inprocess":
                with threadpool_limits(limits=INPROCESS_BLAS_THREADS):
                    result, sample = timed(calls[name])
            else:
                result, sample = timed(calls[name])
            series[name].samples.append(sample)
            if name != "noop_1worker":
                series[name].mismatches += same_results(result, reference)
            if name == "inprocess":
                per_genome.append(list(per_genome_round))
        print(f"  round {r + 1}: " + ", ".join(
            f"{name} {rate(n, series[name].samples[-1].seconds):.1f}/s" for name in names
            if name != "noop_1worker")
            + f"; free cores {probes[-1]:.2f}", flush=True)
    summarize_rounds(series, probes, per_genome, warm_pids, settings, figures)
    print(f"[rounds] {settings.repeats} rounds in {time.perf_counter() - clock:.1f} s: "
          f"in-process {figures['alphas_per_s_inprocess']:.1f}/s (default BLAS threads "
          f"{figures['alphas_per_s_inprocess_default_blas']:.1f}/s), 1 worker "
          f"{figures['alphas_per_s_1worker']:.1f}/s, 2 workers "
          f"{figures['alphas_per_s_2workers']:.1f}/s; scaling "
          f"{figures['scaling_2workers']:.2f}x (bound from batching "
          f"{figures['scaling_bound_2workers']:.2f}x), Ray overhead "
          f"{figures['ray_overhead_fraction']:.1%} (CPU-time "
          f"{figures['ray_overhead_fraction_cpu']:.1%}); free cores (median) "
          f"{figures['cores_available_probe']:.2f}", flush=True)
    print(f"[check] results identical to in-process (repr-equal objectives, measures, metrics, "
          f"folds, errors): 1 worker {figures['identical_1worker']}, 2 workers "
          f"{figures['identical_2workers']} ({n} genomes x {settings.repeats} rounds, "
          f"{figures['result_mismatches']} mismatches); in-process with default BLAS threads "
          f"differs on {figures['inprocess_default_blas_mismatches']} genomes; timed work ran "
          f"only on the warmed workers: {figures['workers_warm_verified']}", flush=True)

    if settings.sweep:
        bench_sweep(farm_cls, spread, work, settings, candidates, reference, figures)
    bench_memory(farms[2], work, settings, figures)


def summarize_rounds(series: dict[str, Series], probes: list[float],
                     per_genome: list[list[float]], warm_pids: set[int], settings: Settings,
                     figures: dict[str, Any]) -> None:
    """Rates, scaling, overheads and checks from the timed rounds."""
    n, batch = settings.genomes, settings.batch_size
    t_in, t_1, t_2 = (series[k].median_seconds() for k in ("inprocess", "1worker", "2workers"))
    tasks = math.ceil(n / batch)
    figures["alphas_per_s_inprocess"] = rate(n, t_in)
    figures["alphas_per_s_inprocess_default_blas"] = rate(
        n, series["inprocess_default_blas"].median_seconds())
    figures["inprocess_blas_threads"] = INPROCESS_BLAS_THREADS
    figures["inprocess_default_blas_mismatches"] = (
        series["inprocess_default_blas"].mismatches // settings.repeats)
    figures["alphas_per_s_1worker"] = rate(n, t_1)
    figures["alphas_per_s_2workers"] = rate(n, t_2)
    figures["scaling_2workers"] = t_1 / t_2
    figures["scaling_2workers_vs_inprocess"] = t_in / t_2
    figures["ray_overhead_fraction"] = 1.0 - t_in / t_1
    figures["ray_overhead_ms_per_task"] = (t_1 - t_in) / tasks * 1e3
    # Per-task cost of Ray alone (no-op scorer, same data and batches) -> a noise-robust
    # model of the overhead: task cost / (task cost + the batch's in-process scoring time).
    noop_s = series["noop_1worker"].median_seconds() / tasks
    figures["ray_task_ms_noop"] = noop_s * 1e3
    figures["ray_overhead_fraction_model"] = noop_s / (noop_s + t_in / tasks)
    for k in ("1worker", "2workers"):
        figures[f"worker_parallelism_{k}"] = statistics.median(
            s.cpu_of("worker") / s.seconds for s in series[k].samples)
    cpu_in = series["inprocess"].median_cpu("driver")
    cpu_1 = series["1worker"].median_cpu()
    figures["inprocess_cpu_ms_per_alpha"] = cpu_in / n * 1e3
    figures["ray_1worker_cpu_ms_per_alpha"] = cpu_1 / n * 1e3
    for role, label in (("worker", "worker"), ("driver", "driver"), ("ray", "system")):
        figures[f"ray_1worker_{label}_cpu_ms_per_alpha"] = (
            series["1worker"].median_cpu(role) / n * 1e3)
    figures["ray_2workers_cpu_ms_per_alpha"] = series["2workers"].median_cpu() / n * 1e3
    # Below a few clock ticks the CPU counters say nothing (a tiny run can read 0 s).
    figures["ray_overhead_fraction_cpu"] = (
        1.0 - cpu_in / cpu_1 if min(cpu_in, cpu_1) >= CPU_RESOLUTION_S else math.nan)
    for name, s in series.items():
        times = sorted(x.seconds for x in s.samples)
        figures[f"seconds_{name}_min"], figures[f"seconds_{name}_max"] = times[0], times[-1]
    figures["cores_available_probe"] = statistics.median(probes)
    figures["cores_available_probe_min"] = min(probes)
    figures["cores_available_probe_max"] = max(probes)
    figures["paired_scaling_2workers_min"] = min(
        a.seconds / b.seconds for a, b in zip(series["1worker"].samples,
                                              series["2workers"].samples, strict=True))
    figures["paired_scaling_2workers_max"] = max(
        a.seconds / b.seconds for a, b in zip(series["1worker"].samples,
                                              series["2workers"].samples, strict=True))
    # Per-genome times (median over rounds) -> the scaling the batching allows at best.
    genome_s = [statistics.median(col) for col in zip(*per_genome, strict=True)]
    overhead_s = max(0.0, (t_1 - t_in) / tasks)
    batches = [sum(genome_s[i:i + batch]) + overhead_s for i in range(0, n, batch)]
    figures["scaling_bound_2workers"] = sum(batches) / simulate_makespan(batches, 2)
    # The same bound for one generation of the default engine (population 64) when it fits.
    population = EvolutionConfig().population
    if n >= population:
        small = [sum(genome_s[i:min(i + batch, population)]) + overhead_s
                 for i in range(0, population, batch)]
        figures[f"scaling_bound_2workers_pop{population}"] = (
            sum(small) / simulate_makespan(small, 2))
    figures["genome_ms_median"] = statistics.median(genome_s) * 1e3
    figures["genome_ms_p95"] = float(np.percentile(genome_s, 95)) * 1e3
    figures["genome_ms_max"] = max(genome_s) * 1e3
    figures["batch_ms_max_share"] = max(batches) / sum(batches)
    figures["identical_1worker"] = series["1worker"].mismatches == 0
    figures["identical_2workers"] = series["2workers"].mismatches == 0
    figures["result_mismatches"] = series["1worker"].mismatches + series["2workers"].mismatches
    used = set().union(*(s.busy_workers() for k in ("1worker", "2workers")
                         for s in series[k].samples))
    figures["workers_used"] = len(used)
    figures["workers_warm_verified"] = used <= warm_pids
    figures["workers_used_per_2worker_round_min"] = min(
        len(s.busy_workers()) for s in series["2workers"].samples)


def bench_sweep(farm_cls: Any, spread: Any, work: Workload, settings: Settings,
                candidates: list[Candidate], reference: list[Evaluation],
                figures: dict[str, Any]) -> None:
    """Batch-size sweep on 2 workers (interleaved rounds)."""
    clock = time.perf_counter()
    n = settings.genomes
    farms = {b: farm_cls(work.shared, spread(score_genome), workers=2, batch_size=b)
             for b in settings.sweep}
    mismatches = 0
    for farm in farms.values():  # first call: the task's function/arguments path warms up
        mismatches += same_results(farm.evaluate(candidates, n_trials=N_TRIALS), reference)
    seconds: dict[int, list[float]] = {b: [] for b in farms}
    repeats = min(settings.repeats, SWEEP_MAX_REPEATS)
    order = list(farms)
    for r in range(repeats):
        for b in order[r % len(order):] + order[:r % len(order)]:
            gc.collect()
            start = time.perf_counter()
            result = farms[b].evaluate(candidates, n_trials=N_TRIALS)
            seconds[b].append(time.perf_counter() - start)
            mismatches += same_results(result, reference)
    parts = []
    for b, values in seconds.items():
        value = rate(n, statistics.median(values))
        figures[f"sweep_batch{b}_alphas_per_s_2workers"] = value
        parts.append(f"{b}: {value:.1f}/s")
    figures["sweep_mismatches"] = mismatches
    print(f"[sweep] batch size -> alphas/s on 2 workers (median of {repeats}): "
          + ", ".join(parts) + f"; {mismatches} mismatches "
          f"({time.perf_counter() - clock:.1f} s)", flush=True)
    del farms


def bench_memory(farm: Any, work: Workload, settings: Settings, figures: dict[str, Any]
                 ) -> None:
    """Peak RSS of each worker while scoring a small and a large population."""
    clock = time.perf_counter()
    lines = []
    for label, size in (("small", settings.memory_sizes[0]), ("large", settings.memory_sizes[1])):
        candidates = work.candidates(size)
        procs = ray_processes()
        workers = [pid for pid, (_, role) in procs.items() if role == "worker"]
        driver = os.getpid()
        reset_ok = all(reset_peak_rss(pid) for pid in [*workers, driver])
        with RssSampler([*workers, driver]) as sampler:
            result, sample = timed(lambda c=candidates: farm.evaluate(c, n_trials=N_TRIALS))
        busy = sorted(sample.busy_workers()) or workers
        kernel = {pid: peak_rss_mb(pid) for pid in busy}
        peaks = {pid: (kernel[pid] if reset_ok and kernel[pid] is not None
                       else sampler.peak.get(pid, math.nan)) for pid in busy}
        worst = max(peaks.values())
        suffix = "" if label == "large" else "_small"
        figures[f"peak_rss_mb_per_worker{suffix}"] = worst
        figures[f"sampled_rss_mb_per_worker{suffix}"] = max(
            sampler.peak.get(pid, math.nan) for pid in busy)
        driver_peak = peak_rss_mb(driver) if reset_ok else None
        figures[f"driver_peak_rss_mb{suffix}"] = (
            driver_peak if driver_peak is not None else sampler.peak[driver])
        figures[f"workers_busy{suffix}"] = len(busy)
        figures[f"memory_failed_genomes{suffix}"] = sum(not e.ok for e in result)
        figures["peak_rss_source"] = "VmHWM after clear_refs" if reset_ok else "psutil sampling"
        lines.append(f"population {size}: workers " + ", ".join(
            f"{pid} {peak:.0f} MB" for pid, peak in peaks.items())
            + f" (sampled {figures[f'sampled_rss_mb_per_worker{suffix}']:.0f} MB), driver "
            f"{figures[f'driver_peak_rss_mb{suffix}']:.0f} MB, {rate(size, sample.seconds):.1f}"
            " alphas/s")
    figures["memory_vs_population_ratio"] = (figures["peak_rss_mb_per_worker"]
                                             / figures["peak_rss_mb_per_worker_small"])
    uss, pss = [], []
    for proc, role in ray_processes().values():
        if role != "worker":
            continue
        try:
            full = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        uss.append(full.uss / 1e6)
        pss.append(full.pss / 1e6)
    if uss:
        figures["uss_mb_per_worker"], figures["pss_mb_per_worker"] = max(uss), max(pss)
        lines.append(f"after: USS {max(uss):.0f} MB, PSS {max(pss):.0f} MB per worker")
    print(f"[memory] peak RSS per worker ({figures['peak_rss_source']}): " + "; ".join(lines)
          + f"; ratio large/small {figures['memory_vs_population_ratio']:.3f} "
          f"({time.perf_counter() - clock:.1f} s)", flush=True)


# --- report ---------------------------------------------------------------------------------

def goal_met(key: str, value: float) -> bool:
    """Whether ``value`` meets the issue's goal for figure ``key``."""
    op, bounds, _ = GOALS[key]
    if op == ">=":
        return bool(value >= bounds[0])
    if op == "<":
        return bool(value < bounds[0])
    return bool(bounds[0] <= value <= bounds[1])


def goal_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, PASS/FAIL) rows for the summary table."""
    rows = []
    for key in (
        "alphas_per_s_inprocess", "alphas_per_s_inprocess_default_blas",
        "alphas_per_s_1worker", "alphas_per_s_2workers",
        "scaling_2workers", "scaling_bound_2workers", "scaling_2workers_vs_inprocess",
        "worker_parallelism_2workers",
        "ray_overhead_fraction", "ray_overhead_fraction_cpu", "ray_overhead_fraction_model",
        "ray_overhead_ms_per_task", "ray_task_ms_noop",
        "peak_rss_mb_per_worker_small", "peak_rss_mb_per_worker", "memory_vs_population_ratio",
        "driver_peak_rss_mb", "cores_available_probe",
    ):
        if key not in figures:
            continue
        value = figures[key]
        if key.startswith("alphas_per_s"):
            shown = f"{value:,.1f} alphas/s"
        elif "_fraction" in key:
            shown = f"{value:.1%}"
        elif key.endswith("_mb") or key.endswith("_mb_per_worker") or "_mb_per_worker_" in key:
            shown = f"{value:,.0f} MB"
        elif key.endswith("_ms_per_task") or key == "ray_task_ms_noop":
            shown = f"{value:.2f} ms"
        elif key == "cores_available_probe":
            shown = (f"{value:.2f} of {figures['cpu_count']} (min "
                     f"{figures['cores_available_probe_min']:.2f})")
        elif key.startswith("worker_parallelism"):
            shown = f"{value:.2f} cores busy"
        else:
            shown = f"{value:.3f}x" if key == "memory_vs_population_ratio" else f"{value:.2f}x"
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


def _jsonable(value: Any) -> Any:
    """Plain JSON values (NaN/inf become None so the file stays standard JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


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
        args.json.write_text(json.dumps({k: _jsonable(v) for k, v in figures.items()},
                                        indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

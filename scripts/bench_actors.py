r"""Benchmark the live actor system in SIM: throughput, bar-to-ack latency, restarts, memory.

Usage::

    python scripts/bench_actors.py [--quick] [--json PATH] [--data DIR] [--batch-bars N]
                                   [--repeats N] [--soak-minutes M] [--steps-per-s R]
                                   [--kills N]

Everything runs in ONE local Ray instance started by this script (``num_cpus=2``, loopback,
no dashboard, :func:`actors.research.ray_runtime.connect`) and stopped at the end. Sessions run
one after another through the real entry point :func:`actors.live.run.run_session` (the
supervision tree, every actor, the session folder), on the Binance BTC/USDT + ETH/USDT 1m
series (``<data>/ohlcv/BINANCE_{BTC,ETH}-USDT_1m.parquet``, ~130,700 bars each), with the
default live strategy and the default three candidates unless said otherwise.

* **Throughput** (``sim_bars_per_s``). Unpaced sessions (as fast as possible) with
  ``batch_bars`` bars per step (``--batch-bars``, default 8192), over the whole file (the
  last ``--sim-bars`` minutes with ``--quick``). Bars are timeline bars x symbols:
  ``result.bars / result.elapsed_s`` (the stepping loop only, without actor start-up). Sessions
  with the 3 default candidates and without candidates (``sim_bars_per_s_no_candidates``)
  alternate; each figure is the median over ``--repeats`` sessions. Per step, the stage times
  the session records (ingest, signal, risk, order, ack = bar-to-ack) and the rest of the step
  (candidates, records, store, control: ``post_ack``) are reported as medians, and the CPU time
  of every process of the Ray instance between the first and the last step gives each actor's
  share of the work (``sim_cpu_share_*``).
* **In-process reference** (``inprocess_bars_per_s``). The same services (feed, slot,
  guardian, executor, candidates, store: the actors' own classes, checkpoints included) called
  in one process on the same bars and batches, in the order of
  :meth:`actors.live.session.SessionRunner.run` (without the control actor): what the pipeline
  costs without Ray, on one core.
* **Latency** (``latency_p50_ms``, ``latency_p99_ms``). A paced session (one bar per step) with
  candidates at ``--steps-per-s`` steps per second (default 20: speed 1200 on 1m bars). After
  ``--warmup-steps`` steps, the ``ack`` stage (bar-to-ack: feeds -> slot -> guardian ->
  executor -> guardian's answer, ms) of the next ``--latency-steps`` steps; per-stage p50/p99 as
  well, and ``latency_residual_p50_ms`` = ack - (ingest + signal + risk + order): the
  guardian call itself (transport, the guardian's checkpoint).
* **Soak** (``soak_rss_growth_fraction``). The same paced session goes on until
  ``--soak-minutes`` have passed since the warm-up ended (the latency steps are its first part).
  A background thread sums the RSS of every process of the Ray instance (this driver, GCS,
  raylet, every worker: psutil over the driver's process tree) every few seconds; growth =
  (median of the last 10 % of samples - median of the first 10 %) / the first. Per-process
  growth, checkpoint and store file sizes and the latency at the start and end of the soak say
  where memory and time go.
* **Restarts** (``restart_median_s``). Then, in the same session, a background thread kills
  actors in turn (feed, slot, candidate, guardian, executor, store; alternately
  ``ray.kill(handle, no_restart=True)`` and ``os.kill(pid, SIGKILL)``), ``--kills`` in all, and
  polls every 20 ms until an actor with the same name but a new actor id answers ``ping()``:
  the time from the kill to that answer. The session keeps stepping (its calls are retried on
  the restarted actors); ``restart_resume_median_s`` is the time from the kill to the first
  step completed after the restore. Before each next kill, every actor must answer and the
  session must have stepped again. Then the session is stopped through its control actor.

``--quick`` uses the last 16,384 1m bars for one throughput session with candidates (no
session without candidates, no in-process reference, no probes), 90 warm-up and 200 latency
steps, a 0.2-minute soak and 3 kills: about a minute on an idle 2-core machine (Ray start-up
4-10 s and 11-25 s of actor start-up per session), up to two on a loaded one. The full run also
times a fresh interpreter's import of the actor modules (``worker_import_s``, what every new
worker pays) and a no-op Ray actor call (``ray_call_ms_p50``/``_p99``). ``--data DIR``
defaults to ``$EVOTRADER_SHARED_DATA``, else ``../shared/data`` next to the repository.
``--sim-bars``, ``--latency-steps``, ``--warmup-steps``, ``--[no-]inprocess``,
``--[no-]compare-no-candidates`` and ``--[no-]probes`` are
test knobs. Exit codes: 0 done, 2 bad usage or missing data, 1 a session failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import shlex
import shutil
import signal
import statistics
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

REPO_ROOT = Path(__file__).resolve().parents[1]
VENUE = "BINANCE"
SYMBOLS = ("BTC/USDT", "ETH/USDT")
TIMEFRAME = "1m"
BAR_SECONDS = 60.0

RAY_CPUS = 2
RAY_OBJECT_STORE_BYTES = 256 * 1024 * 1024
RAY_NAMESPACE = "evotrader-bench"

DEFAULT_BATCH_BARS = 8192
FULL_REPEATS = 3
QUICK_REPEATS = 1
QUICK_SIM_BARS = 16_384
"""Timeline bars of a ``--quick`` throughput session (the last 16,384 minutes)."""
DEFAULT_STEPS_PER_S = 20.0
FULL_WARMUP_STEPS = 300
QUICK_WARMUP_STEPS = 90
"""Paced steps before anything is measured. The guardian and the executor grow by ~60 MB at
the first fill (one-off lazy set-up, bar ~75 of the file), so the warm-up goes past it."""
FULL_LATENCY_STEPS = 3000
QUICK_LATENCY_STEPS = 200
FULL_SOAK_MINUTES = 30.0
QUICK_SOAK_MINUTES = 0.2
FULL_KILLS = 12
QUICK_KILLS = 3
RETRY_TIMEOUT_S = 120.0
"""How long a session step waits for a restarted actor before the session fails."""

RESTORE_POLL_S = 0.02
RESTORE_TIMEOUT_S = 60.0
SETTLE_S = 0.1
"""Pause after a restore (every actor answers, a step went through) before the next kill."""
KILL_ROLES = ("feed", "slot", "candidate", "guardian", "executor", "store")
RAY_CALL_PROBE_CALLS = 500
IMPORT_PROBE_RUNS = 3
IMPORT_PROBE_MODULE = "actors.live.tree"
"""What a supervisor or actor worker imports to unpickle its class (all the actor modules)."""
DATA_HEADROOM_STEPS = 2000
"""Paced steps kept free for the kill phase when checking that the data is long enough."""

REFERENCE_RAY_CALL_MS = (1.2, 13.0)
"""A Ray actor call measured on this machine: median and p99, ms (issue's reference)."""
REFERENCE_BACKTESTING_PY_BARS_PER_S = 76_000.0
"""backtesting.py's event loop, bars/s (issue's reference)."""

# (comparison, threshold, shown goal) per figure with a goal in the issue.
GOALS: dict[str, tuple[str, float, str]] = {
    "sim_bars_per_s": (">=", 250_000.0, ">= 250,000 bars/s"),
    "latency_p50_ms": ("<", 10.0, "< 10 ms"),
    "latency_p99_ms": ("<", 50.0, "< 50 ms"),
    "restart_median_s": ("<", 2.0, "< 2 s"),
    "soak_rss_growth_fraction": ("<", 0.05, "< 5%"),
}

REQUIRED_KEYS = (
    "sim_bars_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "restart_median_s",
    "soak_rss_growth_fraction",
)

STAGES = ("ingest", "signal", "risk", "order", "ack")


class UsageError(Exception):
    """Bad command line or missing input data (exit code 2)."""


class BenchError(Exception):
    """A session failed (exit code 1)."""


# --- command line ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bench_actors.py",
        description="Benchmark the live actor system in SIM on real 1m data: replay "
                    "throughput, bar-to-ack latency, restart time after a kill, and RSS growth "
                    "over a paced soak.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"last {QUICK_SIM_BARS:,} bars for throughput, "
                             f"{QUICK_LATENCY_STEPS} latency steps, {QUICK_SOAK_MINUTES:g}-minute "
                             f"soak, {QUICK_KILLS} kills: about a minute")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as a flat JSON object to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="shared data folder holding ohlcv/ (default: "
                             "$EVOTRADER_SHARED_DATA, else ../shared/data next to the repo)")
    parser.add_argument("--batch-bars", type=int, default=DEFAULT_BATCH_BARS, metavar="N",
                        help=f"bars per step of the throughput sessions (default "
                             f"{DEFAULT_BATCH_BARS})")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help=f"throughput sessions of each kind (default {FULL_REPEATS}, "
                             f"{QUICK_REPEATS} with --quick); figures are medians")
    parser.add_argument("--soak-minutes", type=float, metavar="M",
                        help=f"length of the paced soak (default {FULL_SOAK_MINUTES:g}, "
                             f"{QUICK_SOAK_MINUTES:g} with --quick)")
    parser.add_argument("--steps-per-s", type=float, default=DEFAULT_STEPS_PER_S, metavar="R",
                        help=f"pace of the paced session, steps (1m bars) per second (default "
                             f"{DEFAULT_STEPS_PER_S:g}: speed {DEFAULT_STEPS_PER_S * 60:g})")
    parser.add_argument("--kills", type=int, metavar="N",
                        help=f"actors killed in the restart test (default {FULL_KILLS}, "
                             f"{QUICK_KILLS} with --quick)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the session folders (printed) instead of deleting them")
    # Test-only knobs (tiny smoke runs); hidden from --help.
    parser.add_argument("--sim-bars", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--latency-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inprocess", action=argparse.BooleanOptionalAction,
                        help=argparse.SUPPRESS)
    parser.add_argument("--compare-no-candidates", action=argparse.BooleanOptionalAction,
                        help=argparse.SUPPRESS)
    parser.add_argument("--probes", action=argparse.BooleanOptionalAction,
                        help=argparse.SUPPRESS)
    return parser


@dataclass(frozen=True)
class Settings:
    """Resolved sizes of one run.

    Attributes:
        quick: ``--quick`` was given.
        data_dir: The shared data folder.
        batch_bars: Bars per throughput step.
        repeats: Throughput sessions of each kind.
        sim_bars: Timeline bars of a throughput session (None = the whole file).
        steps_per_s: Pace of the paced session.
        warmup_steps: Paced steps before latency and soak are measured.
        latency_steps: Paced steps whose latency is reported.
        soak_s: Length of the soak, seconds (from the end of the warm-up).
        kills: Actors killed.
        sample_every_s: RSS sampling interval of the soak.
        inprocess: Run the in-process reference.
        no_candidates: Also run throughput sessions without candidates.
        probes: Time plain Ray actor calls and the import of the actor modules.
        keep: Keep the session folders.
    """

    quick: bool
    data_dir: Path
    batch_bars: int
    repeats: int
    sim_bars: int | None
    steps_per_s: float
    warmup_steps: int
    latency_steps: int
    soak_s: float
    kills: int
    sample_every_s: float
    inprocess: bool
    no_candidates: bool
    probes: bool
    keep: bool


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


def data_file(data_dir: Path, symbol: str) -> Path:
    """Where the 1m series of ``symbol`` is stored."""
    return data_dir / "ohlcv" / f"{VENUE}_{symbol.replace('/', '-')}_{TIMEFRAME}.parquet"


def data_bars(data_dir: Path) -> int:
    """Rows of the shortest series (a bound on the session timeline).

    Raises:
        UsageError: A data file is missing or unreadable.
    """
    import pyarrow.parquet as pq

    rows = []
    for symbol in SYMBOLS:
        path = data_file(data_dir, symbol)
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
    repeats = args.repeats if args.repeats is not None else (
        QUICK_REPEATS if quick else FULL_REPEATS)
    sim_bars = args.sim_bars if args.sim_bars is not None else (QUICK_SIM_BARS if quick else None)
    warmup = args.warmup_steps if args.warmup_steps is not None else (
        QUICK_WARMUP_STEPS if quick else FULL_WARMUP_STEPS)
    latency = args.latency_steps if args.latency_steps is not None else (
        QUICK_LATENCY_STEPS if quick else FULL_LATENCY_STEPS)
    soak_min = args.soak_minutes if args.soak_minutes is not None else (
        QUICK_SOAK_MINUTES if quick else FULL_SOAK_MINUTES)
    kills = args.kills if args.kills is not None else (QUICK_KILLS if quick else FULL_KILLS)
    if args.batch_bars < 1 or repeats < 1:
        raise UsageError("--batch-bars and --repeats must be >= 1")
    if sim_bars is not None and sim_bars < 2:
        raise UsageError("--sim-bars must be >= 2")
    if not (math.isfinite(args.steps_per_s) and 0.1 <= args.steps_per_s <= 1000.0):
        raise UsageError("--steps-per-s must be between 0.1 and 1000")
    if warmup < 1 or latency < 10:
        raise UsageError("--warmup-steps must be >= 1 and --latency-steps >= 10")
    if not (math.isfinite(soak_min) and soak_min > 0.0):
        raise UsageError("--soak-minutes must be > 0")
    if kills < 0:
        raise UsageError("--kills must be >= 0")
    data_dir = resolve_data_dir(args.data)
    available = data_bars(data_dir)
    soak_s = soak_min * 60.0
    needed = warmup + max(latency, int(soak_s * args.steps_per_s)) + DATA_HEADROOM_STEPS
    if needed > available:
        raise UsageError(f"the paced session needs about {needed:,} bars at "
                         f"{args.steps_per_s:g} steps/s but the data has {available:,}: "
                         "lower --soak-minutes or --steps-per-s")
    sample_every = min(5.0, max(0.5, soak_s / 60.0))
    return Settings(quick=quick, data_dir=data_dir, batch_bars=args.batch_bars,
                    repeats=repeats, sim_bars=sim_bars, steps_per_s=args.steps_per_s,
                    warmup_steps=warmup, latency_steps=latency, soak_s=soak_s, kills=kills,
                    sample_every_s=sample_every, inprocess=_flag(args.inprocess, not quick),
                    no_candidates=_flag(args.compare_no_candidates, not quick),
                    probes=_flag(args.probes, not quick), keep=bool(args.keep))


def _flag(given: bool | None, default: bool) -> bool:
    """An on/off option: as given, else its default."""
    return default if given is None else bool(given)


# --- machine and processes ------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    """CPU count, CPU model, load, memory and library versions."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpu_count": os.cpu_count() or 1,
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "ray": importlib.metadata.version("ray"),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def ray_processes() -> dict[int, tuple[psutil.Process, str]]:
    """This process and every descendant (our Ray instance), with a label.

    Returns:
        pid -> (process, label): ``driver`` for this process, the process title for the
        others (``ray::CandidateService``, ``raylet``, ``gcs_server``, ...).
    """
    me = psutil.Process()
    found: dict[int, tuple[psutil.Process, str]] = {me.pid: (me, "driver")}
    for child in me.children(recursive=True):
        try:
            cmdline = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        title = cmdline[0] if cmdline else child.name()
        found[child.pid] = (child, Path(title.split()[0]).name if title else "?")
    return found


def rss_snapshot(processes: dict[int, tuple[psutil.Process, str]]) -> dict[int, float]:
    """RSS in MB (10^6 bytes) of each process (those that vanished are left out)."""
    out = {}
    for pid, (proc, _) in processes.items():
        try:
            out[pid] = proc.memory_info().rss / 1e6
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def cpu_snapshot(processes: dict[int, tuple[psutil.Process, str]]) -> dict[int, float]:
    """User + system CPU seconds of each process (those that vanished are left out)."""
    out = {}
    for pid, (proc, _) in processes.items():
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        out[pid] = times.user + times.system
    return out


def short_name(actor_name: str) -> str:
    """``evotrader/root/market/feed-BTC-USDT`` -> ``feed-BTC-USDT``."""
    return actor_name.rsplit("/", 1)[-1]


def actor_pids(names: Sequence[str], namespace: str) -> dict[int, str]:
    """Process id -> short actor name, for the session's actors that answer."""
    import ray

    out: dict[int, str] = {}
    for name in names:
        try:
            handle = ray.get_actor(name, namespace=namespace)
            out[int(ray.get(handle.pid.remote(), timeout=30))] = short_name(name)
        except Exception:  # noqa: BLE001 - a restarting actor is simply not labelled
            continue
    return out


def label_of(pid: int, labels: dict[int, str], titles: dict[int, str]) -> str:
    """An actor's short name, else the process title."""
    return labels.get(pid) or titles.get(pid, "?")


# --- statistics -----------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear), NaN for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


def median(values: Sequence[float]) -> float:
    """Median, NaN for no values."""
    return float(statistics.median(values)) if len(values) else math.nan


def edge_medians(values: Sequence[float], share: float = 0.1) -> tuple[float, float]:
    """Medians of the first and of the last ``share`` of ``values`` (at least one each)."""
    k = max(1, round(share * len(values)))
    return median(values[:k]), median(values[-k:])


# --- sessions -------------------------------------------------------------------------------

def write_config(folder: Path, data_dir: Path, *, name: str, candidates: bool,
                 batch_bars: int, speed: float | None, duration: str) -> Any:
    """Write a session TOML file in ``folder`` and load it (``configs.loader.load_config``).

    Args:
        folder: The benchmark's work folder (session folders go in ``folder/sessions``).
        data_dir: The shared data folder.
        name: File name stem.
        candidates: Keep the default 3 candidates (else none).
        batch_bars: Bars per unpaced step.
        speed: Pacing factor (None = as fast as possible).
        duration: Market time replayed, ending at the end of the data.
    """
    from configs.loader import load_config

    symbols = ", ".join(f'"{s}"' for s in SYMBOLS)
    lines = [
        "[app]", 'mode = "sim"',
        "[data]", f'dir = "{data_dir}"', f'venue = "{VENUE}"', f"symbols = [{symbols}]",
        f'timeframe = "{TIMEFRAME}"', "synthetic_fallback = false",
        "[session]", f'duration = "{duration}"', f'sessions_dir = "{folder / "sessions"}"',
        f"batch_bars = {batch_bars}", f"retry_timeout_s = {RETRY_TIMEOUT_S}",
    ]
    if speed is not None:
        lines.append(f"speed = {speed}")
    if not candidates:
        lines.append("candidates = []")
    lines += ["[guardian]", f'kill_switch_file = "{folder / "KILL"}"']
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={})


def session_names(loaded: Any) -> Any:
    """The :class:`actors.live.tree.SessionNames` of a configuration."""
    from actors.live.tree import SessionNames

    config = loaded.config
    return SessionNames.build(config.data.symbols, [c.name for c in config.session.candidates])


def timeline_bars(loaded: Any, folder: Path) -> int:
    """Bars of the session timeline (as :func:`actors.live.session.plan_session` plans it)."""
    from actors.live.session import plan_session

    return len(plan_session(loaded, "plan", folder, RAY_NAMESPACE).timeline)


@dataclass
class ThroughputRun:
    """One unpaced session.

    Attributes:
        bars_per_s: ``result.bars / result.elapsed_s``.
        bars: Bars replayed (timeline bars x symbols).
        steps: Steps.
        elapsed_s: Stepping loop wall time.
        startup_s: From the ``run_session`` call to the start of the loop.
        finish_s: From the last step to the return of ``run_session``.
        stages_ms: Per stage (and ``step``, ``post_ack``, ``residual``), the per-step values.
        cpu_s: CPU seconds per process label between the first and the last step.
        cpu_wall_s: Wall time between the first and the last step.
        retries: Calls retried.
    """

    bars_per_s: float
    bars: int
    steps: int
    elapsed_s: float
    startup_s: float
    finish_s: float
    stages_ms: dict[str, list[float]]
    cpu_s: dict[str, float] = field(default_factory=dict)
    cpu_wall_s: float = math.nan
    retries: int = 0


def step_stages(latencies: Sequence[dict[str, float]], step_s: Sequence[float]
                ) -> dict[str, list[float]]:
    """Per-step stage times plus the step's wall time, post-ack time and ack residual (ms)."""
    out: dict[str, list[float]] = {k: [lat[k] for lat in latencies] for k in STAGES}
    out["step"] = [s * 1e3 for s in step_s]
    out["post_ack"] = [s * 1e3 - lat["ack"] for lat, s in zip(latencies, step_s, strict=True)]
    out["residual"] = [lat["ack"] - sum(lat[k] for k in STAGES[:-1]) for lat in latencies]
    return out


def throughput_session(work: Path, settings: Settings, label: str, candidates: bool,
                       index: int) -> ThroughputRun:
    """Run one unpaced session and measure it.

    Raises:
        BenchError: The session failed.
    """
    from actors.live.run import run_session
    from core.errors import EvotraderError

    duration = f"{settings.sim_bars}m" if settings.sim_bars is not None else "120d"
    loaded = write_config(work, settings.data_dir, name=f"{label}-{index}",
                          candidates=candidates, batch_bars=settings.batch_bars, speed=None,
                          duration=duration)
    n_timeline = timeline_bars(loaded, work / "plan")
    names = session_names(loaded)
    stamps: list[float] = []
    cpu: dict[str, Any] = {}

    def on_step(seq: int, result: Any) -> None:
        now = time.perf_counter()
        stamps.append(now)
        last = result.bars >= n_timeline * len(SYMBOLS)
        if seq == 0 and not last:
            cpu["labels"] = actor_pids(names.all(), RAY_NAMESPACE)
            cpu["procs"] = ray_processes()
            cpu["first"] = cpu_snapshot(cpu["procs"])
            cpu["first_t"] = time.perf_counter()
        elif last and "first" in cpu:
            cpu["last"] = cpu_snapshot(cpu["procs"])
            cpu["last_t"] = time.perf_counter()

    called = time.perf_counter()
    try:
        result = run_session(loaded, session_id=f"{label}-{index}", on_step=on_step, quiet=True)
    except EvotraderError as exc:
        raise BenchError(f"throughput session {label}-{index} failed: {exc}") from exc
    returned = time.perf_counter()
    if not stamps or result.elapsed_s <= 0:
        raise BenchError(f"throughput session {label}-{index} made no step")
    loop_start = stamps[-1] - result.elapsed_s
    step_s = np.diff([loop_start, *stamps]).tolist()
    run = ThroughputRun(bars_per_s=result.bars / result.elapsed_s, bars=result.bars,
                        steps=result.steps, elapsed_s=result.elapsed_s,
                        startup_s=loop_start - called, finish_s=returned - stamps[-1],
                        stages_ms=step_stages(result.latencies_ms, step_s),
                        retries=sum(result.retries.values()))
    if "last" in cpu:
        titles = {pid: title for pid, (_, title) in cpu["procs"].items()}
        for pid, after in cpu["last"].items():
            key = label_of(pid, cpu["labels"], titles)
            used = max(0.0, after - cpu["first"].get(pid, after))
            run.cpu_s[key] = run.cpu_s.get(key, 0.0) + used
        run.cpu_wall_s = cpu["last_t"] - cpu["first_t"]
    return run


def bench_throughput(work: Path, settings: Settings, figures: dict[str, Any]) -> None:
    """Unpaced sessions with and without candidates, alternating; medians over repeats."""
    clock = time.perf_counter()
    runs: dict[str, list[ThroughputRun]] = {"candidates": []}
    kinds = [("candidates", True)]
    if settings.no_candidates:
        runs["no_candidates"] = []
        kinds.append(("no_candidates", False))
    for r in range(settings.repeats):
        order = kinds[r % 2:] + kinds[:r % 2]
        for label, with_candidates in order:
            run = throughput_session(work, settings, label, with_candidates, r)
            runs[label].append(run)
            print(f"[throughput] {label} #{r + 1}: {run.bars:,} bars in {run.steps} steps, "
                  f"{run.elapsed_s:.2f} s -> {run.bars_per_s:,.0f} bars/s (start-up "
                  f"{run.startup_s:.1f} s, finish {run.finish_s:.1f} s)", flush=True)
    for label, series in runs.items():
        suffix = "" if label == "candidates" else f"_{label}"
        rates = [run.bars_per_s for run in series]
        figures[f"sim_bars_per_s{suffix}"] = median(rates)
        figures[f"sim_bars_per_s{suffix}_min"] = min(rates)
        figures[f"sim_bars_per_s{suffix}_max"] = max(rates)
        figures[f"sim_bars_per_s{suffix}_runs"] = ",".join(f"{x:.0f}" for x in rates)
        figures[f"sim_session_startup_s{suffix}"] = median([run.startup_s for run in series])
        figures[f"sim_session_finish_s{suffix}"] = median([run.finish_s for run in series])
        figures[f"sim_steps{suffix}"] = series[0].steps
        figures[f"sim_bars{suffix}"] = series[0].bars
        figures[f"sim_retries{suffix}"] = sum(run.retries for run in series)
        # Per-step stage medians over every step of every session of this kind.
        for stage in (*STAGES, "step", "post_ack", "residual"):
            values = [v for run in series for v in run.stages_ms[stage]]
            figures[f"sim_{stage}_ms_median{suffix}"] = median(values)
        cpu: dict[str, float] = {}
        wall = sum(run.cpu_wall_s for run in series if run.cpu_s)
        for run in series:
            for key, seconds in run.cpu_s.items():
                group = _cpu_group(key)
                cpu[group] = cpu.get(group, 0.0) + seconds
        total = sum(cpu.values())
        if total > 0 and wall > 0:
            figures[f"sim_cpu_cores_busy{suffix}"] = total / wall
            for group, seconds in sorted(cpu.items()):
                figures[f"sim_cpu_share_{group}{suffix}"] = seconds / total
    figures["batch_bars"] = settings.batch_bars
    figures["throughput_repeats"] = settings.repeats
    c = figures["sim_bars_per_s"]
    n = figures.get("sim_bars_per_s_no_candidates", math.nan)
    shares = sorted(((k.removeprefix("sim_cpu_share_"), v) for k, v in figures.items()
                     if k.startswith("sim_cpu_share_") and not k.endswith("_no_candidates")),
                    key=lambda kv: -kv[1])
    print(f"[throughput] median {c:,.0f} bars/s with candidates, {n:,.0f} without "
          f"(batch {settings.batch_bars}); per step (with candidates): ack "
          f"{figures['sim_ack_ms_median']:.0f} ms = ingest {figures['sim_ingest_ms_median']:.0f}"
          f" + signal {figures['sim_signal_ms_median']:.0f} + risk "
          f"{figures['sim_risk_ms_median']:.0f} + order {figures['sim_order_ms_median']:.0f} + "
          f"rest {figures['sim_residual_ms_median']:.0f}; after ack "
          f"{figures['sim_post_ack_ms_median']:.0f} ms; CPU shares "
          + ", ".join(f"{k} {v:.0%}" for k, v in shares[:6])
          + f" ({time.perf_counter() - clock:.0f} s)", flush=True)


def _cpu_group(label: str) -> str:
    """CPU accounting group of a process label (actors by kind, Ray's own processes)."""
    for prefix in ("feed", "candidate"):
        if label.startswith(prefix):
            return f"{prefix}s"
    if label in ("store", "control", "guardian", "executor", "slot", "driver"):
        return label
    if label in ("raylet", "gcs_server"):
        return label
    if label.startswith("ray::"):
        return "other_workers"
    return "ray_other"


# --- in-process reference -------------------------------------------------------------------

class _Direct:
    """Stands in for an actor handle: ``handle.method.remote(...)`` calls the service."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._service, name)
        return type("_Remote", (), {"remote": staticmethod(method)})()


class _Maker:
    """Stands in for ``ActorClass.options(...)``: ``.remote(...)`` builds the plain service."""

    def __init__(self, actor_cls: Any) -> None:
        self._cls = actor_cls.__ray_metadata__.modified_class

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._cls(*args, **kwargs)


def inprocess_services(inputs: Any, names: Any) -> dict[str, Any]:
    """The session's services as plain objects, built by the tree's own factories.

    ``actors.live.tree.build_tree`` is called with actor options that construct the Python
    class instead of a Ray actor, so the arguments stay those of the real tree. The control
    actor (Ray metrics) is left out.
    """
    from unittest import mock

    import actors.live.tree as tree_module
    from supervisors.naming import child_actor_name

    def options(actor_cls: Any, _namespace: str) -> Any:
        return lambda _name: _Maker(actor_cls)

    with mock.patch.object(tree_module, "_options", options):
        spec = tree_module.build_tree(inputs, names)
    services = {}
    for sub in spec.children:
        for child in sub.children:
            name = child_actor_name(tree_module.PREFIX, f"{tree_module.ROOT}/{sub.name}",
                                    child.name)
            if name != names.control:
                services[name] = child.factory(name)
    return services


@contextlib.contextmanager
def direct_ray(services: dict[str, Any]) -> Any:
    """``ray.get_actor(name)`` returns the in-process service and ``ray.get`` its argument.

    Actor-to-actor calls (the guardian asking the executor, a strategy's warm-up from the
    feeds) then run in this process. Only used before this process starts Ray.
    """
    from unittest import mock

    import ray

    def get_actor(name: str, namespace: str | None = None) -> Any:
        if name not in services:
            raise ValueError(f"no in-process service named {name!r}")
        return _Direct(services[name])

    with mock.patch.object(ray, "get_actor", get_actor), \
            mock.patch.object(ray, "get", lambda value, **_kwargs: value):
        yield


def inprocess_session(loaded: Any, folder: Path, batch_bars: int, limit: int | None
                      ) -> tuple[int, float, dict[str, float]]:
    """Step the services in this process as ``SessionRunner.run`` steps the actors.

    Returns:
        (bars = timeline bars x symbols, seconds, seconds per part of the step).
    """
    from actors.live.records import candidate_records, live_records
    from actors.live.session import plan_session
    from actors.live.window import batch_bounds
    from core.trading.align import align_batch

    config = loaded.config
    symbols = tuple(config.data.symbols)
    plan = plan_session(loaded, "inprocess", folder, RAY_NAMESPACE)
    names, timeline, tf = plan.names, plan.timeline, plan.inputs.timeframe_ms
    services = inprocess_services(plan.inputs, names)
    feeds = [services[n] for n in names.feeds]
    slot, guardian, store = services[names.slot], services[names.guardian], services[names.store]
    candidates = [services[n] for n in names.candidates]
    store.open_session("inprocess", config_id=loaded.config_id, created_ts=int(timeline[0]))
    times = dict.fromkeys(("ingest", "signal", "guardian", "candidates", "store"), 0.0)
    last_close: list[float | None] = [None] * len(symbols)
    portfolio = None
    bounds = batch_bounds(timeline, batch_bars)[:limit]
    with direct_ray(services):
        started = time.perf_counter()
        for seq, (i0, i1) in enumerate(bounds):
            t0 = time.perf_counter()
            segment = timeline[i0:i1]
            slices = [f.slice(int(segment[0]), int(segment[-1]) + tf) for f in feeds]
            batch, stale = align_batch(seq, i0, segment, slices, config.data.venue, tf,
                                       last_close)
            last_close = [float(batch.close[-1, j]) for j in range(len(symbols))]
            t1 = time.perf_counter()
            slot_out = slot.on_batch(batch, portfolio)
            t2 = time.perf_counter()
            report = guardian.process(seq, batch, slot_out.signals, stale)
            t3 = time.perf_counter()
            reports = [c.on_batch(seq, batch) for c in candidates]
            t4 = time.perf_counter()
            latencies = {"ingest": (t1 - t0) * 1e3, "signal": (t2 - t1) * 1e3,
                         "risk": report.timings_ms.get("risk", 0.0),
                         "order": report.timings_ms.get("order", 0.0), "ack": (t3 - t0) * 1e3}
            records = [live_records(report, segment, slot_out.signals, slot_out.diary, (),
                                    latencies)]
            records += [candidate_records(r, segment) for r in reports]
            for r in records:
                store.append_batch(seq, r)
            t5 = time.perf_counter()
            portfolio = report.execution.outcome.portfolio
            for key, (a, b) in zip(times, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)),
                                   strict=True):
                times[key] += b - a
        elapsed = time.perf_counter() - started
    store.stop()
    return (bounds[-1][1] if bounds else 0) * len(symbols), elapsed, times


def bench_inprocess(work: Path, settings: Settings, figures: dict[str, Any]) -> None:
    """The throughput session's work in this process, without Ray (see the module doc).

    A failure here (the services changed shape) is reported and the benchmark goes on.
    """
    clock = time.perf_counter()
    duration = f"{settings.sim_bars}m" if settings.sim_bars is not None else "120d"
    loaded = write_config(work, settings.data_dir, name="inprocess", candidates=True,
                          batch_bars=settings.batch_bars, speed=None, duration=duration)
    try:
        # Untimed: imports, numba caches and first calls, on fresh services of their own.
        inprocess_session(loaded, work / "inprocess-warmup", settings.batch_bars, 2)
        bars, elapsed, times = inprocess_session(loaded, work / "inprocess",
                                                 settings.batch_bars, None)
    except Exception as exc:  # noqa: BLE001 - a reference only: say why and go on
        figures["inprocess_error"] = f"{type(exc).__name__}: {exc}"
        print(f"[in-process] reference skipped: {figures['inprocess_error']}", flush=True)
        return
    steps = math.ceil(bars / len(SYMBOLS) / settings.batch_bars)
    figures["inprocess_bars_per_s"] = bars / elapsed
    figures["inprocess_bars"] = bars
    for key, seconds in times.items():
        figures[f"inprocess_{key}_ms_per_step"] = seconds / steps * 1e3
        figures[f"inprocess_share_{key}"] = seconds / elapsed
    print(f"[in-process] same services, no Ray, one core: {bars:,} bars in {elapsed:.2f} s -> "
          f"{bars / elapsed:,.0f} bars/s; per step "
          + ", ".join(f"{k} {v / steps * 1e3:.0f} ms" for k, v in times.items())
          + f" ({time.perf_counter() - clock:.0f} s)", flush=True)


# --- paced session: latency, soak, restarts -------------------------------------------------

@dataclass
class Kill:
    """One kill of the restart test.

    Attributes:
        role: ``feed``, ``slot``, ``candidate``, ``guardian``, ``executor`` or ``store``.
        actor: Short actor name.
        method: ``ray.kill`` or ``SIGKILL``.
        at: Wall time of the kill (``time.time()``).
        restore_s: Kill -> a new actor of that name answered ``ping`` (NaN: not back).
        resume_s: Kill -> the first session step completed after the restore.
        detect_s: Kill -> its supervisor recorded the death (supervision events).
        spawn_s: Death recorded -> the supervisor created the new actor.
    """

    role: str
    actor: str
    method: str
    at: float = math.nan
    restore_s: float = math.nan
    resume_s: float = math.nan
    detect_s: float = math.nan
    spawn_s: float = math.nan

    @property
    def boot_s(self) -> float:
        """New actor created -> it answered ``ping`` (worker start, imports, ``__init__``)."""
        return self.restore_s - self.detect_s - self.spawn_s


@dataclass
class RssSample:
    """One soak sample.

    Attributes:
        t: ``time.perf_counter()``.
        seq: Last completed step.
        rss_mb: pid -> RSS (MB).
        checkpoint_kb: Total size of the session's checkpoint files.
        store_mb: Size of the session's SQLite file (with its WAL).
    """

    t: float
    seq: int
    rss_mb: dict[int, float]
    checkpoint_kb: float
    store_mb: float


class PacedBench:
    """Drives the paced session: phases, RSS sampling and the kills (background threads).

    Args:
        settings: The run's settings.
        names: The session's actor names.
        folder: The session folder.
    """

    def __init__(self, settings: Settings, names: Any, folder: Path) -> None:
        self.settings, self.names, self.folder = settings, names, folder
        self.stamps: list[float] = []
        self.steady_seq = -1
        self.steady_t = math.nan
        self.end_seq = -1
        self.end_t = math.nan
        self.steady = threading.Event()
        self.steady_done = threading.Event()
        self.finished = threading.Event()
        self.labels: dict[int, str] = {}
        self.titles: dict[int, str] = {}
        self.samples: list[RssSample] = []
        self.kills: list[Kill] = []
        self.errors: list[str] = []
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._chaos, daemon=True)]

    # driver thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sampler and the chaos threads (they wait for the session)."""
        for thread in self._threads:
            thread.start()

    def on_step(self, seq: int, result: Any) -> None:
        """The session's hook: record the step and move through the phases."""
        now = time.perf_counter()
        self.stamps.append(now)
        s = self.settings
        if not self.steady.is_set() and seq + 1 >= s.warmup_steps:
            self.labels = actor_pids(self.names.all(), RAY_NAMESPACE)
            self.steady_seq, self.steady_t = seq + 1, time.perf_counter()
            self.steady.set()
        elif self.steady.is_set() and not self.steady_done.is_set() \
                and seq - self.steady_seq + 1 >= s.latency_steps \
                and now - self.steady_t >= s.soak_s:
            self.end_seq, self.end_t = seq + 1, now
            self.steady_done.set()

    def join(self) -> None:
        """The session is over: stop and join the threads."""
        self.finished.set()
        self.steady.set()
        self.steady_done.set()
        for thread in self._threads:
            thread.join(timeout=RESTORE_TIMEOUT_S + 30)

    # sampler thread -----------------------------------------------------------------------

    def _sample(self) -> None:
        self.steady.wait()
        while not self.finished.is_set() and not self.steady_done.is_set():
            procs = ray_processes()
            self.titles.update({pid: title for pid, (_, title) in procs.items()})
            state = self.folder / "state"
            checkpoint = sum(p.stat().st_size for p in state.glob("*.pkl")) / 1e3 \
                if state.is_dir() else 0.0
            store = sum(p.stat().st_size for p in self.folder.glob("session.sqlite*")) / 1e6
            self.samples.append(RssSample(time.perf_counter(), len(self.stamps) - 1,
                                          rss_snapshot(procs), checkpoint, store))
            self.steady_done.wait(self.settings.sample_every_s)

    # chaos thread -------------------------------------------------------------------------

    def _chaos(self) -> None:
        import ray

        try:
            self.steady_done.wait()
            for i in range(self.settings.kills):
                if self.finished.is_set():
                    return
                self.kills.append(self._kill_one(i))
                if i + 1 < self.settings.kills:
                    self._wait_healthy()
        except Exception as exc:  # noqa: BLE001 - reported, and the session is stopped below
            self.errors.append(f"restart test: {type(exc).__name__}: {exc}")
        finally:
            if not self.finished.is_set():
                with contextlib.suppress(Exception):
                    control = ray.get_actor(self.names.control, namespace=RAY_NAMESPACE)
                    ray.get(control.request_stop.remote("benchmark done"), timeout=30)

    def target(self, i: int) -> tuple[str, str, str]:
        """(role, actor name, method) of kill ``i``: roles in turn, methods alternating."""
        role_index, round_ = i % len(KILL_ROLES), i // len(KILL_ROLES)
        role = KILL_ROLES[role_index]
        method = "SIGKILL" if (role_index + round_) % 2 == 0 else "ray.kill"
        names = self.names
        pick = {"feed": names.feeds[round_ % len(names.feeds)],
                "candidate": names.candidates[round_ % len(names.candidates)]
                if names.candidates else names.slot,
                "slot": names.slot, "guardian": names.guardian, "executor": names.executor,
                "store": names.store}
        return role, pick[role], method

    def _kill_one(self, i: int) -> Kill:
        import ray

        from supervisors.actor_ops import actor_id

        role, name, method = self.target(i)
        handle = ray.get_actor(name, namespace=RAY_NAMESPACE)
        old = actor_id(handle)
        pid = int(ray.get(handle.pid.remote(), timeout=30))
        kill = Kill(role, short_name(name), method, at=time.time())
        started = time.perf_counter()
        if method == "SIGKILL":
            os.kill(pid, signal.SIGKILL)
        else:
            ray.kill(handle, no_restart=True)
        restored = wait_restored(name, old, started + RESTORE_TIMEOUT_S)
        kill.restore_s = restored - started
        deadline = time.perf_counter() + RESTORE_TIMEOUT_S
        while not self.finished.is_set() and time.perf_counter() < deadline:
            after = [t for t in self.stamps[-50:] if t > restored]
            if after:
                kill.resume_s = after[0] - started
                break
            time.sleep(RESTORE_POLL_S)
        print(f"[restart] {kill.method} {kill.actor}: back in {kill.restore_s:.2f} s, session "
              f"stepping again after {kill.resume_s:.2f} s", flush=True)
        return kill

    def _wait_healthy(self) -> None:
        """Every actor answers and the session stepped again; then a short pause."""
        from actors.live.calls import ActorDirectory

        directory = ActorDirectory(RAY_NAMESPACE, RESTORE_TIMEOUT_S)
        directory.call_many([(n, "ping", (), {}) for n in self.names.all()])
        mark = time.perf_counter()
        deadline = mark + RESTORE_TIMEOUT_S
        while not self.finished.is_set() and time.perf_counter() < deadline:
            if self.stamps and self.stamps[-1] > mark:
                break
            time.sleep(RESTORE_POLL_S)
        time.sleep(SETTLE_S)


def wait_restored(name: str, old_id: str, deadline: float) -> float:
    """Poll until an actor named ``name`` other than ``old_id`` answers ``ping``.

    Returns:
        ``time.perf_counter()`` of the answer, NaN if none came before ``deadline``.
    """
    import ray
    from ray.exceptions import RayError

    from supervisors.actor_ops import actor_id

    pending = None
    while time.perf_counter() < deadline:
        if pending is None:
            try:
                handle = ray.get_actor(name, namespace=RAY_NAMESPACE)
            except ValueError:
                handle = None
            if handle is not None and actor_id(handle) != old_id:
                pending = handle.ping.remote()
            else:
                time.sleep(RESTORE_POLL_S)
                continue
        ready, _ = ray.wait([pending], timeout=RESTORE_POLL_S)
        if ready:
            try:
                ray.get(pending)
            except RayError:
                pending = None  # that incarnation died too: look the name up again
                continue
            return time.perf_counter()
    return math.nan


def bench_paced(work: Path, settings: Settings, figures: dict[str, Any]) -> None:
    """One paced session: latency, then the soak, then the restart test.

    Raises:
        BenchError: The session failed.
    """
    from actors.live.run import run_session
    from core.errors import EvotraderError

    clock = time.perf_counter()
    speed = settings.steps_per_s * BAR_SECONDS
    loaded = write_config(work, settings.data_dir, name="paced", candidates=True,
                          batch_bars=settings.batch_bars, speed=speed, duration="120d")
    session_id = "paced"
    folder = work / "sessions" / session_id
    bench = PacedBench(settings, session_names(loaded), folder)
    bench.start()
    print(f"[paced] speed {speed:g} ({settings.steps_per_s:g} steps/s): warm-up "
          f"{settings.warmup_steps} steps, latency {settings.latency_steps} steps, soak "
          f"{settings.soak_s / 60:g} min (RSS every {settings.sample_every_s:g} s), then "
          f"{settings.kills} kills", flush=True)
    called = time.perf_counter()
    try:
        result = run_session(loaded, session_id=session_id, on_step=bench.on_step, quiet=True)
    except EvotraderError as exc:
        raise BenchError(f"paced session failed: {exc}") from exc
    finally:
        bench.join()
    figures["paced_session_s"] = time.perf_counter() - called
    figures["paced_stop_reason"] = result.stop_reason
    figures["paced_steps"] = result.steps
    figures["paced_retries"] = sum(result.retries.values())
    figures["paced_speed"] = speed
    figures["paced_steps_per_s_target"] = settings.steps_per_s
    figures["paced_errors"] = "; ".join(bench.errors)
    attach_supervision(bench.kills, folder / "session.sqlite")
    if bench.end_seq < 0:
        raise BenchError(f"the paced session stopped before the soak ended "
                         f"({result.stop_reason}, {result.steps} steps)")
    report_latency(bench, result.latencies_ms, settings, figures)
    report_soak(bench, result.latencies_ms, figures)
    report_restarts(bench, figures)
    print(f"[paced] {result.steps} steps, stopped: {result.stop_reason}; calls retried "
          f"{figures['paced_retries']} ({time.perf_counter() - clock:.0f} s)", flush=True)


def attach_supervision(kills: list[Kill], store_path: Path) -> None:
    """Fill each kill's detection and spawn times from the session's supervision events."""
    from actors.adapters.session_store import SessionStore

    if not kills or not store_path.is_file():
        return
    store = SessionStore(store_path)
    try:
        events = store.supervisor_events()
    finally:
        store.close()
    for kill in kills:
        mine = [e for e in events if e.child == kill.actor and e.ts >= kill.at * 1e3 - 50]
        died = next((e for e in mine if e.kind in ("died", "unhealthy")), None)
        if died is None:
            continue
        kill.detect_s = died.ts / 1e3 - kill.at
        born = next((e for e in mine if e.kind == "restarted" and e.ts >= died.ts), None)
        if born is not None:
            kill.spawn_s = (born.ts - died.ts) / 1e3


def report_latency(bench: PacedBench, latencies: list[dict[str, float]], settings: Settings,
                   figures: dict[str, Any]) -> None:
    """Latency figures of the first ``latency_steps`` steps after the warm-up."""
    start = bench.steady_seq
    window = latencies[start:start + settings.latency_steps]
    gaps = np.diff(bench.stamps[start:start + settings.latency_steps + 1]) * 1e3
    stages = step_stages(window, [math.nan] * len(window))
    ack = stages["ack"]
    figures["latency_steps"] = len(window)
    figures["latency_p50_ms"] = percentile(ack, 50)
    figures["latency_p90_ms"] = percentile(ack, 90)
    figures["latency_p99_ms"] = percentile(ack, 99)
    figures["latency_max_ms"] = max(ack)
    for stage in (*STAGES[:-1], "residual"):
        figures[f"latency_{stage}_p50_ms"] = percentile(stages[stage], 50)
        figures[f"latency_{stage}_p99_ms"] = percentile(stages[stage], 99)
    figures["paced_step_interval_p50_ms"] = percentile(gaps.tolist(), 50)
    figures["paced_step_interval_p99_ms"] = percentile(gaps.tolist(), 99)
    span = bench.end_t - bench.steady_t
    figures["paced_steps_per_s_achieved"] = (bench.end_seq - bench.steady_seq) / span
    print(f"[latency] {len(window)} steps: ack p50 {figures['latency_p50_ms']:.1f} ms, p90 "
          f"{figures['latency_p90_ms']:.1f}, p99 {figures['latency_p99_ms']:.1f}, max "
          f"{figures['latency_max_ms']:.0f}; p50 per stage: "
          + ", ".join(f"{k} {figures[f'latency_{k}_p50_ms']:.1f}"
                      for k in (*STAGES[:-1], "residual"))
          + f" ms; step interval p50 {figures['paced_step_interval_p50_ms']:.0f} ms; "
          f"{figures['paced_steps_per_s_achieved']:.1f} steps/s achieved of "
          f"{settings.steps_per_s:g}", flush=True)


def report_soak(bench: PacedBench, latencies: list[dict[str, float]],
                figures: dict[str, Any]) -> None:
    """RSS growth over the soak, per process, and the files and latency at both ends."""
    samples = bench.samples
    figures["soak_minutes"] = (bench.end_t - bench.steady_t) / 60.0
    figures["soak_samples"] = len(samples)
    figures["soak_steps"] = bench.end_seq - bench.steady_seq
    if len(samples) < 2:
        figures["soak_rss_growth_fraction"] = math.nan
        return
    totals = [sum(s.rss_mb.values()) for s in samples]
    first, last = edge_medians(totals)
    figures["soak_rss_growth_fraction"] = (last - first) / first
    figures["soak_rss_mb_first"] = first
    figures["soak_rss_mb_last"] = last
    figures["soak_processes"] = len(samples[-1].rss_mb)
    k = max(1, round(0.1 * len(samples)))
    growth: dict[str, float] = {}
    for pid in set(samples[0].rss_mb) & set(samples[-1].rss_mb):
        a = median([s.rss_mb[pid] for s in samples[:k] if pid in s.rss_mb])
        b = median([s.rss_mb[pid] for s in samples[-k:] if pid in s.rss_mb])
        key = label_of(pid, bench.labels, bench.titles)
        growth[key] = growth.get(key, 0.0) + (b - a)
    groups: dict[str, list[float]] = {}
    for sample in samples:
        parts: dict[str, float] = {}
        for pid, rss in sample.rss_mb.items():
            group = _soak_group(pid, bench)
            parts[group] = parts.get(group, 0.0) + rss
        for group, rss in parts.items():
            groups.setdefault(group, []).append(rss)
    for group, series in sorted(groups.items()):
        if len(series) == len(samples):
            a, b = edge_medians(series)
            figures[f"soak_rss_group_mb_{group}_first"] = a
            figures[f"soak_rss_group_growth_mb_{group}"] = b - a
    ours = [sum(rss for pid, rss in s.rss_mb.items()
                if _soak_group(pid, bench) in ("driver", "actors", "other_workers"))
            for s in samples]
    a, b = edge_medians(ours)
    figures["soak_rss_growth_fraction_excl_ray_system"] = (b - a) / a
    top = sorted(growth.items(), key=lambda kv: -kv[1])
    figures["soak_rss_growth_mb_top"] = ", ".join(f"{k} {v:+.1f}" for k, v in top[:6])
    for key, value in growth.items():
        if key in ("driver", "raylet", "gcs_server", "store", "guardian", "executor", "slot",
                   "control") or key.startswith(("feed", "candidate")):
            figures[f"soak_rss_growth_mb_{key}"] = value
    figures["soak_checkpoint_kb_first"] = samples[0].checkpoint_kb
    figures["soak_checkpoint_kb_last"] = samples[-1].checkpoint_kb
    figures["soak_store_mb_first"] = samples[0].store_mb
    figures["soak_store_mb_last"] = samples[-1].store_mb
    steady = [lat["ack"] for lat in latencies[bench.steady_seq:bench.end_seq]]
    head, tail = edge_medians(steady)
    figures["soak_latency_p50_ms_first"] = head
    figures["soak_latency_p50_ms_last"] = tail
    k_steps = max(1, round(0.1 * len(steady)))
    figures["soak_latency_p99_ms_first"] = percentile(steady[:k_steps], 99)
    figures["soak_latency_p99_ms_last"] = percentile(steady[-k_steps:], 99)
    figures["soak_latency_p99_ms"] = percentile(steady, 99)
    figures["soak_latency_p50_ms"] = percentile(steady, 50)
    print(f"[soak] {figures['soak_minutes']:.2f} min, {len(samples)} samples of "
          f"{figures['soak_processes']} processes: RSS {first:,.0f} -> {last:,.0f} MB "
          f"({figures['soak_rss_growth_fraction']:+.2%}); biggest growth (MB): "
          f"{figures['soak_rss_growth_mb_top']}; checkpoints "
          f"{figures['soak_checkpoint_kb_first']:,.0f} -> "
          f"{figures['soak_checkpoint_kb_last']:,.0f} kB, store "
          f"{figures['soak_store_mb_first']:.1f} -> {figures['soak_store_mb_last']:.1f} MB; ack "
          f"p50 {head:.1f} -> {tail:.1f} ms", flush=True)


def _soak_group(pid: int, bench: PacedBench) -> str:
    """The soak's memory group of a process.

    Returns:
        ``driver``, ``actors`` (the session's actors), ``other_workers`` (supervisors, idle
        workers), ``gcs_server``, ``raylet`` or ``ray_other`` (log monitor, agents, ...).
    """
    if pid in bench.labels:
        return "actors"
    title = bench.titles.get(pid, "")
    if title == "driver" or title in ("gcs_server", "raylet"):
        return title
    if title.startswith("ray::") and not title.endswith("Agent"):
        return "other_workers"
    return "ray_other"


def report_restarts(bench: PacedBench, figures: dict[str, Any]) -> None:
    """Restart figures: medians over the kills, per role and method."""
    kills = bench.kills
    restore = [k.restore_s for k in kills if math.isfinite(k.restore_s)]
    resume = [k.resume_s for k in kills if math.isfinite(k.resume_s)]
    figures["restart_kills"] = len(kills)
    figures["restart_failed"] = len(kills) - len(restore)
    figures["restart_median_s"] = median(restore)
    figures["restart_min_s"] = min(restore) if restore else math.nan
    figures["restart_max_s"] = max(restore) if restore else math.nan
    figures["restart_resume_median_s"] = median(resume)
    figures["restart_resume_max_s"] = max(resume) if resume else math.nan
    for method in ("SIGKILL", "ray.kill"):
        values = [k.restore_s for k in kills if k.method == method and math.isfinite(k.restore_s)]
        if values:
            figures[f"restart_median_s_{method.replace('.', '_').lower()}"] = median(values)
    for role in KILL_ROLES:
        values = [k.restore_s for k in kills if k.role == role and math.isfinite(k.restore_s)]
        if values:
            figures[f"restart_{role}_s"] = median(values)
    for part in ("detect", "spawn", "boot"):
        values = [getattr(k, f"{part}_s") for k in kills]
        figures[f"restart_{part}_median_s"] = median([v for v in values if math.isfinite(v)])
    figures["restart_list"] = ", ".join(
        f"{k.method} {k.actor} {k.restore_s:.2f} (detect {k.detect_s:.2f} + spawn "
        f"{k.spawn_s:.2f} + boot {k.boot_s:.2f}; stepping {k.resume_s:.2f})" for k in kills)
    if kills:
        print(f"[restart] {len(kills)} kills: back (new actor answers ping) median "
              f"{figures['restart_median_s']:.2f} s, max {figures['restart_max_s']:.2f} s "
              f"(median detect {figures['restart_detect_median_s']:.2f} s + spawn "
              f"{figures['restart_spawn_median_s']:.2f} s + new worker boot "
              f"{figures['restart_boot_median_s']:.2f} s); session stepping again median "
              f"{figures['restart_resume_median_s']:.2f} s, max "
              f"{figures['restart_resume_max_s']:.2f} s", flush=True)


# --- Ray ------------------------------------------------------------------------------------

def bench_ray_call(figures: dict[str, Any]) -> None:
    """Median and p99 of a no-op call to a Ray actor on this instance (reference)."""
    import ray

    @ray.remote(num_cpus=0)
    class Echo:
        def ping(self) -> str:
            return "ok"

    echo = Echo.remote()  # type: ignore[attr-defined]
    ray.get(echo.ping.remote(), timeout=120)
    times = []
    for _ in range(RAY_CALL_PROBE_CALLS):
        start = time.perf_counter()
        ray.get(echo.ping.remote())
        times.append((time.perf_counter() - start) * 1e3)
    ray.kill(echo)
    figures["ray_call_ms_p50"] = percentile(times, 50)
    figures["ray_call_ms_p99"] = percentile(times, 99)
    print(f"[ray] no-op actor call: p50 {figures['ray_call_ms_p50']:.2f} ms, p99 "
          f"{figures['ray_call_ms_p99']:.2f} ms ({RAY_CALL_PROBE_CALLS} calls)", flush=True)


def bench_import_probe(figures: dict[str, Any]) -> None:
    """Time a fresh interpreter's import of the actor modules.

    Every new worker of the tree (actor or supervisor) pays this before it can answer.
    """
    import subprocess

    code = ("import time; t = time.perf_counter(); import " + IMPORT_PROBE_MODULE
            + "; print(time.perf_counter() - t)")
    times = []
    for _ in range(IMPORT_PROBE_RUNS):
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        with contextlib.suppress(ValueError, IndexError):
            times.append(float(done.stdout.strip().splitlines()[-1]))
    if times:
        figures["worker_import_s"] = median(times)
        print(f"[import] fresh interpreter: import {IMPORT_PROBE_MODULE} "
              f"{figures['worker_import_s']:.2f} s (median of {len(times)})", flush=True)


def local_ray_settings() -> dict[str, Any]:
    """Apply the settings ``actors.live.run.connect_cluster`` gives a local Ray it starts.

    The live system caps the task events Ray's GCS keeps (``GCS_TASK_EVENTS_ENV``); the
    benchmark's Ray gets the same, so the soak measures the system as it runs.

    Returns:
        ``{"ray_task_events_max": value}`` (``"ray default"`` when neither sets one).
    """
    import actors.live.run as live_run

    name = getattr(live_run, "GCS_TASK_EVENTS_ENV", None)
    value = getattr(live_run, "GCS_TASK_EVENTS", None)
    if name and value is not None:
        os.environ.setdefault(name, str(value))
    return {"ray_task_events_max": os.environ.get(name or "", "ray default")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and return the flat figures.

    Raises:
        UsageError: On bad sizes or missing data.
        BenchError: A session failed.
    """
    settings = resolve_settings(args)
    figures: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "quick": settings.quick,
        "date": time.strftime("%Y-%m-%d"),
        "symbols": ",".join(SYMBOLS),
        "timeframe": TIMEFRAME,
        "candidates": 3,
    }
    info = machine_info()
    figures.update(info)
    print(f"command: {figures['command']}")
    print(f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), {info['memory_gb']} GiB, "
          f"load {info['load_avg_1m_at_start']}, Python {info['python']}, Ray {info['ray']}")
    print(f"data: {settings.data_dir} ({', '.join(SYMBOLS)} {TIMEFRAME})", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench_actors_"))
    try:
        if settings.probes:
            bench_import_probe(figures)
        if settings.inprocess:
            bench_inprocess(work, settings, figures)
        from actors.research.ray_runtime import connect

        figures.update(local_ray_settings())
        clock = time.perf_counter()
        handle = connect(None, num_cpus=RAY_CPUS, object_store_memory=RAY_OBJECT_STORE_BYTES,
                         namespace=RAY_NAMESPACE, include_dashboard=False)
        figures["ray_start_s"] = time.perf_counter() - clock
        print(f"[ray] local instance ({RAY_CPUS} CPUs) started in {figures['ray_start_s']:.1f} s",
              flush=True)
        try:
            if settings.probes:
                bench_ray_call(figures)
            bench_throughput(work, settings, figures)
            bench_paced(work, settings, figures)
        finally:
            handle.shutdown()
    finally:
        if settings.keep:
            print(f"session folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if "sim_bars_per_s" in figures and "inprocess_bars_per_s" in figures:
        figures["sim_vs_inprocess"] = figures["sim_bars_per_s"] / figures["inprocess_bars_per_s"]
    return figures


# --- report ---------------------------------------------------------------------------------

def goal_met(key: str, value: float) -> bool:
    """Whether ``value`` meets the issue's goal for figure ``key`` (NaN never does)."""
    op, bound, _ = GOALS[key]
    if not math.isfinite(value):
        return False
    return bool(value >= bound) if op == ">=" else bool(value < bound)


def _shown(key: str, value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    if "bars_per_s" in key:
        return f"{value:,.0f} bars/s"
    if "fraction" in key:
        return f"{value:+.2%}"
    if key.endswith("_ms") or "_ms_" in key:
        return f"{value:.1f} ms"
    if key.endswith("_s"):
        return f"{value:.2f} s"
    return f"{value:.3g}"


def goal_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal or reference, PASS/FAIL) rows for the summary table."""
    references = {
        "sim_bars_per_s": f"ref: backtesting.py ~{REFERENCE_BACKTESTING_PY_BARS_PER_S:,.0f}",
        "latency_p50_ms": f"ref: Ray actor call {REFERENCE_RAY_CALL_MS[0]:g} ms p50",
        "latency_p99_ms": f"ref: Ray actor call {REFERENCE_RAY_CALL_MS[1]:g} ms p99",
        "ray_call_ms_p50": f"ref: {REFERENCE_RAY_CALL_MS[0]:g} ms",
        "ray_call_ms_p99": f"ref: {REFERENCE_RAY_CALL_MS[1]:g} ms",
    }
    rows = []
    for key in (
        "sim_bars_per_s", "sim_bars_per_s_no_candidates", "inprocess_bars_per_s",
        "latency_p50_ms", "latency_p99_ms", "latency_residual_p50_ms",
        "soak_latency_p50_ms_first", "soak_latency_p50_ms_last",
        "restart_median_s", "restart_max_s", "restart_resume_median_s",
        "soak_rss_growth_fraction", "ray_call_ms_p50", "ray_call_ms_p99",
    ):
        if key not in figures:
            continue
        value = figures[key]
        goal, verdict = "", ""
        if key in GOALS:
            goal = GOALS[key][2]
            verdict = "PASS" if goal_met(key, value) else "FAIL"
        if key in references:
            goal = f"{goal}; {references[key]}" if goal else references[key]
        rows.append((key, _shown(key, value), goal, verdict))
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Print the summary table."""
    header = ("figure", "value", "goal / reference", "result")
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
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
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
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures["elapsed_s"] = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    for key in GOALS:
        if key in figures:
            figures[f"goal_{key}_met"] = goal_met(key, figures[key])
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
